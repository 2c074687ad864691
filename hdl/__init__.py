"""Gateware of spikeport's FPGA core (Amaranth).  Generated Verilog is a build output."""
