"""The board's protocol engine on its own (no link): retries are idempotent, credits bound
the input queue, and the host's output collector turns a lost frame into a named error."""

from __future__ import annotations

import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.runtime.conftest import golden, random_image, random_inputs
from toolchain.boardsim.virtual import ServedBoard, VirtualBoard
from toolchain.runtime import protocol as p
from toolchain.runtime.session import BoardResetError, Session, StreamLostError, step_inputs
from toolchain.targets.fpga.spec import TINY


def _board(**options: int) -> tuple[VirtualBoard, list[p.Frame]]:
    replies: list[p.Frame] = []
    reader = p.FrameReader()

    def send(wire: bytes) -> None:
        replies.extend(f for f in reader.feed(wire) if isinstance(f, p.Frame))

    return VirtualBoard(TINY, send, **options), replies


def test_a_repeated_command_is_answered_from_the_cache_not_run_twice() -> None:
    board, replies = _board()
    run = p.encode_frame(p.FrameType.RUN, 9, p.RunCommand(10).encode())
    board.receive(run)
    for _ in range(4):
        board.tick()
    board.receive(run)  # the host did not hear the ACK and retries
    acks = [f for f in replies if f.type is p.FrameType.ACK]
    assert len(acks) == 2 and acks[0] == acks[1]
    while board.tick():
        pass
    assert board.core.t == 10  # one run of 10 steps, not two


def test_credits_bound_the_input_queue_and_nothing_overruns() -> None:
    board, replies = _board(input_slots=2)
    board.receive(p.encode_frame(p.FrameType.RUN, 1,
                                 p.RunCommand(40, p.RunFlags.STREAMED).encode()))
    steps = random_inputs(6, 40, seed=3)
    blocks = list(p.split_spike_blocks(0, steps, 8, max_steps=8))
    for k, block in enumerate(blocks[:3]):  # one more than the credits allow
        board.receive(p.encode_frame(p.FrameType.INPUT, k, block.encode(8)))
    errors = [p.ErrorReply.decode(f.payload) for f in replies if f.type is p.FrameType.ERROR]
    assert [e.code for e in errors] == [p.ErrorCode.OVERRUN]
    assert len(board.input_queue) == 2 and board.status().overruns == 1


def test_a_gap_in_the_input_is_reported_once_with_the_expected_seq() -> None:
    board, replies = _board()
    board.receive(p.encode_frame(p.FrameType.RUN, 1,
                                 p.RunCommand(40, p.RunFlags.STREAMED).encode()))
    blocks = list(p.split_spike_blocks(0, random_inputs(6, 40, seed=4), 8, max_steps=8))
    for k in (0, 2, 3):  # frame 1 lost
        board.receive(p.encode_frame(p.FrameType.INPUT, k, blocks[k].encode(8)))
    gaps = [p.ErrorReply.decode(f.payload) for f in replies if f.type is p.FrameType.ERROR]
    assert [(e.code, e.detail) for e in gaps] == [(p.ErrorCode.SEQ_GAP, 1)]


def test_a_resend_the_board_no_longer_holds_stops_the_run_by_name() -> None:
    board, replies = _board(output_window=2)
    board.receive(p.encode_frame(p.FrameType.RUN, 1, p.RunCommand(300).encode()))
    while board.tick():
        pass
    board.receive(p.encode_frame(p.FrameType.RESEND, 0, bytes([0])))
    gone = p.ErrorReply.decode(replies[-1].payload)
    assert gone.code is p.ErrorCode.GONE and gone.detail == 3  # frames 3 and 4 are kept


def test_step_inputs_errors_name_what_to_fix(tmp_path) -> None:
    np.savez(tmp_path / "in.npz", times=[1, 2], ids=[0, 1])
    with pytest.raises(ValueError, match=r"input file '.*in.npz' has no 'steps' array; it needs "
                       r"'steps' and 'ids' \(has: times, ids\)"):
        step_inputs(tmp_path / "in.npz", 5)
    import neo

    with pytest.raises(ValueError, match=r"Neo input needs dt \(ms per step\)"):
        step_inputs(neo.Block(), 5)


