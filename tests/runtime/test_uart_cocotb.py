"""The generated Verilog of the UART link layer under Verilator, driven through its pins by
cocotbext-uart (hdl/uart/tb/echo_tb.py): frames echo back byte for byte as protocol.py
encodes them; a damaged frame is dropped and counted."""

from __future__ import annotations

import pytest

from hdl.spikecore.verify import simulator_available

pytestmark = [pytest.mark.hdl, pytest.mark.slow]


def test_link_echo_on_verilator() -> None:
    reason = simulator_available("verilator")
    if reason:
        pytest.skip(reason)
    from hdl.uart.verify_link import verify_link

    passed, _seconds = verify_link("verilator")
    assert passed, "see build/cocotb/verilator-link-echo-div10/results.xml"
