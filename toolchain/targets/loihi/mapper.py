"""The passes that map a network onto Loihi, in order.

The generic passes read Loihi's limits and synapse memory accounting from
:class:`~toolchain.targets.loihi.spec.LoihiSpec`.  Quantisation is Loihi's own: it runs the
numerics' float -> integer conversion (the arithmetic the Loihi simulator executes), so the
report counts exactly the weights the simulation will see zeroed or saturated.
"""

from __future__ import annotations

from functools import cache, partial, update_wrapper

import numpy as np

from toolchain.compiler.check import check
from toolchain.compiler.describe import WeightFormat, projection_numerics
from toolchain.compiler.encode import encode
from toolchain.compiler.fit import approximation, fit_hint
from toolchain.compiler.partition import partition
from toolchain.compiler.pipeline import Build, MappingError, Pass, violation
from toolchain.compiler.place import place
from toolchain.compiler.route import route
from toolchain.ir import Projection, WeightDependence
from toolchain.ir.network import refusals
from toolchain.targets.loihi.artifact import compartment_section, learning_section
from toolchain.targets.loihi.convert import (
    DEFAULT_VTH_MANT,
    WeightConversion,
    convert_population,
    convert_weights,
)
from toolchain.targets.loihi.fixed import WEIGHT_EXP_MAX, LoihiNumericsError, mantissa_range
from toolchain.targets.loihi.learning import convert_plastic_weights, map_stdp_rule
from toolchain.targets.loihi.timing import estimate_step
from toolchain.targets.options import option_hint

# the weight dependences the learning engine runs (learning.py: map_stdp_rule)
LEARNING_RULES = (WeightDependence.ADDITIVE, WeightDependence.MULTIPLICATIVE,
                  WeightDependence.ADDITIVE_POTENTIATION_MULTIPLICATIVE_DEPRESSION,
                  WeightDependence.GUTIG)  # Gutig with exponents 0 or 1 (learning.py)


def quantise(build: Build, *, learning_epoch: int = 1, stochastic: bool = False,
             vth_mant: int = DEFAULT_VTH_MANT) -> Build:
    """Pass: each projection's Loihi weight format, and what it did to the weights; for a
    plastic projection also its STDP rule on the learning engine (epoch length in steps,
    stochastic or nearest weight rounding, as the simulator will run it)."""
    net = build.network
    for message in refusals(net, "loihi", stdp=LEARNING_RULES):
        raise MappingError(message)  # nothing to map it to: refused even when not strict
    conversions = {pop.label: convert_population(pop, net.dt, vth_mant=vth_mant,
                                                 clip_refractory=True)
                   for pop in net.populations}  # the check pass refused what does not convert
    out = []
    for proj in net.projections:
        units = conversions[proj.post].units_for(proj.receptor)
        if proj.plasticity is not None:
            conv = convert_plastic_weights(proj, units)
            build = _check_learning(build, proj, conv, learning_epoch, stochastic)
        else:
            conv = convert_weights(proj.label, proj.weight, units)
        low, high = mantissa_range(conv.sign_mode, conv.num_weight_bits)
        if conv.n_saturated:
            build = _saturated(build, proj, conv, max(-low, high), vth_mant)
        fmt = WeightFormat(unit=conv.na_per_mantissa / 2.0**conv.weight_exp,
                           exponent=conv.weight_exp, weight_bits=conv.num_weight_bits,
                           max_mantissa=max(-low, high))
        steps = np.rint(float(proj.delay.max()) / net.dt) if proj.size else 1
        out.append(projection_numerics(
            proj, fmt, realised=lambda sl, c=conv: c.mantissas[sl] * c.na_per_mantissa,
            saturated=conv.n_saturated, step_ms=net.dt,
            delay_bits=int(max(steps - 1, 0)).bit_length()))
        del conv
    return build.replace(numerics=tuple(out))


def _saturated(build: Build, proj: Projection, conv: WeightConversion, largest: int,
               vth_mant: int) -> Build:
    """Weights beyond the largest mantissa at the largest weight exponent: a broken limit
    (strict compiles refuse it, naming the range and the voltage scale that fits them),
    clipped to the range only under fit='approximate', and recorded."""
    top = largest * conv.na_per_mantissa  # nA of the largest mantissa at weight_exp 7
    w = np.abs(np.asarray(proj.weight, np.float64))
    worst = float(w.max())
    fits = max(1, int(vth_mant * top / worst))  # the weights scale with the voltage scale
    if build.approximating:
        return build.approximate(approximation(
            "weights_clipped", "projection", proj.label, synapses=conv.n_saturated,
            limit="weight_range",
            detail=f"{conv.n_saturated} weights up to {worst:g} nA became {top:.4g} nA, the "
                   f"largest of the weight format at vth_mant={vth_mant}"))
    fix = (f"lower the voltage scale to give the weights room: "
           f"{option_hint('vth_mant', fits)}, or " + fit_hint(f"clip them to {top:.4g} nA"))
    return build.violate(violation(
        "projection", proj.label, "weight_range", worst, top, fix,
        f"Projection '{proj.label}': {conv.n_saturated} weights up to {worst:g} nA exceed "
        f"the largest Loihi weight onto population '{proj.post}', {top:.4g} nA (mantissa "
        f"{largest} << weight exponent {WEIGHT_EXP_MAX} at its voltage scale, vth_mant="
        f"{vth_mant}), {worst / top:.3g} times over; {fix}"))


def _check_learning(build: Build, proj: Projection, conv: WeightConversion, epoch: int,
                    stochastic: bool) -> Build:
    """The projection's STDP rule on Loihi's learning engine: refused if it does not map
    (no setting of the engine expresses it); its quantisation (realised taus, rates,
    bounds) goes to ``extras["learning"]``."""
    try:
        rule = map_stdp_rule(proj, conv, build.network.dt, epoch_steps=epoch,
                             stochastic=stochastic)
    except LoihiNumericsError as e:
        raise MappingError(str(e)) from None
    learning = dict(build.extras.get("learning", {}))
    learning[proj.label] = rule.report
    return build.replace(extras={**build.extras, "learning": learning})


def passes(learning_epoch: int = 1, stochastic: bool = False,
           vth_mant: int = DEFAULT_VTH_MANT) -> tuple[Pass, ...]:
    """The passes in order, the quantise pass set up for the learning engine's options
    and the voltage scale (the same options give the same tuple)."""
    return _passes(int(learning_epoch), bool(stochastic), int(vth_mant))


@cache
def _passes(learning_epoch: int, stochastic: bool, vth_mant: int) -> tuple[Pass, ...]:
    configured = update_wrapper(
        partial(quantise, learning_epoch=learning_epoch, stochastic=stochastic,
                vth_mant=vth_mant), quantise)
    return (check, configured, partition, place, route, estimate_step, compartment_section,
            learning_section, encode)


PASSES = passes()
