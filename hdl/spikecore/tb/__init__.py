"""cocotb testbenches of the core and the random stimuli they share with the Amaranth tests."""
