"""The passes that map a network onto Loihi, in order.

The generic passes read Loihi's limits and synapse memory accounting from
:class:`~toolchain.targets.loihi.spec.LoihiSpec`.  Quantisation is Loihi's own: it runs the
numerics' float -> integer conversion (the arithmetic the Loihi simulator executes), so the
report counts exactly the weights the simulation will see zeroed or saturated.
"""

from __future__ import annotations

from functools import cache, partial, update_wrapper

import numpy as np

from toolchain.compiler.artifact import ProjectionNumerics
from toolchain.compiler.check import check
from toolchain.compiler.encode import encode
from toolchain.compiler.partition import partition
from toolchain.compiler.pipeline import Build, MappingError
from toolchain.compiler.place import place
from toolchain.compiler.quantise import delay_steps
from toolchain.compiler.route import route
from toolchain.compiler.spec import Pass
from toolchain.ir import Projection
from toolchain.targets.loihi.convert import (
    DEFAULT_VTH_MANT,
    WeightConversion,
    convert_population,
    convert_weights,
)
from toolchain.targets.loihi.fixed import LoihiNumericsError, mantissa_range
from toolchain.targets.loihi.learning import convert_plastic_weights, map_stdp_rule
from toolchain.targets.loihi.numerics import LoihiWeights
from toolchain.targets.loihi.timing import estimate_step


def quantise(build: Build, *, learning_epoch: int = 1, stochastic: bool = False) -> Build:
    """Pass: each projection's Loihi weight format, and what it did to the weights; for a
    plastic projection also its STDP rule on the learning engine (epoch length in steps,
    stochastic or nearest weight rounding, as the simulator will run it)."""
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
        if proj.plasticity is not None:
            conv = convert_plastic_weights(proj, units[proj.post])
            build = _check_learning(build, proj, conv, learning_epoch, stochastic)
        else:
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


def _check_learning(build: Build, proj: Projection, conv: WeightConversion, epoch: int,
                    stochastic: bool) -> Build:
    """The projection's STDP rule on Loihi's learning engine: a violation if it does not
    map; its quantisation (realised taus, rates, bounds) goes to ``extras["learning"]``."""
    try:
        rule = map_stdp_rule(proj, LoihiWeights.from_conversion(conv), build.network.dt,
                             epoch_steps=epoch, stochastic=stochastic)
    except LoihiNumericsError as e:
        return build.violate(str(e))
    learning = dict(build.extras.get("learning", {}))
    learning[proj.label] = rule.report
    return build.replace(extras={**build.extras, "learning": learning})


def passes(learning_epoch: int = 1, stochastic: bool = False) -> tuple[Pass, ...]:
    """The passes in order, the quantise pass set up for the learning engine's options
    (the same options give the same tuple)."""
    return _passes(int(learning_epoch), bool(stochastic))


@cache
def _passes(learning_epoch: int, stochastic: bool) -> tuple[Pass, ...]:
    configured = update_wrapper(
        partial(quantise, learning_epoch=learning_epoch, stochastic=stochastic), quantise)
    return (check, configured, partition, place, route, estimate_step, encode)


PASSES = passes()
