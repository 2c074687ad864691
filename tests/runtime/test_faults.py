"""Reliability: through a damaging link every run either completes with every spike and
weight the golden model gives, or stops with an error saying what was lost."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.runtime.conftest import golden, random_image, random_inputs, same_spikes
from toolchain.runtime import protocol as p
from toolchain.runtime.faults import FaultPlan, FaultyTransport, StuckBit
from toolchain.runtime.session import (
    BoardResetError,
    LinkError,
    LoadVerifyError,
    Session,
)
from toolchain.runtime.transport import SerialTransport
from toolchain.runtime.virtual import ServedBoard, VirtualBoard
from toolchain.targets.fpga.spec import TINY

N_STEPS = 150


def _session(served: ServedBoard, plan: FaultPlan) -> tuple[Session, FaultyTransport]:
    link = FaultyTransport(SerialTransport(served.path), plan, served.board.power_cycle)
    session = Session(link, timeout=0.1, retries=20)
    session.handshake()
    return session, link


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_link_loses_nothing(seed: int) -> None:
    image = random_image(TINY, seed=seed)
    inputs = random_inputs(image.n_inputs, N_STEPS, seed=seed + 10)
    want, want_w = golden(TINY, image, inputs)
    plan = FaultPlan(seed=seed, flip_rate=2e-3, drop_rate=2e-3, burst_rate=0.02,
                     spare_bytes=0)
    with ServedBoard(TINY, input_slots=4, output_window=64) as served:
        session, link = _session(served, plan)
        with session:
            session.load(image, TINY)
            result = session.run(N_STEPS, inputs)
            weights = session.weights()
    assert link.counts.flipped + link.counts.dropped + link.counts.bursts > 5
    assert session.stats.bad_frames > 0 or session.stats.retries > 0
    assert same_spikes(result.steps, want)
    assert np.array_equal(weights, want_w)


def test_board_reset_mid_run_is_reported_with_what_was_lost() -> None:
    image = random_image(TINY, seed=4)
    inputs = random_inputs(image.n_inputs, 400, seed=5)
    with ServedBoard(TINY) as served:
        session, link = _session(served, FaultPlan())
        with session:
            session.load(image, TINY)
            link.plan.reset_after_bytes = link._passed + 600
            with pytest.raises(BoardResetError) as e:
                session.run(400, inputs)
    msg = str(e.value)
    assert "reset" in msg and "load the network again" in msg
    assert "output lost from step" in msg and "to step 399" in msg


def test_cut_link_says_which_steps_are_missing() -> None:
    image = random_image(TINY, seed=6)
    inputs = random_inputs(image.n_inputs, 400, seed=7)
    with ServedBoard(TINY) as served:
        session, link = _session(served, FaultPlan())
        with session:
            session.load(image, TINY)
            link.plan.cut_after_bytes = link._passed + 1500
            with pytest.raises(LinkError) as e:
                session.run(400, inputs)
    msg = str(e.value)
    assert "link cut by the fault injector after" in msg
    # where the cut falls depends on how host writes and board output interleave: before the
    # first OUTPUT frame or after some, the message must say exactly which steps are missing
    if "no output received" in msg:
        assert "no output received; output lost from step 0 to step 399" in msg
        return
    m = re.search(r"output received for steps 0\.\.(\d+) \((\d+) steps\); output lost from "
                  r"step (\d+) to step 399", msg)
    assert m, msg
    last, count, lost = (int(g) for g in m.groups())
    assert count == last + 1 == lost and 0 < count < 400


def test_transient_memory_upset_is_rewritten_by_verification() -> None:
    image = random_image(TINY, seed=8)
    with ServedBoard(TINY) as served, Session.open(served.path) as session:
        upset = StuckBit(p.Memory.SYNAPSE, 5, bit=3, times=1)
        served.board.write_filter = upset
        session.load(image, TINY)
        assert upset.hits == 1
        want = golden(TINY, image, [])[1]
        assert np.array_equal(session.weights(), want)


def test_stuck_memory_bit_fails_the_load_by_name() -> None:
    image = random_image(TINY, seed=8)
    word = TINY.pack("synapse", target=int(image.syn_target[5]),
                     weight=int(image.syn_weight[5]), delay=int(image.syn_delay[5]),
                     plastic=int(image.syn_plastic[5]))
    with ServedBoard(TINY) as served, Session.open(served.path) as session:
        served.board.write_filter = StuckBit(p.Memory.SYNAPSE, 5, bit=3, times=None)
        with pytest.raises(LoadVerifyError, match=f"load verification failed: SYNAPSE word 5 "
                           f"reads back 0x{word ^ 8:x}, expected 0x{word:x} \\(1 of "
                           f"{image.n_synapses} words differ at addresses 0..{image.n_synapses - 1}"
                           r"\) even after rewriting"):
            session.load(image, TINY)


# --- the device-side decoder never crashes on anything a host (or noise) can send --------

def _fuzz_board() -> tuple[VirtualBoard, list[bytes]]:
    sent: list[bytes] = []
    return VirtualBoard(TINY, sent.append, input_slots=2, output_window=4), sent


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from([t for t in p.FrameType if t.from_host]),
                          st.integers(0, 255), st.binary(max_size=40)), max_size=12),
       st.binary(max_size=200))
def test_device_decoder_survives_any_frames(frames: list[tuple[p.FrameType, int, bytes]],
                                            noise: bytes) -> None:
    board, sent = _fuzz_board()
    for ftype, seq, payload in frames:
        board.receive(p.encode_frame(ftype, seq, payload))
        for _ in range(3):
            board.tick()
    board.receive(noise)
    reader = p.FrameReader()
    replies = reader.feed(b"".join(sent))
    assert all(isinstance(r, p.Frame) and not r.type.from_host for r in replies)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from([t for t in p.FrameType if not t.from_host]), st.binary(max_size=60))
def test_host_message_decoders_only_raise_message_errors(ftype: p.FrameType,
                                                         payload: bytes) -> None:
    info = p.BuildInfo.from_spec(TINY)
    decoders = {
        p.FrameType.ACK: p.Ack.decode, p.FrameType.HELLO_REPLY: p.BuildInfo.decode,
        p.FrameType.DATA: lambda b: p.MemoryData.decode(b, info),
        p.FrameType.OUTPUT: lambda b: p.SpikeBlock.decode(b, info.neuron_id_bits),
        p.FrameType.STATUS_REPLY: p.Status.decode, p.FrameType.CREDIT: p.Credit.decode,
        p.FrameType.ERROR: p.ErrorReply.decode, p.FrameType.BOOT: lambda b: None,
    }
    try:
        decoders[ftype](payload)
    except p.MessageError:
        pass


@pytest.mark.hdl
@pytest.mark.parametrize("seed", [1, 2])
def test_noisy_link_to_the_gateware_loses_nothing(seed: int) -> None:
    """The same damaging link in front of rtl-sim: the device's Verilog under Verilator,
    whose deframer, engine (reply cache, credits, go-back-N, output window) and framer are
    the gateware's.  Every spike and weight arrives as the golden model gives them."""
    from hdl.spikecore.verify import simulator_available
    from toolchain.runtime.verilator_board import VerilatorBoard

    reason = simulator_available("verilator")
    if reason:
        pytest.skip(reason)
    image = random_image(TINY, seed=seed)
    inputs = random_inputs(image.n_inputs, N_STEPS, seed=seed + 10)
    want, want_w = golden(TINY, image, inputs)
    plan = FaultPlan(seed=seed, flip_rate=2e-3, drop_rate=2e-3, burst_rate=0.02,
                     spare_bytes=0)

    def no_power_cycle() -> None:
        raise AssertionError("this plan resets no board")

    with VerilatorBoard(TINY) as served:
        link = FaultyTransport(SerialTransport(served.path), plan, no_power_cycle)
        session = Session(link, timeout=0.2, retries=30)
        session.handshake()
        with session:
            session.load(image, TINY)
            result = session.run(N_STEPS, inputs, block_steps=16)
            weights = session.weights()
    assert link.counts.flipped + link.counts.dropped + link.counts.bursts > 5
    assert session.stats.bad_frames > 0 or session.stats.retries > 0
    assert same_spikes(result.steps, want)
    assert np.array_equal(weights, want_w)


@pytest.mark.hdl
def test_gateware_reset_mid_run_is_reported_with_what_was_lost() -> None:
    """rtl-sim put through reset mid-run (its bridge pulses rst): the gateware's BOOT stops
    the run with an error that names the steps lost."""
    from hdl.spikecore.verify import simulator_available
    from toolchain.runtime.verilator_board import VerilatorBoard

    reason = simulator_available("verilator")
    if reason:
        pytest.skip(reason)
    image = random_image(TINY, seed=4)
    inputs = random_inputs(image.n_inputs, 400, seed=5)
    with VerilatorBoard(TINY) as served:
        link = FaultyTransport(SerialTransport(served.path), FaultPlan(), served.power_cycle)
        session = Session(link, timeout=0.2, retries=20)
        session.handshake()
        with session:
            session.load(image, TINY)
            link.plan.reset_after_bytes = link._passed + 600
            with pytest.raises(BoardResetError) as e:
                session.run(400, inputs)
    msg = str(e.value)
    assert "reset" in msg and "load the network again" in msg
    assert "output lost from step" in msg and "to step 399" in msg
