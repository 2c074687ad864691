"""The ``board`` target: a PyNN script's network compiled for the FPGA core that a board
reports in its handshake, then run on that board over UART.

It is the ``fpga`` target with the golden model swapped for a :class:`Session`: compile
is the same (for the board's build), and results come back in the same
``SimulationResult`` form, so ``get_data()`` in a script works unchanged.  The board streams
spikes only: a compile refuses recordings of state variables by name.  It runs artifacts
compiled for the ``fpga`` target too, when they are for the board's build.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from toolchain.compiler.artifact import CompiledNetwork, TargetDetail
from toolchain.ir import Network
from toolchain.progress import Task, task
from toolchain.runtime.session import Session
from toolchain.targets.fpga.mapper import MappedNetwork, MappingError
from toolchain.targets.fpga.spec import PRESETS, CoreSpec
from toolchain.targets.fpga.target import FpgaDetail, FpgaSimulator, FpgaTarget
from toolchain.targets.options import RUN, Option, Options


@dataclass
class BoardDefaults:
    """What ``spikeport run`` sets before the script's ``setup(target="board")``."""

    port: str | None = None
    baud: int = 1_000_000
    on_step: Callable[[int, np.ndarray], None] | None = None
    sessions: list[Session] = field(default_factory=list)  # opened here, closed by the caller

    def close_all(self) -> None:
        while self.sessions:
            self.sessions.pop().close()


DEFAULTS = BoardDefaults()


def named_spec(spec: CoreSpec) -> CoreSpec:
    """The preset equal to ``spec`` (for readable messages), else ``spec`` itself."""
    return next((s for s in PRESETS.values() if s == spec), spec)


