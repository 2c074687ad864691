"""spikeforge: write a spiking network once in PyNN; compile, co-simulate and deploy it on
neuromorphic hardware (Loihi, SpiNNaker2, DYNAP-SE, and an open FPGA LIF/STDP core)."""

__version__ = "0.1.0"
