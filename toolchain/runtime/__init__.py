"""Talking to a board over UART: the wire protocol, transports, sessions, virtual boards."""

# The boards served on a pseudo-terminal, no hardware needed (``virtual.pty_board``): the
# golden model behind the Python protocol engine, and the device's Verilog under Verilator.
VIRTUAL, RTL_SIM = "virtual", "rtl-sim"
