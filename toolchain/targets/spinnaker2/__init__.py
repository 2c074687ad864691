"""SpiNNaker2: 152 Cortex-M4F PEs per chip, SRAM-resident synapse rows, multicast key/mask
routing between chips, timer-tick real-time execution.

``spec`` (machine and runtime conventions), ``mapper`` (quantise, slice, place),
``routing`` (keys, router tables), ``numerics`` (PE arithmetic), ``timing`` (tick budget,
late packets), ``artifact`` (the shared artifact and the report section), ``sim`` (the
engine plug-ins) and ``target``.
"""

from toolchain.targets.spinnaker2.mapper import MappingError
from toolchain.targets.spinnaker2.routing import RoutingError
from toolchain.targets.spinnaker2.spec import SpecError, SpiNNaker2Spec
from toolchain.targets.spinnaker2.target import SpiNNaker2Detail, SpiNNaker2Target, board_named

__all__ = ["MappingError", "RoutingError", "SpecError", "SpiNNaker2Detail", "SpiNNaker2Spec",
           "SpiNNaker2Target", "board_named"]
