"""docs/protocol.md rule by rule on every board: each test states the page's numbers
itself, and the checking host (``Host``) compares every frame and every STATUS field on the
way."""

from __future__ import annotations

import time

import pytest

from tests.protocol_conformance import msg as m
from tests.protocol_conformance import wire as w
from tests.protocol_conformance.conftest import RTL_SIM, VIRTUAL, board_params
from tests.protocol_conformance.host import Host

pytestmark = pytest.mark.parametrize("served", board_params(VIRTUAL, RTL_SIM), indirect=True)


def ack_value(f: w.Frame) -> int:
    assert f.type == m.ACK, f
    return m.unpack(m.ACK, f.payload)["value"]


def error_of(f: w.Frame) -> tuple[int, int, int]:
    assert f.type == m.ERROR, f
    v = m.unpack(m.ERROR, f.payload)
    return v["code"], v["cause"], v["detail"]


def synapse(host: Host, weight: int) -> bytes:
    """One SYNAPSE word with this weight (section 5's layout), as WRITE's words."""
    b = host._b()
    word = 3 | weight << m.bits(b.n_neurons)
    return word.to_bytes(b.word_bytes(m.SYNAPSE), "little")


def test_link_layer_counts_what_the_page_counts(host: Host) -> None:
    before = host.check_status()
    host.send(b"\x00\x00\x00")  # no frames at all
    host.send(b"\x13\x37garbage\x00")  # one bad frame
    host.send(bytes(range(1, 256)) * 5 + b"\x00")  # 1275 bytes: one bad frame
    body = bytes([m.STATUS, 7]) + bytes([0x41] * 250)
    body += w.crc16(body).to_bytes(2, "big")
    assert 0 not in body
    host.send(w.cobs(body)[:-1] + b"\x00")  # the same STATUS, not canonical: bad
    host.send(w.frame(0x30, 9, b"\x01"))  # unknown command type: UNSUPPORTED
    host.send(w.frame(m.ACK, 10, bytes(5)))  # a board's own type: ignored
    replies = host.settle()
    assert [error_of(f) for f in replies] == [(m.UNSUPPORTED, 0x30, 0x30)]
    after = host.check_status()
    assert after["crc_errors"] - before["crc_errors"] == 3
    # intact: the two typed frames and this STATUS (the earlier STATUS is in `before`)
    assert after["rx_frames"] - before["rx_frames"] == 3


def test_retries_are_answered_from_the_cache_and_not_run_twice(host: Host) -> None:
    run = w.frame(m.RUN, 40, m.pack(m.RUN, steps=10, flags=0))
    host.send(run)
    (ack,) = host.settle()
    assert ack_value(ack) == 0
    host.await_run()
    host.send(run)  # the host missed the ACK: the same bytes again, and no second run
    (again,) = host.settle()
    assert again.wire == ack.wire
    status = host.check_status()
    assert (status["step"], status["resends"]) == (10, 1)
    # STATUS is never answered from the cache: the same seq twice gives two fresh replies,
    # and after it the cache is empty, so the RUN's seq runs it again
    first, second = (host.command(m.STATUS, seq=41) for _ in range(2))
    assert m.unpack(m.STATUS_REPLY, second.payload)["rx_frames"] == \
        m.unpack(m.STATUS_REPLY, first.payload)["rx_frames"] + 1
    host.send(run)
    host.settle()
    host.await_run()
    assert host.check_status()["step"] == 20


def test_power_cycle_forgets_everything_but_the_boot_count(host: Host) -> None:
    host.command(m.WRITE, m.pack(m.WRITE, memory=m.SYNAPSE, address=0) + synapse(host, 5))
    host.send(w.frame(m.STATUS, 50)[:5])  # half a frame: the receiver forgets it
    time.sleep(0.2)  # (on the line before the reset)
    boot = host.boot_count
    host.power_cycle()
    assert host.boot_count == boot + 1
    status = host.check_status()
    assert status["boot_count"] == boot + 1
    assert (status["rx_frames"], status["crc_errors"], status["tx_frames"]) == (1, 0, 1)
    if host._b().readable(m.SYNAPSE):
        data = host.command(m.READ, m.pack(m.READ, memory=m.SYNAPSE, address=0, count=1))
        assert data.payload[5:] == bytes(host._b().word_bytes(m.SYNAPSE))