class BoardTarget(FpgaTarget):
    """Our FPGA core on a board over UART (``port``: a serial device or a virtual board's pty).

    The build is the one the board reports in its handshake; ``build`` only checks it."""

    name: ClassVar[str] = "board"
    OPTIONS: ClassVar[Options] = Options(
        Option("port", str, None, "the board's serial device (or a virtual board's pty)",
               stage=RUN),
        Option("baud", int, None, "serial rate (1000000)", stage=RUN),
        Option("build", str, None, "the core preset the board must carry (checked against "
               "its handshake)", choices=tuple(PRESETS), python=(CoreSpec,)),
    )

    @classmethod
    def catalogue(cls) -> list[str]:
        lines = [line for line in FpgaTarget.catalogue() if not line.startswith("boards")]
        presets = lines[:1 + len(PRESETS)]
        return [*presets, "boards: the build is the one the board reports; `spikeport run "
                "--board NAME` picks the board (`spikeport boards list`)"]

    def configure(self) -> None:
        port = self.config["port"] or DEFAULTS.port
        if port is None:
            raise ValueError(
                "target 'board' needs a serial port: setup(target='board', port='/dev/ttyUSB1') "
                "or `spikeport run SCRIPT --board NAME --port PORT`"
            )
        self.session = Session.open(port, self.config["baud"] or DEFAULTS.baud)
        DEFAULTS.sessions.append(self.session)
        info = self.session.info
        assert info is not None
        self.spec = named_spec(info.spec())
        self.board = self.spec.name
        build = self.config["build"]
        if build is not None:
            wanted = build if isinstance(build, CoreSpec) else FpgaTarget(build=build).spec
            self.session.check_build(wanted, f"setup(build='{wanted.name}')")

    def saved_options(self) -> dict[str, object]:
        """The board's build, as the ``fpga`` target names it."""
        return FpgaTarget(build=self.spec).saved_options()

    def compile(self, network: Network, **kwargs: object) -> CompiledNetwork:
        """The ``fpga`` target's artifact for the board's build (so it also runs on the
        golden model, and on any board carrying that build)."""
        art = super().compile(network, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(art, target=FpgaTarget.name)

    def accept(self, compiled: object) -> CompiledNetwork:
        """An ``fpga`` artifact for the build the board carries."""
        from toolchain.targets import target_for

        if not isinstance(compiled, CompiledNetwork) or compiled.target != FpgaTarget.name:
            return FpgaTarget.accept(self, compiled)  # says what is wrong with it
        theirs = target_for(compiled).spec
        if theirs != self.spec:
            raise ValueError(
                f"the artifact was compiled for build '{theirs.name}', but the board carries "
                f"'{self.spec.name}'; compile for the board's build (-O build={self.spec.name})")
        if compiled.violations:
            raise MappingError(
                f"network '{compiled.network.label}' does not fit build '{theirs.name}' "
                f"({len(compiled.violations)} limit(s) broken, first: "
                f"{compiled.violations[0].message})")
        return compiled

    def runs_artifacts_of(self) -> tuple[str, ...]:
        return (FpgaTarget.name,)

    def record_refusals(self, network: Network) -> list[str]:
        return [f"Recording of '{r.target}'.{r.variable}: the board streams spikes only, "
                "not state variables; record spikes, or run on the 'fpga' target (its golden "
                "model records every variable)"
                for r in network.recordings if r.variable != "spikes"]

    def make_simulator(self, compiled: CompiledNetwork,
                       detail: TargetDetail | None) -> BoardSimulator:
        assert isinstance(detail, FpgaDetail)
        return BoardSimulator(compiled.network, detail.mapped, self.session)


class BoardSimulator(FpgaSimulator):
    """Runs the compiled network on the board; the golden model inside is only a shadow
    that holds the image's row table for the synaptic-event counter."""

    def __init__(self, network: Network, mapped: MappedNetwork, session: Session) -> None:
        super().__init__(network, mapped)
        self.session = session
        self._step = 0
        session.load(self._mapped.image, self._mapped.spec)

    @property
    def t(self) -> float:
        return self._step * self._mapped.dt

    def run_until(self, t_stop: float) -> None:
        stop = int(round(t_stop / self._mapped.dt))
        n = stop - self._step
        if n > 0:
            inputs = [self._inputs_at(k) for k in range(self._step, stop)]
            with task("run on the board", total=n, unit="step") as shown:
                result = self.session.run(n, inputs, on_step=_shown_on(shown))
            steps, ids = result.events()
            for k in np.unique(steps):
                self._record_spikes(int(k), ids[steps == k])
            # synaptic events: the rows of the spiking neurons and of the input axons
            axon_row = self._mapped.spec.n_neurons + np.concatenate(
                [np.unique(i) for i in inputs]) if inputs else np.zeros(0, np.int64)
            self._events += int(self._core.row_length[ids].sum()
                                + self._core.row_length[axon_row].sum())
            self._step = stop
        self._t_stop = self.t

    def weights(self, projection: str) -> np.ndarray:
        addr = self._address(projection)
        scale = self._mapped.mapping.weight_scale[projection]
        return (self.session.weights()[addr] / scale).astype(np.float32)

    def set_weights(self, projection: str, values: np.ndarray) -> None:
        super().set_weights(projection, values)  # checks the range and fills the shadow
        self._write_weights(self._core.weights())

    def _write_weights(self, weights: np.ndarray) -> None:
        image, spec = self._mapped.image, self._mapped.spec
        n = image.n_synapses
        words = [spec.pack("synapse", target=int(image.syn_target[k]), weight=int(weights[k]),
                           delay=int(image.syn_delay[k]), plastic=int(image.syn_plastic[k]))
                 for k in range(n)]
        from toolchain.runtime.protocol import Memory

        self.session.write(Memory.SYNAPSE, 0, np.array(words, dtype=np.uint64))

    def reset(self) -> None:
        """Back to step 0 with the image's state, keeping the (learnt) weights."""
        kept = self.session.weights()
        self.session.load(self._mapped.image, self._mapped.spec, verify=False)
        self._write_weights(kept)
        self._core.syn["weight"][: kept.size] = kept
        self._step = 0
        self._clear_records()


def _shown_on(shown: Task) -> Callable[[int, np.ndarray], None]:
    """The per-step callback of a run: the progress bar with a live spike count, and
    ``DEFAULTS.on_step``."""
    spikes = 0

    def on_step(step: int, ids: np.ndarray) -> None:
        nonlocal spikes
        spikes += int(ids.size)
        shown.advance()
        shown.note(f"{spikes} spikes", now=False)
        if DEFAULTS.on_step is not None:
            DEFAULTS.on_step(step, ids)

    return on_step


@contextlib.contextmanager
def registered() -> Iterator[None]:
    """Make ``setup(target="board")`` known for the duration of a ``with`` block.

    Not in the global target list for good: that list is what sweeps and portability runs
    iterate over, and this target needs a live board."""
    from toolchain.targets import TARGETS

    def _board() -> type[BoardTarget]:
        return BoardTarget

    _board.__doc__ = "our FPGA core on a board over UART (real, or virtual on a pty)"
    added = "board" not in TARGETS
    if added:
        TARGETS["board"] = _board
    try:
        yield
    finally:
        if added:
            TARGETS.pop("board", None)


__all__ = ["DEFAULTS", "BoardDefaults", "BoardSimulator", "BoardTarget", "MappingError",
           "registered"]
