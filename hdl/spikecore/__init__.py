"""Amaranth 0.5 gateware of spikeport's FPGA LIF/STDP core.

Every width and size comes from a ``toolchain.targets.fpga.spec.CoreSpec``; the golden
model in ``toolchain.targets.fpga.model`` is the reference the RTL is tested against.
"""

from hdl.spikecore.arith import NeuronUpdate, StdpUpdate, TraceUpdate
from hdl.spikecore.core import SpikeCore, cmd_layout, word_layout

__all__ = ["NeuronUpdate", "SpikeCore", "StdpUpdate", "TraceUpdate", "cmd_layout",
           "word_layout"]