def test_reset_state_keeps_memories_and_zeroes_the_state(host: Host) -> None:
    host.command(m.WRITE, m.pack(m.WRITE, memory=m.SYNAPSE, address=2) + synapse(host, 4))
    state = (123).to_bytes(host._b().word_bytes(m.STATE_MEM), "little")
    host.command(m.WRITE, m.pack(m.WRITE, memory=m.STATE_MEM, address=1) + state)
    host.command(m.RUN, m.pack(m.RUN, steps=5, flags=0))
    host.await_run()
    assert ack_value(host.command(m.RESET, bytes([m.SCOPE_STATE]))) == 0
    assert host.check_status()["step"] == 0
    syn = host.command(m.READ, m.pack(m.READ, memory=m.SYNAPSE, address=2, count=1))
    assert syn.payload[5:] == synapse(host, 4)  # kept (not plastic: no learning)
    st = host.command(m.READ, m.pack(m.READ, memory=m.STATE_MEM, address=0, count=4))
    assert st.payload[5:] == bytes(4 * host._b().word_bytes(m.STATE_MEM))


def test_free_and_long_runs_answer_status_refuse_the_rest_and_stop(host: Host) -> None:
    b = host._b()
    for steps in (0, 2**31, 2**32 - 2):
        host.command(m.RUN, m.pack(m.RUN, steps=steps, flags=0))
        status = host.check_status()  # checked against the page inside: RUNNING, and
        assert status["state"] == m.RUNNING  # steps_left 0xFFFFFFFF for a free run
        assert (status["steps_left"] == m.FREE) == (steps == 0)
        assert host.command(m.HELLO, bytes([1])).type == m.HELLO_REPLY
        for ftype, payload in ((m.READ, m.pack(m.READ, memory=m.SYNAPSE, address=0, count=1)),
                               (m.WRITE, m.pack(m.WRITE, memory=m.STATE_MEM, address=0)
                                + bytes(b.word_bytes(m.STATE_MEM))),
                               (m.RESET, bytes([1])), (m.CONFIG, bytes(8)),
                               (m.RUN, m.pack(m.RUN, steps=1, flags=0))):
            assert error_of(host.command(ftype, payload))[:2] == (m.BUSY, ftype)
        time.sleep(0.05)
        stopped = ack_value(host.command(m.STOP))
        assert stopped > 0  # it ran, and its OUTPUT covers every step before this one
        status = host.check_status()
        assert (status["state"], status["steps_left"], status["step"]) == (m.DONE, 0, stopped)
        assert ack_value(host.command(m.STOP)) == stopped  # STOP when not running
    # 0xFFFFFFFF steps would look like a free run in STATUS: refused
    assert error_of(host.command(m.RUN, m.pack(m.RUN, steps=m.FREE, flags=0))) == \
        (m.BAD_MESSAGE, m.RUN, 0)


def test_output_every_64_steps_kept_for_resend_in_a_window(host: Host) -> None:
    b = host._b()
    host.command(m.RUN, m.pack(m.RUN, steps=130, flags=0))
    host.await_run()  # the host checks each frame's cut: a silent core sends 64, 64, 2
    assert host.next_out == 3 and [len(f.payload) for f in host.window] == [6, 6, 6]
    host.send(w.frame(m.RESEND, 0, bytes([1])))
    (again,) = host.settle()
    assert again.wire == host.window[1].wire
    host.send(w.frame(m.RESEND, 0, bytes([3])))  # never sent
    (gone,) = host.settle()
    assert error_of(gone) == (m.GONE, m.RESEND, 0)
    n = b.output_window + 2  # more frames than the window holds
    host.command(m.RUN, m.pack(m.RUN, steps=64 * n, flags=0))
    host.await_run()
    host.send(w.frame(m.RESEND, 0, bytes([0])))
    (gone,) = host.settle()
    assert error_of(gone) == (m.GONE, m.RESEND, 2)  # frames 2 .. n - 1 are kept


