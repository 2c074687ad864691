"""setup/run/reset/end and the state queries, built from PyNN's common implementations."""

from __future__ import annotations

from typing import Any

from pyNN import common
from pyNN.common.control import DEFAULT_MAX_DELAY, DEFAULT_MIN_DELAY, DEFAULT_TIMESTEP
from pyNN.recording import get_io

from toolchain.pynn import simulator
from toolchain.targets import TARGETS, UnknownTargetError


def setup(timestep: float = DEFAULT_TIMESTEP, min_delay: float | str = DEFAULT_MIN_DELAY,
          target: str | None = None, seed: int = 0, **extra_params: Any) -> int:
    """Start a new network.

    ``target`` names where ``run()`` executes it (see ``spikeport info``); it defaults to
    ``simulator.DEFAULT_TARGET``.  ``seed`` (or ``rng_seed``) seeds the Poisson sources.
    Other keyword arguments that PyNN does not define go to the target's constructor, if
    it takes them (scripts pass options meant for other simulators).
    """
    max_delay = extra_params.pop("max_delay", DEFAULT_MAX_DELAY)
    seed = extra_params.pop("rng_seed", seed)  # the name pyNN.nest uses
    common.setup(timestep, min_delay, max_delay=max_delay, **extra_params)
    spike_precision = extra_params.get("spike_precision", "on_grid")
    for generic in ("rank", "num_processes", "threads", "verbosity", "spike_precision"):
        extra_params.pop(generic, None)
    name = target or simulator.state.default_target
    if name not in TARGETS:
        known = ", ".join(TARGETS)
        raise UnknownTargetError(f"setup(): unknown target '{name}'; known targets: {known}")
    state = simulator.state
    state.clear()
    # PyNN numbers default labels (population0, projection0, ...) per process; a new network
    # numbers them from 0, so that a script's labels, and the random streams seeded by them,
    # do not depend on what ran before it in the same process
    common.Population._nPop = 0
    common.Projection._nProj = 0
    common.Assembly._count = 0
    state.dt = float(timestep)
    state.min_delay = min_delay
    state.max_delay = max_delay
    state.spike_precision = spike_precision
    state.target_name = name
    state.target_options = extra_params
    state.seed = int(seed)
    return rank()


def end(compatible_output: bool = True) -> None:
    """Write the data that ``record(..., to_file=...)`` asked for."""
    for population, variables, filename in simulator.state.write_on_end:
        io = get_io(filename)
        population.write_data(io, variables)
    simulator.state.write_on_end = []


run, run_until = common.build_run(simulator)
run_for = run

reset = common.build_reset(simulator)

initialize = common.initialize

get_current_time, get_time_step, get_min_delay, get_max_delay, \
    num_processes, rank = common.build_state_queries(simulator)
