"""The passes that map a network onto Loihi, in order.

The generic passes read Loihi's limits and synapse memory accounting from
:class:`~toolchain.targets.loihi.spec.LoihiSpec`.  Quantisation is Loihi's own: it runs the
numerics' float -> integer conversion (the arithmetic the Loihi simulator executes), so the
report counts exactly the weights the simulation will see zeroed or saturated.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from toolchain.ir import (
    ACSource,
    DCSource,
    Network,
    NoisyCurrentSource,
    Projection,
    StepCurrentSource,
    WeightDependence,
)
from toolchain.ir.network import refusals
from toolchain.targets.loihi.artifact import (
    bias_section,
    compartment_section,
    learning_section,
)
from toolchain.targets.loihi.convert import (
    DEFAULT_VTH_MANT,
    LifConversion,
    NoiseConversion,
    WeightConversion,
    convert_noise,
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
# the current sources: the bias (set by the host, rewritten per step by an embedded core
# for an AC source) and the compartments' noise generator (NoisyCurrentSource, approximate)
CURRENT_SOURCES = (DCSource, StepCurrentSource, ACSource, NoisyCurrentSource)


def quantise(build: Build, *, learning_epoch: int = 1, stochastic: bool = False,
             vth_mant: int = DEFAULT_VTH_MANT) -> Build:
    """Pass: each projection's Loihi weight format, and what it did to the weights; for a
    plastic projection also its STDP rule on the learning engine (epoch length in steps,
    stochastic or nearest weight rounding, as the simulator will run it)."""
    net = build.network
    for message in refusals(net, "loihi", stdp=LEARNING_RULES, currents=CURRENT_SOURCES,
                            vogels=True):
        raise MappingError(message)  # nothing to map it to: refused even when not strict
    conversions = {pop.label: convert_population(pop, net.dt, vth_mant=vth_mant,
                                                 clip_refractory=True)
                   for pop in net.populations}  # the check pass refused what does not convert
    build = _noise(build, conversions)
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


def noise_conversions(network: Network, conversions: Mapping[str, LifConversion]
                      ) -> dict[str, NoiseConversion]:
    """Each NoisyCurrentSource of ``network`` on its population's noise generator; raises
    :class:`MappingError` where the generators' per-core registers cannot hold them (one
    exponent per core, so per population here; one generator per compartment)."""
    out: dict[str, NoiseConversion] = {}
    by_pop: dict[str, list[NoisyCurrentSource]] = {}
    for src in network.currents:
        if not isinstance(src, NoisyCurrentSource):
            continue
        conv = conversions[src.target]
        try:
            out[src.label] = convert_noise(src.label, src.mean, src.stdev, src.dt,
                                           network.dt, conv.bias_units_per_na)
        except LoihiNumericsError as e:
            raise MappingError(str(e)) from None
        by_pop.setdefault(src.target, []).append(src)
    for target, sources in by_pop.items():
        exps = {out[s.label].exp for s in sources if out[s.label].multiplier}
        if len(exps) > 1:
            names = ", ".join(f"'{s.label}' ({out[s.label].exp})" for s in sources)
            raise MappingError(
                f"Population '{target}': noisy current sources {names} need different noise "
                "exponents, and a Loihi core has one (noiseExp0, shared by its "
                "compartments); give them the same stdev, or split the population")
        seen = np.zeros(conversions[target].params.size, dtype=np.int64)
        for src in sources:
            np.add.at(seen, src.indices, 1)
        if seen.max(initial=0) > 1:
            i = int(np.argmax(seen))
            raise MappingError(
                f"Population '{target}' neuron {i}: {int(seen[i])} noisy current sources "
                "inject into it, and a Loihi compartment has one noise generator; use one "
                "NoisyCurrentSource per neuron")
    return out


def _noise(build: Build, conversions: Mapping[str, LifConversion]) -> Build:
    """NoisyCurrentSources: Loihi's compartments draw uniform noise, not Gaussian, so a
    strict compile refuses them, and fit='approximate' runs each on the noise generator
    (its mean on the bias) and records what that changes."""
    noise = noise_conversions(build.network, conversions)
    for src in build.network.currents:
        if not isinstance(src, NoisyCurrentSource):
            continue
        nc = noise[src.label]
        what = (f"NoisyCurrentSource '{src.label}': Loihi's noise generator adds a uniform "
                f"draw (-128..127 << exponent, one per compartment and step) to v, not "
                f"PyNN's Gaussian shared by the cells it enters")
        if not build.approximating:
            raise MappingError(
                f"{what}; inject a StepCurrentSource of the samples you want instead, or "
                + fit_hint(f"draw the noise on the generator (stdev {nc.stdev_na:.4g} nA "
                           f"per step becomes {nc.realised_stdev_na:.4g} nA, uniform)"))
        build = build.approximate(approximation(
            "noise_uniform", "source", src.label, neurons=int(src.indices.size),
            detail=f"{src.stdev:g} nA Gaussian noise, a new sample every {src.dt:g} ms and "
                   f"one for all its cells, became the noise generator's uniform draws, "
                   f"independent per neuron and step, at exponent {nc.exp}: "
                   f"{nc.realised_stdev_na:.4g} nA per step for {nc.stdev_na:.4g} "
                   f"({nc.stdev_rel_error:+.1%}); its mean {src.mean:g} nA is the bias"))
    if noise:
        build = build.replace(extras={**build.extras, "noise": noise})
    return build


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
            bias_section, learning_section, encode)


PASSES = passes()