def test_streamed_input_by_every_rule(host: Host) -> None:
    b = host._b()
    bits = b.id_bits(b.n_inputs)
    inp = lambda seq, first, steps: w.frame(m.INPUT, seq, m.block(first, steps, bits))  # noqa: E731
    host.send(inp(0, 0, [[1]]))  # no run: NOT_RUNNING
    assert error_of(host.settle()[0]) == (m.NOT_RUNNING, m.INPUT, 0)
    host.command(m.RUN, m.pack(m.RUN, steps=20, flags=m.STREAMED))
    host.send(inp(0, 0, [[1, 2], [], [0]]))
    host.send(inp(1, 3, []))  # 0 steps: consumed at once
    host.await_credits()
    host.send(inp(0, 0, [[1]]))  # a duplicate: a CREDIT
    (credit,) = host.settle()
    assert m.unpack(m.CREDIT, credit.payload) == {"next_seq": 2, "free": b.input_slots}
    host.send(inp(4, 3, [[1]]))  # a gap: SEQ_GAP once, with the seq to go back to
    host.send(inp(5, 3, [[1]]))
    assert [error_of(f) for f in host.settle()] == [(m.SEQ_GAP, m.INPUT, 2)]
    host.send(inp(2, 4, [[1]]))  # not the next step
    assert error_of(host.settle()[0]) == (m.STEP_MISMATCH, m.INPUT, 3)
    host.send(inp(2, 3, [[]] * 18))  # past the run's last step (17 are left)
    assert error_of(host.settle()[0]) == (m.BAD_MESSAGE, m.INPUT, 4)
    host.send(inp(2, 3, [[]] * 17))
    host.await_credits()
    status = host.check_status()
    assert (status["state"], status["step"], status["seq_errors"]) == (m.DONE, 20, 2)
    host.send(inp(3, 20, [[]]))  # the run is over
    assert error_of(host.settle()[0]) == (m.NOT_RUNNING, m.INPUT, 3)
    host.command(m.RUN, m.pack(m.RUN, steps=0, flags=0))  # an unstreamed run takes no INPUT
    host.send(inp(0, 20, [[]]))
    assert error_of(host.settle()[0]) == (m.NOT_RUNNING, m.INPUT, 0)
    host.command(m.STOP)


def test_stop_drops_input_not_computed_and_overrun_past_the_credits(host: Host) -> None:
    b = host._b()
    bits = b.id_bits(b.n_inputs)
    host.command(m.RUN, m.pack(m.RUN, steps=0, flags=m.STREAMED))
    # a long first block keeps the board computing while the queue fills: input_slots
    # more are taken, one more is an OVERRUN
    host.send(w.frame(m.INPUT, 0, m.block(0, [[]] * m.MAX_STEPS, bits)))
    for _ in range(100):  # until the board is computing it (STATUS says where it is)
        time.sleep(0.01)
        if host.check_status()["step"] > 0:
            break
    host.head_in_progress = True
    for k in range(b.input_slots + 1):
        host.send(w.frame(m.INPUT, 1 + k, m.block(m.MAX_STEPS + k, [[1]], bits)))
    assert [error_of(f) for f in host.settle()] == [(m.OVERRUN, m.INPUT, b.input_slots + 1)]
    host.head_in_progress = False
    stopped = ack_value(host.command(m.STOP))
    assert stopped <= m.MAX_STEPS + b.input_slots
    status = host.check_status()
    assert (status["overruns"], status["next_input_seq"]) == (1, b.input_slots + 1)
    host.send(w.frame(m.INPUT, 0, m.block(0, [[]], bits)))  # a duplicate after STOP
    (credit,) = host.settle()
    assert m.unpack(m.CREDIT, credit.payload)["free"] == b.input_slots  # the queue is empty
