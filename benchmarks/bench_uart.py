"""UART runtime: wire efficiency, sustained spike throughput and per-step round-trip latency.

Peer: a NeuroCoreX-style stream of 3-byte events [delta-t, address low, address high]
(FACTS.md), encoded here for the same spike trains.

A bare pseudo-terminal does not limit the rate, so line-rate figures are first computed from
the byte counts: 8N1 puts 10 bits on the wire per byte, so a link of B baud carries B / 10
bytes/s.  Measured over the bare pty: host + virtual board wall time for streamed runs (the
golden model's step time included) and the round trip of a one-step run.  Then the same
streams and round trips go through a line paced at 1 and 3 Mbaud (``LineRelay``, full
duplex), which measures what the protocol sustains when the line is the limit.  Medians of
repeats; the machine is shared, so read ratios rather than absolute times.

    python -m benchmarks.bench_uart
"""

from __future__ import annotations

import contextlib
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np

from toolchain.boardsim.virtual import ServedBoard
from toolchain.runtime import protocol as p
from toolchain.runtime.session import BLOCK_STEPS, Session
from toolchain.runtime.transport import BITS_PER_BYTE_8N1
from toolchain.targets.fpga.image import CoreImage
from toolchain.targets.fpga.spec import ICE40UP5K, CoreSpec

BAUDS = (1_000_000, 3_000_000)
STEPS = 2000
RATES = (0.2, 1.0, 4.0, 16.0)  # mean spikes per step


