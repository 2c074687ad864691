"""Host sessions against a board (the virtual one by default: see --board): every run is
compared spike for spike, and every learnt weight, with the golden model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import neo
import numpy as np
import pytest
import quantities as pq

from tests.runtime.conftest import (
    BoardEndpoint,
    golden,
    random_image,
    random_inputs,
    same_spikes,
)
from toolchain.runtime import protocol as p
from toolchain.runtime.session import BoardError, BuildMismatchError, Session
from toolchain.targets.fpga.spec import CoreSpec

pytestmark = pytest.mark.hil


def test_handshake_reports_the_build(board_session: Session, spec: CoreSpec) -> None:
    info = board_session.info
    assert info is not None and info.spec() == spec
    assert info.build_id == p.spec_build_id(spec)


def test_streamed_run_matches_golden_model_with_stdp(board_session: Session,
                                                     spec: CoreSpec) -> None:
    image = random_image(spec, seed=1)
    inputs = random_inputs(image.n_inputs, 200, seed=2)
    want, want_w = golden(spec, image, inputs)
    board_session.load(image, spec)
    seen: list[int] = []
    result = board_session.run(200, inputs, on_step=lambda step, ids: seen.append(step))
    assert result.n_spikes > 50  # the comparison means something
    assert same_spikes(result.steps, want)
    assert seen == list(range(200))
    got_w = board_session.weights()
    assert not np.array_equal(got_w, image.syn_weight)  # STDP changed weights ...
    assert np.array_equal(got_w, want_w)  # ... exactly as the golden model did


def test_run_continues_across_calls(board_session: Session, spec: CoreSpec) -> None:
    image = random_image(spec, seed=3)
    inputs = random_inputs(image.n_inputs, 120, seed=4)
    want, _ = golden(spec, image, inputs)
    board_session.load(image, spec)
    first = board_session.run(50, inputs[:50])
    second = board_session.run(70, iter(inputs[50:]))  # a live iterator works too
    assert second.first_step == 50
    assert same_spikes(first.steps + second.steps, want)


def test_unstreamed_and_free_runs_match(board_session: Session, spec: CoreSpec) -> None:
    image = random_image(spec, seed=5, bias=30)  # bias alone makes neurons fire
    want, _ = golden(spec, image, [np.zeros(0, np.int32)] * 400)
    board_session.load(image, spec)
    fixed = board_session.run(100)
    assert fixed.n_spikes > 0 and same_spikes(fixed.steps, want[:100])
    free = board_session.free_run(0.05)
    n = len(free.steps)
    assert free.first_step == 100 and n > 0
    model_steps = want if n <= 300 else golden(spec, image, [np.zeros(0, np.int32)] * (100 + n))[0]
    assert same_spikes(free.steps, model_steps[100:100 + n])


def test_input_forms_agree(board_session: Session, spec: CoreSpec, tmp_path) -> None:
    image = random_image(spec, seed=6)
    inputs = random_inputs(image.n_inputs, 60, seed=7)
    want, _ = golden(spec, image, inputs)
    steps = np.concatenate([np.full(s.size, k) for k, s in enumerate(inputs)])
    ids = np.concatenate(inputs)
    np.savez(tmp_path / "in.npz", steps=steps, ids=ids)
    seg = neo.Segment()
    for a in range(image.n_inputs):
        t = steps[ids == a] * 0.5
        seg.spiketrains.append(neo.SpikeTrain(t * pq.ms, t_stop=60 * 0.5 * pq.ms))
    block = neo.Block()
    block.segments.append(seg)
    for source, dt in [((steps, ids), None), (tmp_path / "in.npz", None), (block, 0.5)]:
        board_session.load(image, spec)
        assert same_spikes(board_session.run(60, source, dt=dt).steps, want)


def test_other_build_is_refused_with_the_difference(board_session: Session,
                                                    spec: CoreSpec) -> None:
    other = CoreSpec(**{**{f: getattr(spec, f) for f in ("n_inputs", "n_synapses", "v_bits",
                        "i_bits", "w_bits", "acc_bits", "trace_bits", "ref_bits",
                        "delay_bits")}, "n_neurons": spec.n_neurons * 2}, name="bigger")
    image = random_image(other, seed=8)
    with pytest.raises(BuildMismatchError) as e:
        board_session.load(image, other)
    assert f"core image was compiled for core build 'bigger' (build id 0x" \
        f"{p.spec_build_id(other):08x}) but the board on '" in str(e.value)
    assert f"differ in n_neurons: {spec.n_neurons * 2} vs {spec.n_neurons} (artifact vs " \
        "board): recompile for the board's build or flash the matching bitstream" in str(e.value)


def test_input_outside_the_board_is_named(board_session: Session, spec: CoreSpec) -> None:
    image = random_image(spec, seed=9)
    board_session.load(image, spec)
    bad = [np.zeros(0, np.int32)] * 3 + [np.array([spec.n_inputs], np.int32)]
    with pytest.raises(ValueError, match=f"input spike to input {spec.n_inputs} at step 3: the "
                       f"board has inputs 0..{spec.n_inputs - 1}"):
        board_session.run(4, bad)


def test_board_refuses_writes_while_running(board_session: Session, spec: CoreSpec) -> None:
    board_session.load(random_image(spec, seed=10), spec)
    board_session.request(p.FrameType.RUN, p.RunCommand(0).encode())
    with pytest.raises(BoardError, match=r"board refused WRITE: BUSY: the board is running "
                       r"\(at step \d+\); STOP it first"):
        board_session.write(p.Memory.STDP, 0, np.array([0]))
    board_session.request(p.FrameType.STOP)


def test_read_outside_memory_is_refused(board_session: Session, spec: CoreSpec) -> None:
    with pytest.raises(BoardError, match=f"board refused READ: BAD_ADDRESS: address "
                       f"{spec.n_synapses} is outside the board's memory"):
        board_session.read(p.Memory.SYNAPSE, spec.n_synapses - 1, 2)


def test_asyncio_stream_and_neo_output(board_session: Session, spec: CoreSpec) -> None:
    image = random_image(spec, seed=11)
    inputs = random_inputs(image.n_inputs, 80, seed=12)
    want, _ = golden(spec, image, inputs)
    board_session.load(image, spec)

    async def consume() -> list[tuple[int, np.ndarray]]:
        return [item async for item in board_session.stream(80, inputs)]

    got = asyncio.run(consume())
    assert [step for step, _ in got] == list(range(80))
    assert same_spikes([ids for _, ids in got], want)
    board_session.load(image, spec)
    seg = board_session.run(80, inputs).to_neo(dt=0.1, n_neurons=image.n_neurons)
    assert len(seg.spiketrains) == image.n_neurons
    for j, train in enumerate(seg.spiketrains):
        steps = [k for k, ids in enumerate(want) if j in ids]
        assert np.allclose(train.rescale("ms").magnitude, np.array(steps) * 0.1)


def test_stream_traffic_left_from_an_earlier_run_does_not_leak_into_the_next(
        board_session: Session, spec: CoreSpec) -> None:
    image = random_image(spec, seed=13)
    first_in = random_inputs(image.n_inputs, 40, seed=14)
    second_in = random_inputs(image.n_inputs, 40, seed=15)
    want, _ = golden(spec, image, second_in)
    board_session.load(image, spec)
    board_session.run(40, first_in)
    # late answers to resend requests of the finished run, as a slow host provokes them: a
    # replay of its OUTPUT frame 0 and a GONE for a frame it never had
    board_session._send(p.FrameType.RESEND, 0, bytes([0]))
    board_session._send(p.FrameType.RESEND, 0, bytes([200]))
    board_session.load(image, spec)  # the stale frames arrive while this waits for replies
    result = board_session.run(40, second_in)
    assert same_spikes(result.steps, want)


@contextmanager
def _slower_steps(board: BoardEndpoint, seconds: float) -> Iterator[None]:
    """Every step of a run takes ``seconds`` longer on a served board, and the board answers
    no command meanwhile: a board slower than the host's reply timeout, as the simulated RTL
    is on a loaded machine."""
    if board.served is None:
        pytest.skip(f"cannot slow a real board ('{board.kind}') down from a test")
    engine = getattr(board.served, "board", None)
    if engine is None:
        pytest.skip(f"the '{board.kind}' board's steps cannot be slowed down from a test")
    tick = engine.tick

    def slow_tick() -> bool:
        if engine.busy:
            time.sleep(seconds)
        return tick()

    engine.tick = slow_tick  # the serving loop looks the method up on every turn
    try:
        yield
    finally:
        del engine.tick


def test_runs_on_a_board_slower_than_the_host_timeout_stay_apart(board: BoardEndpoint,
                                                                 spec: CoreSpec) -> None:
    """A step takes five host timeouts, so the host asks STATUS during the step that ends a
    run, and the board answers it only after sending that run's last OUTPUT frame.  Nothing of
    one run (a replayed frame, a retried command's answer) may be taken for the next one's."""
    image = random_image(spec, seed=5, bias=100)  # bias alone makes neurons fire at once
    inputs = random_inputs(image.n_inputs, 3, seed=16)
    with _slower_steps(board, 0.2):
        session = Session.open(board.port, timeout=0.04, retries=30)
        with session:
            session.load(image, spec)
            fixed = session.run(3)
            free = session.free_run(0.01)
            streamed = session.run(3, inputs)
            weights = session.weights()
    assert session.stats.retries > 0  # the host did give up waiting: the case was exercised
    # a pty loses nothing, so nothing is asked for again (a RESEND would be answered after
    # its run is over)
    assert session.stats.output_resend_requests == 0
    n_free = len(free.steps)
    assert free.first_step == 3 and n_free >= 1 and streamed.first_step == 3 + n_free
    want, want_w = golden(spec, image, [np.zeros(0, np.int32)] * (3 + n_free) + inputs)
    got = fixed.steps + free.steps + streamed.steps
    assert sum(s.size for s in got) > 20  # the comparison means something
    assert same_spikes(got, want)
    assert np.array_equal(weights, want_w)