def test_served_module_prints_its_pty_and_power_cycles_on_sigusr1() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "toolchain.boardsim.virtual", "--preset",
                             "tiny"], stdout=subprocess.PIPE, text=True)
    try:
        path = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert path.startswith("/dev/")
        image = random_image(TINY, seed=5)
        with Session.open(path) as session:
            session.load(image, TINY)
            session.run(20, random_inputs(image.n_inputs, 20, seed=6))
            proc.send_signal(signal.SIGUSR1)
            with pytest.raises(BoardResetError, match="reset"):
                session.run(2000, random_inputs(image.n_inputs, 2000, seed=7))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


class _Recorder:
    """A link that keeps what the host writes (the collector under test only writes)."""

    name = "recorder"
    bytes_written = bytes_read = 0

    def __init__(self) -> None:
        self.sent: list[p.Frame] = []

    def write(self, data: bytes) -> None:
        self.sent += [f for f in p.FrameReader().feed(data) if isinstance(f, p.Frame)]

    def read(self, timeout: float) -> bytes:
        return b""

    def close(self) -> None:
        pass


def test_host_asks_for_a_missing_output_frame_and_names_the_loss_if_gone() -> None:
    from toolchain.runtime.session import _OutputCollector

    link = _Recorder()
    session = Session(link)
    session.info = p.BuildInfo.from_spec(TINY)
    collector = _OutputCollector(session, first=100, on_step=None)
    collector.n_steps = 10
    one = np.array([3], np.int32)
    assert collector.take([p.Frame(p.FrameType.OUTPUT, 0, p.SpikeBlock(100, (one,) * 4)
                                   .encode(8))])
    # frame 1 (steps 104..107) is lost; frame 2 arrives
    collector.take([p.Frame(p.FrameType.OUTPUT, 2, p.SpikeBlock(108, (one,) * 2).encode(8))])
    assert [(f.type, f.payload) for f in link.sent] == [(p.FrameType.RESEND, bytes([1]))]
    gone = p.Frame(p.FrameType.ERROR, 0, p.ErrorReply(p.ErrorCode.GONE, p.FrameType.RESEND,
                                                      2).encode())
    with pytest.raises(StreamLostError, match=r"output frame 1 is no longer held by the board "
                       r"\(oldest kept: 2\): output received for steps 100\.\.103 \(4 steps\); "
                       r"output lost from step 104 to step 109; nothing after step 103 can be "
                       "trusted"):
        collector.take([gone])


def test_an_output_step_bigger_than_a_frame_arrives_whole() -> None:
    from toolchain.targets.fpga.spec import ECP5_85F

    spec = ECP5_85F
    image = random_image(spec, seed=17, bias=400)  # bias alone fires most neurons at once
    want, _ = golden(spec, image, [np.zeros(0, np.int32)] * 3)
    assert max(s.size for s in want) > 600  # more than one frame of 2-byte ids holds
    with ServedBoard(spec) as served, Session.open(served.path) as s:
        s.load(image, spec)
        seen: list[int] = []
        result = s.run(3, on_step=lambda step, ids: seen.append(step))
    assert seen == [0, 1, 2]
    assert all(np.array_equal(a, b) for a, b in zip(result.steps, want, strict=True))


@pytest.mark.parametrize("n_steps", [0, -3, p.MAX_RUN_STEPS + 1])
def test_a_run_length_the_protocol_cannot_carry_is_refused_before_sending(n_steps: int) -> None:
    session = Session(transport=None)  # type: ignore[arg-type]  # nothing is sent
    with pytest.raises(ValueError, match=f"run: n_steps = {n_steps}; give a number of steps "
                       f"from 1 to {p.MAX_RUN_STEPS} \\(free_run\\(\\) runs without a count\\)"):
        session.run(n_steps)
