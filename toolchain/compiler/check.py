"""First pass: refuse what the target cannot represent at all, before any heavy work."""

from __future__ import annotations

import numpy as np

from toolchain.compiler.pipeline import Build


def check(build: Build) -> Build:
    """Pass: per-population representability and delays within the target's range."""
    net, spec = build.network, build.spec
    for pop in net.populations:
        for message in spec.check_population(pop, net.dt):
            build = build.violate(message)
    limit = spec.synapses.max_delay_steps
    for proj in net.projections:
        if proj.size == 0:
            continue
        longest = float(proj.delay.max())
        steps = int(np.rint(longest / net.dt))
        if steps > limit:
            build = build.violate(
                f"Projection '{proj.label}': delay {longest:g} ms is {steps} steps of "
                f"dt = {net.dt:g} ms; {spec.name} stores at most {limit} steps of delay; "
                f"shorten the delay to at most {limit * net.dt:g} ms or use a larger dt"
            )
    return build
