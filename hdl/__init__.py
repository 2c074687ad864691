"""Gateware of spikeforge's FPGA core (Amaranth).  Generated Verilog is a build output."""
