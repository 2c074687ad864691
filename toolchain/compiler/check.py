"""First pass: refuse what the target cannot represent at all, before any heavy work."""

from __future__ import annotations

import numpy as np

from toolchain.compiler.fit import fit_hint, shorten_delays
from toolchain.compiler.pipeline import Build, MappingError, violation


def check(build: Build) -> Build:
    """Pass: per-population representability and limits, delays within the target's range.

    What the target cannot represent at all (``spec.check_population``) is refused even by
    a non-strict compile; a broken limit (``spec.population_limits``, the delay range) is a
    violation.  With fit='approximate' the target first fits its populations
    (``spec.fit_population``: merged parameters, clipped registers) and delays beyond its
    range are shortened to the longest it stores; the build's network becomes the network
    as the target runs it."""
    if build.approximating:
        build = _approximate(build)
    net, spec = build.network, build.spec
    for pop in net.populations:
        for message in spec.check_population(pop, net.dt):
            raise MappingError(message)
        for broken in spec.population_limits(pop, net.dt):
            build = build.violate(broken)
    limit = spec.synapses.max_delay_steps
    for proj in net.projections:
        if proj.size == 0:
            continue
        longest = float(proj.delay.max())
        steps = int(np.rint(longest / net.dt))
        if steps > limit:
            fix = (f"shorten the delay to at most {limit * net.dt:g} ms or use a larger dt, "
                   "or " + fit_hint("shorten it"))
            build = build.violate(violation(
                "projection", proj.label, "delay_steps", steps, limit, fix,
                f"Projection '{proj.label}': delay {longest:g} ms is {steps} steps of "
                f"dt = {net.dt:g} ms; {spec.name} stores at most {limit} steps of delay; {fix}"))
    return build


def _approximate(build: Build) -> Build:
    net, spec = build.network, build.spec
    pops, applied = [], []
    for pop in net.populations:
        fitted, done = spec.fit_population(pop, net.dt)
        pops.append(fitted)
        applied += done
    net = net.replace(populations=tuple(pops))
    net, shortened = shorten_delays(net, net.dt, spec.synapses.max_delay_steps, spec.name)
    for a in (*applied, *shortened):
        build = build.approximate(a)
    return build.replace(network=net)
