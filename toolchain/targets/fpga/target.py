"""The ``fpga`` target: spikeport's own LIF/STDP core, simulated by its golden model.

``compile`` quantises and packs the network for one build (a preset name or a
``CoreSpec``); ``simulator`` runs the golden model, which the RTL matches bit for bit, and
converts spikes, membrane voltages and weights back to IR units.  Its counters carry the
RTL's cycles per step and, from them, the estimated hardware time and energy per step
(:mod:`toolchain.targets.fpga.power`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from toolchain.compiler.artifact import ProjectionNumerics
from toolchain.ir import Network
from toolchain.sim.results import AnalogRecord, SimulationResult, SpikeRecord
from toolchain.sim.sources import SourceSpikes
from toolchain.targets.base import Pass, Target
from toolchain.targets.fpga.mapper import MappedNetwork, MappingError, map_network
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.power import power_model
from toolchain.targets.fpga.spec import CoreSpec, preset

if TYPE_CHECKING:
    from toolchain.compiler.pipeline import Build


@dataclass(frozen=True)
class FpgaCompiled:
    network: Network
    mapped: MappedNetwork

    @property
    def numerics(self) -> tuple[ProjectionNumerics, ...]:
        """Per projection, what weight and delay quantisation did (the same description
        as in the shared artifact), so that the portability table can show it."""
        from toolchain.targets.fpga.artifact import projection_numerics

        return tuple(projection_numerics(self.network, self.mapped, p)
                     for p in self.network.projections)


class FpgaTarget(Target):
    """Our FPGA core; ``build`` picks the core size (default: the iCEBreaker's UP5K)."""

    name = "fpga"

    def __init__(self, build: str | CoreSpec = "ice40up5k", board: str | None = None) -> None:
        if board is not None:  # a board file names the build it carries
            from toolchain.boards import get_board

            build = get_board(board).core
        self.spec = build if isinstance(build, CoreSpec) else preset(build)
        self.board = board or self.spec.name

    def compile(self, network: Network) -> FpgaCompiled:
        return FpgaCompiled(network, map_network(network, self.spec))

    def passes(self) -> Sequence[Pass]:
        """Map, then describe the mapping in the shared artifact (``spikeport compile``)."""
        from toolchain.targets.fpga.artifact import artifact_pass

        return (self._map, artifact_pass)

    def _map(self, build: Build) -> Build:
        mapped = map_network(build.network, self.spec)
        return build.replace(extras={**build.extras, "fpga": mapped})

    def simulator(self, compiled: FpgaCompiled) -> FpgaSimulator:
        return FpgaSimulator(compiled)


class FpgaSimulator:
    """Steps the golden model; time advances in whole steps of the network's dt."""

    def __init__(self, compiled: FpgaCompiled) -> None:
        self._net = compiled.network
        self._mapped = compiled.mapped
        self._power = power_model(compiled.mapped.spec)
        self._sources = [SourceSpikes(src, self._net.seed, self._mapped.dt)
                         for src in self._net.sources]
        self._core = CoreModel(self._mapped.spec)
        self._core.load(self._mapped.image)
        self._clear_records()

    # -- Simulator protocol --------------------------------------------------------------
    @property
    def t(self) -> float:
        return self._core.t * self._mapped.dt

    def run_until(self, t_stop: float) -> None:
        m = self._mapped.mapping
        stop = int(round(t_stop / self._mapped.dt))
        rec_v = [r.target for r in self._net.recordings if r.variable == "v"]
        while self._core.t < stop:
            k = self._core.t
            spikes = self._core.step(self._inputs_at(k))
            self._spike_steps.append(np.full(spikes.size, k))
            self._spike_ids.append(spikes)
            self._events += int(self._core.row_length[spikes].sum())
            self._cycles.append(self._core.cycles_of_last_step())
            if rec_v:
                self._v.append(self._core.v[: len(m.v_rest)] / m.v_scale + m.v_rest)
        self._t_stop = self.t

    def result(self) -> SimulationResult:
        dt = self._mapped.dt
        steps = np.concatenate(self._spike_steps) if self._spike_steps else np.zeros(0, int)
        ids = np.concatenate(self._spike_ids) if self._spike_ids else np.zeros(0, int)
        res = SimulationResult(target="fpga", dt=dt, t_stop=self._t_stop)
        off = self._mapped.mapping.neuron_offset
        for rec in self._net.recordings:
            if rec.target not in off:
                continue
            pop = self._net.node(rec.target)
            lo = off[rec.target]
            if rec.variable == "spikes":
                sel = (ids >= lo) & (ids < lo + pop.size) & np.isin(ids - lo, rec.indices)
                res.spikes[rec.target] = SpikeRecord(steps[sel] * dt, ids[sel] - lo, pop.size)
            elif rec.variable == "v" and self._v:
                values = np.array(self._v)[:, lo + rec.indices]
                res.signals[(rec.target, "v")] = AnalogRecord(
                    np.arange(len(self._v)) * dt, rec.indices.copy(), values, "mV")
        for proj in self._net.projections:
            if proj.plasticity is not None:
                res.weights[proj.label] = self.weights(proj.label)
        res.counters["synaptic_events"] = float(self._events)
        res.counters.update(self._cost())
        return res

    def _cost(self) -> dict[str, float]:
        """Physical cost from the cycle model: cycles per step (mean and worst), and the
        hardware time and estimated energy of a mean step at the board's clock."""
        if not self._cycles:
            return {}
        cycles = np.asarray(self._cycles, float)
        mean = float(cycles.mean())
        return {"cycles": float(cycles.sum()), "cycles_per_step": mean,
                "cycles_per_step_max": float(cycles.max()),
                "wall_ns_per_step": self._power.wall_ns(mean),
                "energy_pj": self._power.energy_pj(float(cycles.sum())),
                "energy_pj_per_step": self._power.energy_pj(mean)}

    def weights(self, projection: str) -> np.ndarray:
        m = self._mapped.mapping
        addr = self._address(projection)
        return (self._core.weights()[addr] / m.weight_scale[projection]).astype(np.float32)

    def set_weights(self, projection: str, values: np.ndarray) -> None:
        m = self._mapped.mapping
        addr = self._address(projection)
        ints = np.round(np.asarray(values, float) * m.weight_scale[projection])
        lo, hi = self._mapped.spec.signed_range("w")
        bad = np.flatnonzero((ints < lo) | (ints > hi))
        if bad.size:
            k = int(bad[0])
            raise MappingError(
                f"Projection '{projection}' weight[{k}] = {values[k]:g} becomes {int(ints[k])}, "
                f"outside the {self._mapped.spec.w_bits}-bit range {lo}..{hi}"
            )
        self._core.syn["weight"][addr] = ints.astype(np.int64)

    def reset(self) -> None:
        kept = self._core.weights()
        self._core = CoreModel(self._mapped.spec)
        self._core.load(self._mapped.image)
        self._core.syn["weight"][:] = kept
        self._clear_records()

    # -- helpers ---------------------------------------------------------------------------
    def _address(self, projection: str) -> np.ndarray:
        try:
            return self._mapped.mapping.synapse_address[projection]
        except KeyError:
            known = ", ".join(self._mapped.mapping.synapse_address) or "none"
            raise KeyError(f"no projection '{projection}' (known: {known})") from None

    def _inputs_at(self, step: int) -> np.ndarray:
        """Input axons of ``step``: every source's spikes (binned by the shared engine's
        source model, so all targets see the same input), offset to its axon range.  A
        source neuron firing twice in one step reaches the core once."""
        m = self._mapped.mapping
        parts = [src.at(step) + m.input_offset[src.source.label] for src in self._sources]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def _clear_records(self) -> None:
        self._spike_steps: list[np.ndarray] = []
        self._spike_ids: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._events = 0
        self._cycles: list[int] = []
        self._t_stop = 0.0
