"""The passes that map a network onto Loihi, in order.

The generic passes read Loihi's limits and synapse memory accounting from
:class:`~toolchain.targets.loihi.spec.LoihiSpec`.  Quantisation is Loihi's own: it runs the
numerics' float -> integer conversion (the arithmetic the Loihi simulator executes), so the
report counts exactly the weights the simulation will see zeroed or saturated.
"""

from __future__ import annotations

import numpy as np

from toolchain.compiler.artifact import ProjectionNumerics
from toolchain.compiler.check import check
from toolchain.compiler.encode import encode
from toolchain.compiler.partition import partition
from toolchain.compiler.pipeline import Build, MappingError
from toolchain.compiler.place import place
from toolchain.compiler.quantise import delay_steps
from toolchain.compiler.route import route
from toolchain.targets.loihi.numerics import (
    DEFAULT_VTH_MANT,
    LoihiNumericsError,
    convert_population,
    convert_weights,
    mantissa_range,
)
from toolchain.targets.loihi.timing import estimate_step


def quantise(build: Build) -> Build:
    """Pass: each projection's Loihi weight format, and what it did to the weights."""
    net = build.network
    units: dict[str, float] = {}
    for pop in net.populations:
        try:
            units[pop.label] = convert_population(pop, net.dt,
                                                  vth_mant=DEFAULT_VTH_MANT).units_per_na
        except LoihiNumericsError:
            pass  # the check pass reported it; only a non-strict build gets here
    out = []
    for proj in net.projections:
        if proj.post not in units:  # only a non-strict build gets here: it cannot go on
            raise MappingError("; ".join(build.violations))
        conv = convert_weights(proj.label, proj.weight, units[proj.post])
        low, high = mantissa_range(conv.sign_mode, conv.num_weight_bits)
        error = 0.0
        for a in range(0, proj.size, 1 << 22):  # float64 temporaries in bounded chunks
            back = conv.mantissas[a:a + (1 << 22)] * conv.na_per_mantissa
            error = max(error, float(np.abs(back - proj.weight[a:a + (1 << 22)]).max()))
        lo, hi, rounded, worst = delay_steps(proj.delay, net.dt)
        out.append(ProjectionNumerics(
            projection=proj.label, unit=conv.na_per_mantissa / 2.0**conv.weight_exp,
            exponent=conv.weight_exp, weight_bits=conv.num_weight_bits,
            max_mantissa=max(-low, high), zeroed=conv.n_zeroed, saturated=conv.n_saturated,
            max_abs_error=error, delay_bits=int(max(hi - 1, 0)).bit_length(),
            min_delay_steps=lo, max_delay_steps=hi, delays_rounded=rounded,
            max_delay_error=worst,
        ))
        del conv
    return build.replace(numerics=tuple(out))


PASSES = (check, quantise, partition, place, route, estimate_step, encode)
