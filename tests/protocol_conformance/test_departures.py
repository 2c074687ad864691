"""The five departures an independent client measured on a fresh ``tiny`` board, as
regression tests: the exact frames it sent, and the answers docs/protocol.md now gives, on
the virtual board and on the gateware (rtl-sim)."""

from __future__ import annotations

import pytest

from tests.protocol_conformance import msg as m
from tests.protocol_conformance import wire as w
from tests.protocol_conformance.conftest import RTL_SIM, VIRTUAL, board_params
from tests.protocol_conformance.host import Host

pytestmark = pytest.mark.parametrize("served", board_params(VIRTUAL, RTL_SIM), indirect=True)


def send(host: Host, hex_frame: str) -> list[w.Frame]:
    """The issue's frame, byte for byte, and what the board answered (checked by the host
    against the page as well)."""
    host.settle()
    host.send(bytes.fromhex(hex_frame))
    return host.settle()


def error(code: int, cause: int, detail: int) -> bytes:
    return m.pack(m.ERROR, code=code, cause=cause, detail=detail)


def test_1_read_during_a_run_is_busy(host: Host) -> None:
    # The page used to say that only commands changing memories or starting a run are
    # refused; it now says every command but HELLO, STATUS and STOP is (section 4): the core's
    # memories belong to the run.  The board's answer stays BUSY, now as documented.
    (ack,) = send(host, "0306010101010103154b00")  # RUN 0: free
    assert (ack.type, ack.payload) == (m.ACK, m.pack(m.ACK, acked=m.RUN, value=0))
    (busy,) = send(host, "040502010101010201036b4800")  # READ SYNAPSE[0]
    code, cause = busy.payload[0], busy.payload[1]
    assert (busy.type, busy.seq, code, cause) == (m.ERROR, 2, m.BUSY, m.READ)
    host.command(m.STOP)
    host.check_status()


@pytest.mark.parametrize("frame,answer", [
    ("030701037a3d00", error(m.BAD_MESSAGE, m.STOP, 0)),  # STOP + 1 byte: was ACK
    ("03090103613c00", error(m.BAD_MESSAGE, m.STATUS, 0)),  # STATUS + 1 byte: was STATUS_REPLY
    ("050a01e2e500", error(m.BAD_MESSAGE, m.RESEND, 0)),  # RESEND of 0 bytes: was GONE
    ("030a010103db5b00", error(m.BAD_MESSAGE, m.RESEND, 1)),  # RESEND of 2 bytes: was GONE
])
def test_2_wrong_payload_lengths_are_refused(host: Host, frame: str, answer: bytes) -> None:
    (reply,) = send(host, frame)
    assert (reply.type, reply.seq, reply.payload) == (m.ERROR, 1, answer)
    host.check_status()


@pytest.mark.parametrize("frame,answer", [
    ("04020101036da900", error(m.BAD_MESSAGE, m.RESET, 1)),  # RESET(1) + junk: was 0
    ("0406010501010402165e00", error(m.BAD_MESSAGE, m.RUN, 4)),  # RUN flags 0x02: was 0
    ("040401010101010401d3b300", error(m.BAD_MESSAGE, m.WRITE, 5)),  # half a word: was 0
])
def test_3_bad_message_names_the_offending_byte(host: Host, frame: str, answer: bytes) -> None:
    (reply,) = send(host, frame)
    assert (reply.type, reply.seq, reply.payload) == (m.ERROR, 1, answer)
    host.check_status()


def test_3_an_input_id_out_of_range_is_named_where_it_is(host: Host) -> None:
    (ack,) = send(host, "0406010101010401af3b00")  # streamed RUN 1
    assert ack.type == m.ACK
    (reply,) = send(host, "02080101010102010104085cce00")  # id 8 >= n_inputs, at offset 7
    assert (reply.type, reply.seq, reply.payload) == (m.ERROR, 0,
                                                       error(m.BAD_MESSAGE, m.INPUT, 7))
    assert host.check_status()["step"] == 0  # nothing was computed


def test_4_config_beyond_the_build_names_the_field(host: Host) -> None:
    # CONFIG(16, 9) on a 16-neuron, 8-input build: the field n_inputs (offset 2) is out of
    # range.  It was BAD_ADDRESS with detail 16; a count is not an address, and section 3's
    # rule names the field, as for every other field refused.
    (reply,) = send(host, "0403011002090101010103ce8300")
    assert (reply.type, reply.seq, reply.payload) == (m.ERROR, 1,
                                                       error(m.BAD_MESSAGE, m.CONFIG, 2))
    host.check_status()


def test_5_continued_input_is_refused_not_half_taken(host: Host) -> None:
    # was: the first part computed step 0 at once, the rest got STEP_MISMATCH(1) and its
    # spikes were lost.  The page now refuses CONTINUED in INPUT (section 7), and nothing is
    # computed from either part.
    (ack,) = send(host, "040601020101040141e900")  # streamed RUN 2
    assert ack.type == m.ACK
    (first,) = send(host, "02080101010104018001040126f900")  # step 0 continued, ids 0, 1
    assert (first.type, first.seq, first.payload) == (m.ERROR, 0,
                                                       error(m.BAD_MESSAGE, m.INPUT, 4))
    (rest,) = send(host, "030801010101020106010203d2a400")  # the continuation, seq 1
    assert (rest.type, rest.seq, rest.payload) == (m.ERROR, 1, error(m.SEQ_GAP, m.INPUT, 0))
    status = host.check_status()
    assert (status["step"], status["next_input_seq"], status["seq_errors"]) == (0, 0, 1)
