"""Generated Verilog under Verilator, driven through its UART pins by cocotbext-uart: the
link-layer echo device (hdl/uart/tb/echo_tb.py: frames echo back byte for byte as protocol.py
encodes them; a damaged frame is dropped and counted) and the core behind the command decoder
(hdl/uart/tb/device_tb.py: HELLO, WRITE and READ answered as protocol.py says)."""

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


def test_core_behind_the_protocol_on_verilator() -> None:
    reason = simulator_available("verilator")
    if reason:
        pytest.skip(reason)
    from hdl.uart.verify_link import verify_device

    passed, _seconds = verify_device("verilator")
    assert passed, "see build/cocotb/verilator-link-device-tiny-div10/results.xml"
