"""The passes that map a network onto Loihi, in order.

The generic passes read Loihi's limits, synapse memory accounting and weight format from
:class:`~toolchain.targets.loihi.spec.LoihiSpec`; the step cost model is Loihi's own.
"""

from __future__ import annotations

from toolchain.compiler.check import check
from toolchain.compiler.encode import encode
from toolchain.compiler.partition import partition
from toolchain.compiler.place import place
from toolchain.compiler.quantise import quantise
from toolchain.compiler.route import route
from toolchain.targets.loihi.timing import estimate_step

PASSES = (check, quantise, partition, place, route, estimate_step, encode)
