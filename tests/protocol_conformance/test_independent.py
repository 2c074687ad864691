"""The conformance client is written from docs/protocol.md, not from our implementation:
its framing, messages and host import nothing of the project, and its codecs meet the
page's own check values."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.protocol_conformance import msg as m
from tests.protocol_conformance import wire as w

HERE = Path(__file__).parent
CLIENT = ("wire.py", "msg.py", "client.py", "host.py", "fuzz.py")


@pytest.mark.parametrize("name", CLIENT)
def test_client_code_imports_nothing_of_the_project(name: str) -> None:
    tree = ast.parse((HERE / name).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not [i for i in imported if i.startswith(("toolchain", "hdl"))]


def test_codecs_meet_the_pages_check_values() -> None:
    assert w.crc16(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE's catalogued check value
    assert w.MAX_ENCODED == 1033
    assert w.cobs(bytes(range(1, 255)))[-1] == 0x01  # a full last block is closed
    with pytest.raises(w.Bad, match="not the canonical encoding"):
        w.uncobs(w.cobs(bytes(range(1, 255)))[:-1])
    assert w.uncobs(w.cobs(b"\x00\x11\x00")) == b"\x00\x11\x00"
    # section 7: a lone spike with two-byte ids rides in its header; ids must ascend
    assert m.record(0, [5], 10) == m.varint(5 << 1 | 1)
    with pytest.raises(m.Refused) as e:
        m.parse_block(m.block(0, [[3, 1]], 8), 8, 8, input_block=True)
    assert e.value.offset == 8
