"""Simulated boards: the device side of the UART protocol, served on a pseudo-terminal so
that a host talks to them exactly as to a board on a serial port.

This layer sits above both the host side (``toolchain.runtime``: protocol, transport,
session) and the gateware (``hdl``): ``virtual`` is the protocol engine in Python in front
of the golden model (or of the core's RTL in the Amaranth simulator, ``rtl_core``);
``verilator_board`` is the device's generated Verilog under Verilator, its UART pins bridged
to a pty by the cocotb testbench ``pty_bridge_tb``.  The host side finds these boards by
name through the ``spikeport.pty_boards`` entry points (``toolchain.runtime.pty_boards``)
and never imports this package.
"""
