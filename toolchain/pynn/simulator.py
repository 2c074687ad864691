"""The backend's global state: what PyNN's ``common`` code calls ``simulator.state``.

Nothing runs while a script builds its network: populations, projections, current
sources and recording requests are only collected.  The first ``run()`` turns them into
one ``toolchain.ir.Network``, compiles it for the chosen target and starts that target's
simulator; later ``run()`` calls continue it.  What a script changes between runs
(parameters, initial values, spike times and rates, current sources, synaptic parameters)
is built and compiled again and handed to the running simulator's ``update``; a simulator
that cannot apply a change says which and why.  Weights are written to the target at once.
Changing what the network is (populations, connections, delays, recordings) after the
start needs a ``reset()`` first.
"""

from __future__ import annotations

import logging
from typing import Any

from pyNN import common

from toolchain.sim.results import SimulationResult

name = "spikeport"
logger = logging.getLogger("PyNN")

# What `setup()` uses when the script does not name a target; `spikeport pynn --target`
# changes it before the script runs.
DEFAULT_TARGET = "reference"


class ID(int, common.IDMixin):
    def __init__(self, n: int) -> None:
        int.__init__(n)
        common.IDMixin.__init__(self)


class NetworkChangedError(RuntimeError):
    """The network was changed after the simulation started in a way the running target
    cannot follow; the message says what and how to go on."""


class State(common.control.BaseState):
    def __init__(self) -> None:
        common.control.BaseState.__init__(self)
        self.mpi_rank = 0
        self.num_processes = 1
        self.default_target = DEFAULT_TARGET
        # target options from the command line (`-O`), per target: over setup()'s
        self.command_line_options: dict[str, dict[str, Any]] = {}
        self.dt = 0.1
        self._min_delay: float | str = "auto"
        self.max_delay: float | str = "auto"
        self.spike_precision = "on_grid"
        self.segment_counter = -1
        self.clear()

    # -- what the script built -------------------------------------------------------
    def clear(self) -> None:
        self.recorders: set = set()
        self.populations: list = []
        self.projections: list = []
        self.current_sources: list = []
        self.id_counter = 0
        self.segment_counter = -1
        self.write_on_end: list = []
        self.target_name = self.default_target
        self.target_options: dict[str, Any] = {}
        self.seed = 0
        self.network = None  # the ir.Network of the current simulator
        self.compiled: Any = None
        self.simulator: Any = None
        self.built: Any = None  # toolchain.pynn.build.Built: labels and index maps
        self._result: SimulationResult | None = None
        self._changed: list[str] = []
        self.running = False
        self.t_start = 0.0
        self.segment_counter += 1

    def changed(self, what: str = "the network") -> None:
        """Note that the network description changed since it was last compiled."""
        self._changed.append(what)

    # -- delays ------------------------------------------------------------------------
    @property
    def min_delay(self) -> float | str:
        """setup()'s min_delay; with "auto", the shortest delay of the network (as NEST
        reports it), or dt before there is one."""
        if self._min_delay != "auto":
            return self._min_delay
        delays = [float(p._delay.min()) for p in self.projections if len(p)]
        return float(min(delays)) if delays else self.dt

    @min_delay.setter
    def min_delay(self, value: float | str) -> None:
        self._min_delay = value

    @property
    def min_delay_value(self) -> float:
        """The shortest delay a synapse may have: setup()'s min_delay, or dt for "auto"."""
        return self.dt if self._min_delay == "auto" else float(self._min_delay)

    # -- time --------------------------------------------------------------------------
    @property
    def t(self) -> float:
        return float(self.simulator.t) if self.simulator is not None else 0.0

    def run(self, simtime: float) -> None:
        self.run_until(self.t + simtime)

    def run_until(self, tstop: float) -> None:
        if self.simulator is None or self._changed:
            self._compile()
        self.simulator.run_until(tstop)
        self.running = True
        self._result = None

    def _compile(self) -> None:
        from toolchain.pynn.build import build_network
        from toolchain.sim.engine import Engine
        from toolchain.targets import get_target

        built = build_network(self)
        if built.network.sources and not built.network.populations:
            # spike sources only (a script recording a SpikeSourcePoisson, as PyNN's own
            # tests do): nothing to map, and every target realises sources on the host, so
            # their trains are the host engine's whatever the target
            compiled = built.network
            if self.simulator is not None and self.t > 0:
                self._update(compiled)
            else:
                self.simulator = Engine(compiled, target=self.target_name)
            self.built, self.network, self.compiled = built, built.network, None
            self._changed = []
            self._result = None
            return
        options = {**target_options(self.target_name, self.target_options),
                   **self.command_line_options.get(self.target_name, {})}
        target = get_target(self.target_name, **options)
        compiled = target.compile(built.network)
        if self.simulator is not None and self.t > 0:
            self._update(compiled)
        else:
            self.simulator = target.simulator(compiled)
        self.built, self.network, self.compiled = built, built.network, compiled
        self._changed = []
        self._result = None

    def _update(self, compiled: Any) -> None:
        """Hand the changed network to the running simulator."""
        from toolchain.sim.kernels import RunTimeChangeError

        what = "; ".join(dict.fromkeys(self._changed))
        update = getattr(self.simulator, "update", None)
        if update is None:
            raise NetworkChangedError(
                f"{what} changed after the simulation started (t = {self.t:g} ms), and the "
                f"'{self.target_name}' target cannot change a running network: its simulator "
                "keeps the compiled network fixed; call reset() first, so that the next run "
                "compiles the changed one")
        try:
            update(compiled)
        except RunTimeChangeError as e:
            raise NetworkChangedError(
                f"{what} changed after the simulation started (t = {self.t:g} ms), which the "
                f"'{self.target_name}' target cannot follow: {e}") from None

    def result(self) -> SimulationResult | None:
        if self.simulator is None:
            return None
        if self._result is None:
            self._result = self.simulator.result()
        return self._result

    def reset(self) -> None:
        """Back to t = 0 with the initial state and the weights the script set."""
        if self.simulator is not None:
            self.simulator.reset()
            for projection in self.projections:
                projection._push_weights()
        self.running = False
        self.t_start = 0.0
        self.segment_counter += 1
        self._result = None


def target_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The ``setup()`` keywords that are options of the target (its declared ``OPTIONS``).

    PyNN scripts pass keywords meant for other simulators (``threads``, ``filename``...);
    like every PyNN backend, this one ignores what is not for it, and says so.
    """
    from toolchain.targets import target_class

    declared = target_class(name).OPTIONS.names()
    ignored = sorted(set(options) - set(declared))
    if ignored:
        logger.warning("setup(): target '%s' takes no option(s) %s; ignored", name,
                       ", ".join(ignored))
    return {k: v for k, v in options.items() if k in declared}


state = State()
