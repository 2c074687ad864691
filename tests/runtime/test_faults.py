"""Reliability: through a damaging link every run either completes with every spike and
weight the golden model gives, or stops with an error saying what was lost."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdl.spikecore.verify import simulator_available
from tests.runtime.conftest import golden, random_image, random_inputs, same_spikes
from toolchain.boardsim.verilator_board import VerilatorBoard
from toolchain.boardsim.virtual import ServedBoard, VirtualBoard
from toolchain.runtime import protocol as p
from toolchain.runtime.faults import FaultPlan, FaultyTransport, StuckBit
from toolchain.runtime.session import (
    BoardResetError,
    LinkError,
    LoadVerifyError,
    Session,
)
from toolchain.runtime.transport import SerialTransport
from toolchain.targets.fpga.spec import TINY

N_STEPS = 150


def _session(served: ServedBoard | VerilatorBoard, plan: FaultPlan, timeout: float = 0.1,
             retries: int = 20) -> tuple[Session, FaultyTransport]:
    power_cycle = getattr(served, "board", served).power_cycle  # a ServedBoard's engine
    link = FaultyTransport(SerialTransport(served.path), plan, power_cycle)
    session = Session(link, timeout=timeout, retries=retries)
    session.handshake()
    return session, link


# rtl-sim: the same damage in front of the device's Verilog under Verilator, whose reply
# cache, go-back-N input, output window and BOOT are the gateware's
BOARDS = ["virtual", pytest.param("rtl-sim", marks=pytest.mark.hdl)]


@contextmanager
def _faulty_board(kind: str, plan: FaultPlan) -> Iterator[tuple[Session, FaultyTransport]]:
    if kind == "virtual":
        with ServedBoard(TINY, input_slots=4, output_window=64) as served:
            yield _session(served, plan)
        return
    reason = simulator_available("verilator")
    if reason:
        pytest.skip(reason)
    with VerilatorBoard(TINY) as served:  # 1/13 of real time or slower: longer timeouts
        yield _session(served, plan, timeout=0.2, retries=30)


@pytest.mark.parametrize("kind", BOARDS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_link_loses_nothing(kind: str, seed: int) -> None:
    image = random_image(TINY, seed=seed)
    inputs = random_inputs(image.n_inputs, N_STEPS, seed=seed + 10)
    want, want_w = golden(TINY, image, inputs)
    plan = FaultPlan(seed=seed, flip_rate=2e-3, drop_rate=2e-3, burst_rate=0.02,
                     spare_bytes=0)
    with _faulty_board(kind, plan) as (session, link):
        with session:
            session.load(image, TINY)
            # short blocks: more INPUT and OUTPUT frames for the damage to hit
            result = session.run(N_STEPS, inputs, block_steps=16)
            weights = session.weights()
    assert link.counts.flipped + link.counts.dropped + link.counts.bursts > 5
    assert session.stats.bad_frames > 0 or session.stats.retries > 0
    assert same_spikes(result.steps, want)
    assert np.array_equal(weights, want_w)


@pytest.mark.parametrize("kind", BOARDS)
def test_board_reset_mid_run_is_reported_with_what_was_lost(kind: str) -> None:
    image = random_image(TINY, seed=4)
    inputs = random_inputs(image.n_inputs, 400, seed=5)
    with _faulty_board(kind, FaultPlan()) as (session, link):
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
