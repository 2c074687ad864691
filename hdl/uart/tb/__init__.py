"""cocotb testbenches of the UART link layer."""