def neurocorex_bytes(steps: list[np.ndarray]) -> int:
    """Bytes of a 3-byte-event stream: each spike [dt, lo, hi]; dt is 8 bits, so a silence
    longer than 255 steps costs a filler event."""
    total, gap = 0, 0
    for ids in steps:
        if ids.size == 0:
            gap += 1
            continue
        total += 3 * (gap // 256)
        total += 3 * ids.size
        gap = 0
    return total


def protocol_bytes(steps: list[np.ndarray], id_bits: int) -> int:
    """Wire bytes of our INPUT frames (COBS, CRC, header and delimiter included)."""
    return sum(len(p.encode_frame(p.FrameType.INPUT, 0, b.encode(id_bits)))
               for b in p.split_spike_blocks(0, steps, id_bits, max_steps=BLOCK_STEPS))


def poisson_steps(n_ids: int, rate: float, n_steps: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    counts = np.minimum(rng.poisson(rate, n_steps), n_ids)
    return [np.sort(rng.choice(n_ids, c, replace=False)).astype(np.int32) for c in counts]


def efficiency_table() -> None:
    print("\nWire cost per spike (input stream, Poisson, 2000 steps)")
    print(f"{'ids':>5} {'id B':>4} {'spikes/step':>12} {'ours B/spike':>13} {'3-byte B/spike':>15} "
          f"{'ratio':>7} " + " ".join(f"{f'max spikes/s @{b // 10**6}M':>19}" for b in BAUDS))
    for n_ids in (128, 1024):
        id_bits = (n_ids - 1).bit_length()
        for rate in RATES:
            steps = poisson_steps(n_ids, rate, STEPS, seed=int(rate * 10))
            spikes = sum(s.size for s in steps)
            ours = protocol_bytes(steps, id_bits) / spikes
            peer = neurocorex_bytes(steps) / spikes
            caps = " ".join(f"{b / BITS_PER_BYTE_8N1 / ours:>19,.0f}" for b in BAUDS)
            print(f"{n_ids:>5} {p.id_bytes_of(id_bits):>4} {rate:>12.1f} {ours:>13.2f} "
                  f"{peer:>15.2f} {peer / ours:>6.2f}x {caps}")


def echo_image(spec: CoreSpec, n: int) -> CoreImage:
    """Input k drives neuron k over threshold in one step: output mirrors input one step
    later, so spikes in = spikes out."""
    neurons = {"v_thresh": np.full(n, 10), "v_reset": np.zeros(n, np.int64),
               "bias": np.zeros(n, np.int64), "leak_shift": np.zeros(n, np.int64),
               "syn_shift": np.zeros(n, np.int64), "refrac": np.zeros(n, np.int64)}
    image, _ = CoreImage.from_synapses(
        neurons=neurons, n_inputs=n, source=n + np.arange(n), target=np.arange(n),
        weight=np.full(n, 100), delay=np.ones(n, np.int64), plastic=np.zeros(n, bool))
    return image


def throughput_table(session: Session, spec: CoreSpec) -> None:
    n = 100
    session.load(echo_image(spec, n), spec)
    print(f"\nSustained streaming over the pty (virtual board '{spec.name}', echo network: "
          f"every input spike returns as an output spike; {STEPS} steps, median of 3)")
    print(f"{'spikes/step':>12} {'wall s':>8} {'steps/s':>9} {'spikes/s in':>12} "
          f"{'bytes out+in':>13} " + " ".join(f"{f'line s @{b // 10**6}M':>12}" for b in BAUDS)
          + f" {'bound':>8}")
    for rate in RATES:
        steps = poisson_steps(n, rate, STEPS, seed=7)
        walls, moved = [], 0
        for _ in range(3):
            w0, r0 = session.link.bytes_written, session.link.bytes_read
            t0 = time.perf_counter()
            result = session.run(STEPS, steps)
            walls.append(time.perf_counter() - t0)
            moved = session.link.bytes_written - w0 + session.link.bytes_read - r0
            # step k's input returns in step k + 1 (the first step echoes the previous run)
            echoed = sum(int(s.size) for s in result.steps[1:])
            if echoed != sum(s.size for s in steps[:-1]):
                raise RuntimeError(f"echo network returned {echoed} spikes, expected "
                                   f"{sum(s.size for s in steps[:-1])}")
        wall = statistics.median(walls)
        spikes = sum(s.size for s in steps)
        # a real UART is full duplex: the busier direction bounds the rate; both counted here
        line = [moved / 2 * BITS_PER_BYTE_8N1 / b for b in BAUDS]
        bound = "line@1M" if line[0] > wall else "host"
        print(f"{rate:>12.1f} {wall:>8.2f} {STEPS / wall:>9,.0f} {spikes / wall:>12,.0f} "
              f"{moved:>13,} " + " ".join(f"{x:>12.3f}" for x in line) + f" {bound:>8}")


@contextlib.contextmanager
def paced_board(spec: CoreSpec, baud: int) -> Iterator[str]:
    """A virtual board behind a line paced at ``baud``, in its own process: in this one its
    relay threads would wait for the host's turn of the interpreter lock and pace the line
    slower than the baud."""
    proc = subprocess.Popen([sys.executable, "-m", "toolchain.boardsim.virtual", "--preset",
                             spec.name, "--line-baud", str(baud)], stdout=subprocess.PIPE,
                            text=True)
    try:
        yield proc.stdout.readline().strip()  # type: ignore[union-attr]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def paced_table(spec: CoreSpec) -> None:
    """The same echo streams through a line paced like a UART at each baud (LineRelay): what
    the protocol sustains when the line, not the host, is the limit."""
    n = 100
    print(f"\nSustained streaming through a paced 8N1 line (virtual board '{spec.name}' in its "
          f"own process, echo network, {STEPS} steps, median of 5; spikes in = spikes out)")
    print(f"{'baud':>9} {'spikes/step':>12} {'wall s':>7} {'spikes/s':>9} {'B out':>7} "
          f"{'B in':>7} {'line s':>7} {'line use':>9} {'3-byte max':>11} {'vs 3-byte':>10}")
    for baud in BAUDS:
        with paced_board(spec, baud) as path, Session.open(path, baud=baud) as session:
            session.load(echo_image(spec, n), spec)
            for rate in RATES:
                steps = poisson_steps(n, rate, STEPS, seed=7)
                walls, out_b, in_b = [], 0, 0
                for _ in range(5):
                    w0, r0 = session.link.bytes_written, session.link.bytes_read
                    t0 = time.perf_counter()
                    session.run(STEPS, steps)
                    walls.append(time.perf_counter() - t0)
                    out_b = session.link.bytes_written - w0
                    in_b = session.link.bytes_read - r0
                wall = statistics.median(walls)
                spikes = sum(s.size for s in steps)
                # full duplex: the busier direction is the one the line limits
                line = max(out_b, in_b) * BITS_PER_BYTE_8N1 / baud
                events = baud / BITS_PER_BYTE_8N1 / 3  # 3-byte events, one direction
                print(f"{baud:>9,} {rate:>12.1f} {wall:>7.3f} {spikes / wall:>9,.0f} "
                      f"{out_b:>7,} {in_b:>7,} {line:>7.3f} {line / wall:>8.0%} "
                      f"{events:>11,.0f} {spikes / wall / events:>9.2f}x")
    print("(line use: busier direction's line time / wall time; 3-byte max: spikes/s a "
          "NeuroCoreX-style event stream could carry at that baud with nothing else on the "
          "line; at low rates the run is bound by steps, not by the line)")


def paced_latency(spec: CoreSpec) -> list[float]:
    """Median round trip of a one-step streamed run through a paced line, per baud (ms)."""
    out = []
    one = [np.array([3, 40], np.int32)]
    for baud in BAUDS:
        with paced_board(spec, baud) as path, Session.open(path, baud=baud) as session:
            session.load(echo_image(spec, 100), spec)
            times = []
            for _ in range(40):
                t0 = time.perf_counter()
                session.run(1, one)
                times.append(time.perf_counter() - t0)
        out.append(statistics.median(times) * 1e3)
    return out


def latency_table(session: Session, spec: CoreSpec) -> None:
    session.load(echo_image(spec, 100), spec)
    one = [np.array([3, 40], np.int32)]
    times, sizes = [], []
    for _ in range(60):
        w0, r0 = session.link.bytes_written, session.link.bytes_read
        t0 = time.perf_counter()
        session.run(1, one)
        times.append(time.perf_counter() - t0)
        sizes.append(session.link.bytes_written - w0 + session.link.bytes_read - r0)
    med = statistics.median(times) * 1e3
    nbytes = statistics.median(sizes)
    paced = paced_latency(spec)
    print("\nRound trip of one streamed step (RUN + ACK + INPUT + OUTPUT + CREDIT), median of 60 "
          "(unpaced) and 40 (paced)")
    print(f"{'pty ms':>7} {'bytes':>6} " + " ".join(
        f"{f'line ms @{b // 10**6}M':>14} {f'paced ms @{b // 10**6}M':>15}" for b in BAUDS))
    print(f"{med:>7.2f} {nbytes:>6.0f} " + " ".join(
        f"{nbytes * BITS_PER_BYTE_8N1 / b * 1e3:>14.3f} {ms:>15.2f}"
        for b, ms in zip(BAUDS, paced, strict=True)))
    print("(pty: no line limit, the golden model's step included; line ms: the bytes' time on "
          "the wire; paced: measured through a line paced at that baud)")


def gateware_table(spec: CoreSpec, n_steps: int = 500) -> None:
    """The echo network streamed through the device's Verilog under Verilator (rtl-sim:
    protocol engine and core in gateware, bits on the UART pins), against the virtual board
    in the same run: what a simulated-RTL hardware-in-the-loop test costs."""
    from toolchain.boardsim.verilator_board import VerilatorBoard

    print(f"\nGateware under Verilator (rtl-sim, '{spec.name}', UART pins at the device's "
          f"baud) vs the virtual board, echo network, {n_steps} steps, median of 3")
    print(f"{'spikes/step':>12} {'board':>8} {'wall s':>8} {'steps/s':>9} {'spikes/s':>10} "
          f"{'x virtual':>10}")
    n = 100
    rows: dict[float, dict[str, float]] = {}
    for name, make in (("virtual", lambda: ServedBoard(spec, input_slots=7, output_window=7)),
                       ("rtl-sim", lambda: VerilatorBoard(spec))):
        with make() as served, Session.open(served.path) as session:
            session.load(echo_image(spec, n), spec)
            for rate in (1.0, 4.0):
                steps = poisson_steps(n, rate, n_steps, seed=9)
                walls = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    result = session.run(n_steps, steps)
                    walls.append(time.perf_counter() - t0)
                echoed = sum(int(s.size) for s in result.steps[1:])
                if echoed != sum(s.size for s in steps[:-1]):
                    raise RuntimeError(f"{name}: echo network returned {echoed} spikes")
                rows.setdefault(rate, {})[name] = statistics.median(walls)
    for rate, walls in rows.items():
        spikes = rate * n_steps
        for name, wall in walls.items():
            print(f"{rate:>12.1f} {name:>8} {wall:>8.2f} {n_steps / wall:>9,.0f} "
                  f"{spikes / wall:>10,.0f} {wall / walls['virtual']:>9.1f}x")


def main() -> None:
    efficiency_table()
    gateware_table(ICE40UP5K)
    spec = ICE40UP5K
    with ServedBoard(spec, input_slots=8) as served, Session.open(served.path) as session:
        throughput_table(session, spec)
        latency_table(session, spec)
    paced_table(spec)


if __name__ == "__main__":
    main()
