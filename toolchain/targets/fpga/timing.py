"""Time and energy of the FPGA core: the cycles a timestep takes (``CoreSpec.cycles_per_step``,
checked against the RTL cycle for cycle) at the board's clock, times a static plus dynamic
power figure for the board's FPGA (:func:`step_cost` for an activity, :class:`PowerModel`
for a run's measured cycles).

These are **estimates**, not measurements of our core: the figures below come from public
measurements of other designs on the same chips and are scaled by the clock only (not by
toggle rates, block RAM activity or I/O).  Every figure is a named, overridable field.  The
energy counts only the time the core is busy; a board paced by a real-time tick idles (at
the static power) for the rest of each step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.compiler.artifact import StepEstimate
from toolchain.compiler.describe import Activity, spikes_per_step, synaptic_events_per_step
from toolchain.ir import Network
from toolchain.targets.fpga.spec import ROW_CYCLES, CoreSpec


@dataclass(frozen=True)
class PowerModel:
    """Power of one FPGA running the core.  ``dynamic_w_per_mhz`` is the busy core's
    switching power per MHz of clock (clock tree plus logic)."""

    family: str
    clock_hz: float
    static_w: float
    dynamic_w_per_mhz: float
    source: str

    @property
    def power_w(self) -> float:
        return self.static_w + self.dynamic_w_per_mhz * self.clock_hz / 1e6

    def energy_pj(self, cycles: float) -> float:
        """Energy of ``cycles`` busy clock cycles, in pJ."""
        return cycles / self.clock_hz * self.power_w * 1e12

    def wall_ns(self, cycles: float) -> float:
        return cycles / self.clock_hz * 1e9


# iCE40UP5K (iCEBreaker, 12 MHz), measured on the core rail (1.219 V) of a Lattice iCE40UP5K
# breakout board [src: tinyvision-ai-inc/ice40_power README, Joulescope measurements]:
# a blank design draws 85.6 uA (static: 0.104 mW); a 12 MHz counter design 613.5 uA, i.e.
# about 44 uA per MHz for the clocked fabric; each further logic cell adds about 0.142 uA at
# 12 MHz ((641.3 - 613.5) uA / (228 - 32) LC).  For the ice40up5k core's 2493 logic cells
# (its iCEBreaker place-and-route, 2026-11-23) that is (528 + 0.142 * 2500) uA = 0.88 mA at
# 12 MHz: 1.08 mW, 0.09 mW per MHz (estimate; block RAM reads not included).
ICE40_POWER = PowerModel(family="ice40", clock_hz=12e6, static_w=1.219 * 85.6e-6,
                         dynamic_w_per_mhz=1.219 * (528e-6 + 0.142e-6 * 2500) / 12,
                         source="iCE40UP5K core-rail measurements (tinyvision-ai ice40_power)")
# ECP5 LFE5U-85F (ULX3S, 25 MHz) [unverified: the static figure is the order of the standby
# core current of the 85k device in Lattice's ECP5 data sheet (FPGA-DS-02012) and power
# calculator (TN1266), about 80 mA at 1.1 V; the dynamic figure assumes about 0.5 mW per MHz
# for the core's ~4k LUT4 and 175 EBR; override both when a board measurement exists].
ECP5_POWER = PowerModel(family="ecp5", clock_hz=25e6, static_w=1.1 * 80e-3,
                        dynamic_w_per_mhz=0.5e-3,
                        source="[unverified] ECP5-85F data sheet / power calculator order")

_BY_FAMILY = {"ice40": ICE40_POWER, "ecp5": ECP5_POWER}


def power_model(spec: CoreSpec, clock_hz: float | None = None) -> PowerModel:
    """The power model of the board that carries ``spec``: the board whose core preset is
    (a prefix of) the build's name, else the iCEBreaker; the clock is that board's unless
    ``clock_hz`` is given."""
    from dataclasses import replace

    from toolchain.boards import load_boards

    boards = list(load_boards().values())
    board = next((b for b in boards if spec.name == b.core), None) or next(
        (b for b in boards if spec.name.startswith(b.core)), None)
    family, clock = (board.family, board.clock_hz) if board else ("ice40", ICE40_POWER.clock_hz)
    return replace(_BY_FAMILY[family], clock_hz=float(clock_hz or clock))


def step_cost(net: Network, spec: CoreSpec, synapses_in_rows: int,
              activity: Activity) -> StepEstimate:
    """Clock cycles of an average step under ``activity``, as the RTL spends them,
    converted to time at the build's clock and to energy at its FPGA's power."""
    dt = net.dt
    spikes = spikes_per_step(net, activity)
    inputs = float(sum(activity.per_step(s.label, dt).sum() for s in net.sources))
    events = synaptic_events_per_step(net, activity)
    plastic = any(p.plasticity is not None for p in net.projections)
    # potentiation walks every row in a step where some neuron spiked
    p_silent = float(np.prod([np.prod(1.0 - np.minimum(activity.per_step(p.label, dt), 1.0))
                              for p in net.populations]))
    p_any = 1.0 - p_silent if plastic else 0.0
    base = spec.cycles_per_step(inputs=round(inputs), repeats=0, spikes=round(spikes),
                                events=round(events), potentiation=False, synapses_in_rows=0)
    walk = spec.cycles_per_step(inputs=0, repeats=0, spikes=0, events=0, potentiation=True,
                                synapses_in_rows=synapses_in_rows) - \
        spec.cycles_per_step(inputs=0, repeats=0, spikes=0, events=0, potentiation=False,
                             synapses_in_rows=0)
    cycles = base + p_any * walk
    power = power_model(spec)
    # the busy step's energy, split by what its cycles do: synapse memory walks (events,
    # potentiation) are synaptic ops, each row fetch is a spike's, the rest the neuron pass
    synop_cycles = 2 * events + p_any * walk
    spike_cycles = ROW_CYCLES * (inputs + spikes)
    return StepEstimate(
        rate_hz=activity.planned_rate_hz, compute_ns=power.wall_ns(cycles), noc_ns=0.0,
        barrier_ns=0.0, synaptic_ops=events, neuron_updates=float(net.n_neurons),
        spikes_out=spikes, hop_messages_x=0.0, hop_messages_y=0.0,
        energy_synops_pj=power.energy_pj(synop_cycles),
        energy_updates_pj=power.energy_pj(cycles - synop_cycles - spike_cycles),
        energy_spikes_pj=power.energy_pj(spike_cycles), energy_noc_pj=0.0, slowest_core=0,
        basis=activity.basis,
    )
