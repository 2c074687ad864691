"""The ``spinnaker2`` target: the SpiNNaker2 mapper (slices, delay extensions, keys, router
tables) as a compiler pass, the shared artifact, and the engine running the PE arithmetic
with the per-tick timing model."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from toolchain.compiler.artifact import CompiledNetwork, StepEstimate, TargetDetail
from toolchain.compiler.describe import Activity
from toolchain.compiler.encode import encode
from toolchain.compiler.fit import approximation, fit_hint, shorten_delays
from toolchain.compiler.pipeline import Build, Pass, Violations, violation
from toolchain.ir import Network
from toolchain.targets.base import Target
from toolchain.targets.options import RUN, Option, Options
from toolchain.targets.spinnaker2.artifact import SpiNNaker2Detail, describe, step_cost
from toolchain.targets.spinnaker2.mapper import MappingError, map_network
from toolchain.targets.spinnaker2.routing import route
from toolchain.targets.spinnaker2.spec import (
    BOARDS,
    TICKS_MS,
    Board,
    SpecError,
    SpiNNaker2Spec,
    grid,
    tick_for,
)
from toolchain.targets.support import Support, native, refused

LIMITS = {
    "delay_ticks": "synaptic delay (ring buffer + delay-extension stages, in ticks)",
    "pe_sram_bytes": "data SRAM of one PE (neuron state, ring buffers, synapse rows)",
    "tick_cycles": "cycles of one PE in one timer tick (with fit_tick)",
    "pes": "PEs of the board",
    "dram_bytes": "synapse rows in one chip's DRAM (synapse_storage='dram')",
    "keys": "32-bit multicast key space",
    "router_entries": "entries of one chip's multicast router table",
    "timer_tick": "how far (ms) the network's dt is from the PE timer tick it runs on "
                  "(1.0 or 0.1 ms): 0",
}


APPROXIMATIONS = {
    "delays_shortened": "delays beyond the ring buffer and delay-extension stages become the "
                        "longest they reach",
    "time_step_changed": "a network whose dt is no timer tick runs on one (0.1 ms below "
                         "1 ms, else 1 ms; -O tick_ms= picks it): every update, delay and "
                         "sample moves to that tick",
}


PE = "SpiNNaker2 datasheet v0.03 (Cortex-M4F PEs)"
SPYNNAKER = "sPyNNaker neural_modelling"
SUPPORT = {
    "IF_curr_exp": native("software on the PE in s16.15 or float32, sPyNNaker's update "
                          "order", f"{PE}; {SPYNNAKER} neuron_model_lif_impl.h"),
    "IF_curr_alpha": native("two synaptic states per receptor on the PE: PyNN's alpha "
                            "current at every tick", PE),
    "IF_cond_exp": native("conductances times the driving force on the PE",
                          f"{PE}; {SPYNNAKER} input_type_conductance.h"),
    "tau_syn_E != tau_syn_I": native("one decay per synapse type on the PE", PE),
    "varying parameters": native("per-neuron parameters in the PE's state", PE),
    "delays": native("a 16-tick ring buffer per PE and delay-extension PEs (135 ticks); "
                     "longer ones shortened with --fit approximate",
                     f"{SPYNNAKER} (MAX_SUPPORTED_DELAY_TICS, delay extensions)"),
    "SpikeSourcePoisson": native("spike-source PEs"),
    "SpikeSourceArray": native("spike-source PEs"),
    "DCSource": native("added to the neuron's input current on the PE", PE),
    "StepCurrentSource": native("added to the neuron's input current on the PE", PE),
    "STDP additive": native("pair STDP in software after sPyNNaker's deferred scheme: a "
                            "16-spike post history, learning at each pre spike's row",
                            f"{SPYNNAKER} plasticity/stdp (post_events.h, timing_pair_impl.h)"),
    "STDP multiplicative": native("the same scheme with the weight dependence of "
                                  "weight_multiplicative_impl.h",
                                  f"{SPYNNAKER} plasticity/stdp"),
    "record v": native("the PE's neuron state"),
    "record isyn_exc, isyn_inh": native("one synaptic state per synapse type on the PE"),
    "IF_curr_delta": native("software on the PE: the weight added to v", PE),
    "IF_cond_alpha": native("alpha conductances times the driving force on the PE", PE),
    "IF_cond_exp_gsfa_grr": native("software ODE kernel on the PE (float32 / s16.15)", PE),
    "EIF_cond_exp_isfa_ista": native("software ODE kernel on the PE (float32 / s16.15)", PE),
    "EIF_cond_alpha_isfa_ista": native("software ODE kernel on the PE (float32 / s16.15)",
                                       PE),
    "AdExp, a = 0": native("a composed PointNeuron on the PE: each receptor a synapse type "
                           "of its own (ring buffer, weight scale)",
                           f"{PE}; {SPYNNAKER} synapse_types"),
    "HH_cond_exp": native("software ODE kernel on the PE in 0.01 ms substeps, each charged "
                          "in the tick budget", PE),
    "Izhikevich": native("software ODE kernel on the PE (float32 / s16.15): the "
                         "reference's equations, not sPyNNaker's neuron_model_izh_impl.h",
                         PE),
    "GIF_cond_exp": native("software ODE kernel on the PE, escape noise from the network's "
                           "seeded stream", PE),
    "PointNeuron, current receptors": native("each receptor a synapse type of its own on "
                                             "the PE (ring buffer, weight scale)",
                                             f"{PE}; {SPYNNAKER} synapse_types"),
    "PointNeuron, conductance receptors": native("each receptor a synapse type of its own "
                                                 "on the PE, conductance times driving "
                                                 "force", f"{PE}; {SPYNNAKER} synapse_types"),
    "TsodyksMarkramSynapse": native("software on the PE: per-synapse use and recovery",
                                    PE),
    "SimpleStochasticSynapse": native("software on the PE, with its random numbers", PE),
    "StochasticTsodyksMarkramSynapse": native("software on the PE, with its random "
                                              "numbers", PE),
    "MultiQuantalSynapse": native("software on the PE, with its random numbers", PE),
    "STDP additive-potentiation-multiplicative-depression": refused(
        "not mapped: the PE runs sPyNNaker's additive and multiplicative weight "
        "dependences", f"{SPYNNAKER} plasticity/stdp", "is not modelled on spinnaker2"),
    "STDP Gutig": refused("not mapped: the PE runs sPyNNaker's additive and multiplicative "
                          "weight dependences", f"{SPYNNAKER} plasticity/stdp",
                          "is not modelled on spinnaker2"),
    "STDP Vogels2011": refused("not mapped: the PE runs the pair rule (sPyNNaker has a "
                               "Vogels 2011 timing rule [unverified])",
                               f"{SPYNNAKER} plasticity/stdp",
                               "the Vogels2011 STDP rule is not modelled on spinnaker2"),
    "STDP dendritic delay": native("sPyNNaker's split of the delay into axonal and "
                                   "dendritic parts", f"{SPYNNAKER} plasticity/stdp"),
    "SpikeSourceGamma": native("spike-source PEs"),
    "SpikeSourcePoissonRefractory": native("spike-source PEs"),
    "SpikeSourceInhGamma": native("spike-source PEs"),
    "ACSource": native("added to the neuron's input current on the PE, as sPyNNaker's "
                       "current-source code does", f"{PE}; {SPYNNAKER} current_source"),
    "NoisyCurrentSource": native("added to the neuron's input current on the PE (samples "
                                 "from the network's seeded stream, not the PE's generator)",
                                 f"{PE}; {SPYNNAKER} current_source"),
}


def board_named(name: str) -> Board:
    """'1-chip', '48-chip', or 'WxH' for a W x H torus of chips."""
    if name in BOARDS:
        return BOARDS[name]()
    m = re.fullmatch(r"(\d+)x(\d+)(-chip)?", name)
    if m:
        return grid(int(m.group(1)), int(m.group(2)))
    raise SpecError(f"unknown spinnaker2 board '{name}'; use one of: "
                    f"{', '.join(BOARDS)}, or 'WxH' (e.g. '10x10') for a torus of chips")


def _spec_from_data(data: Mapping[str, Any]) -> SpiNNaker2Spec:
    return SpiNNaker2Spec(**{**data, "board": Board(**data["board"])})


_OVERRIDES = ("neurons_per_pe", "numerics", "late_spikes", "ring_buffer_ticks",
              "max_delay_stages", "pe_clock_hz", "code_and_stack_bytes", "synapse_storage",
              "fit_tick", "planned_rate_hz")


class SpiNNaker2Target(Target):
    """SpiNNaker2 machine model.

    The options other than ``board``, ``tick_ms`` and ``spec`` override the
    ``SpiNNaker2Spec`` field of the same name (``spec`` replaces the whole spec, the other
    options still apply on top).  ``tick_ms=None`` takes the network's dt.  A network runs
    once per tick, so a tick other than its dt (a dt that is no tick, or a ``tick_ms``
    unlike it) changes what it computes: a strict compile refuses it, an approximating
    one records ``time_step_changed`` and the artifact's network carries the tick as dt.
    """

    name: ClassVar[str] = "spinnaker2"
    OPTIONS: ClassVar[Options] = Options(
        Option("board", str, "1-chip", "the machine: a board, or a torus of W x H chips",
               choices=tuple(BOARDS), free_form="'WxH', e.g. 10x10", python=(Board,),
               from_data=lambda d: Board(**d)),
        Option("tick_ms", float, None, "timer tick, 1.0 or 0.1 ms (none: the network's dt; "
               "another tick than the dt needs --fit approximate)"),
        Option("neurons_per_pe", int, None, "most neurons one PE runs (250)"),
        Option("numerics", str, None, "PE arithmetic", choices=("s16.15", "float32")),
        Option("late_spikes", str, None, "what a PE does with a packet it has no cycles "
               "left for in its tick", choices=("drop", "defer"), stage=RUN),
        Option("ring_buffer_ticks", int, None, "delay ring buffer slots (power of two, "
               "2..64; 16)"),
        Option("max_delay_stages", int, None, "delay-extension stages a long delay may pass "
               "(8)"),
        Option("pe_clock_hz", float, None, "PE clock (200e6)"),
        Option("code_and_stack_bytes", int, None, "SRAM of a PE taken by code and stack "
               "(32768)"),
        Option("synapse_storage", str, None, "where synapse rows live",
               choices=("sram", "dram")),
        Option("fit_tick", bool, None, "cut slices so that a PE's worst tick fits its "
               "cycles (true)"),
        Option("planned_rate_hz", float, None, "firing rate slices are sized for (10)"),
        Option("spec", object, None, "a whole SpiNNaker2Spec (Python only)",
               python=(SpiNNaker2Spec,), from_data=_spec_from_data),
    )
    LIMITS: ClassVar[Mapping[str, str]] = LIMITS
    APPROXIMATIONS: ClassVar[Mapping[str, str]] = APPROXIMATIONS
    SUPPORT: ClassVar[Mapping[str, Support]] = SUPPORT

    @classmethod
    def catalogue(cls) -> list[str]:
        pes = SpiNNaker2Spec().usable_pes_per_chip
        return ["boards:", *(f"  {name:<22} {make().n_chips} chip(s) of {pes} usable PEs"
                             for name, make in BOARDS.items()),
                f"  {'WxH':<22} a torus of W x H chips (e.g. 10x10)"]

    def configure(self) -> None:
        board = self.config["board"]
        self.machine = board if isinstance(board, Board) else board_named(board)
        self.board = self.machine.name
        self.tick_ms = self.config["tick_ms"]
        self.base = self.config["spec"]
        self.overrides = {k: self.config[k] for k in _OVERRIDES if self.config[k] is not None}
        self.spec = self.spec_for(None)  # checks the options now, not at compile time

    def spec_for(self, network: Network | None) -> SpiNNaker2Spec:
        tick = self.tick_ms
        if tick is None:
            tick = 1.0 if network is None else tick_for(network.dt)
        base = self.base if self.base is not None else SpiNNaker2Spec()
        return base.replace(board=self.machine, tick_ms=tick, **self.overrides)

    def map(self, network: Network, *, strict: bool = True) -> SpiNNaker2Detail:
        """The full SpiNNaker2 mapping (slices, keys, router tables); a broken limit raises
        ``MappingError`` (``strict``) or is recorded and passed over."""
        return self._map(network, Violations(strict, MappingError, fit=self.fit))[0]

    def _map(self, network: Network, found: Violations) -> tuple[SpiNNaker2Detail, Violations]:
        mapping = map_network(network, self.spec_for(network), found)
        return SpiNNaker2Detail(mapping.spec, mapping, route(mapping, found)), found

    def passes(self) -> Sequence[Pass]:
        return (self._map_pass, describe, encode)

    def _map_pass(self, build: Build) -> Build:
        found = Violations(build.strict, MappingError, fit=build.fit)
        net = self._on_the_tick(build.network, found)
        if found.approximating:  # the network as the machine runs it (see compiler.fit)
            spec = self.spec_for(net)
            net, shortened = shorten_delays(net, spec.tick_ms, spec.max_extended_delay_ticks,
                                            "spinnaker2 (ring buffer and delay-extension "
                                            "stages)", limit="delay_ticks")
            for a in shortened:
                found.approximate(a)
        detail, found = self._map(net, found)
        return found.into(build).replace(network=net, detail=detail)

    def _on_the_tick(self, net: Network, found: Violations) -> Network:
        """``net`` as the PEs run it: on a timer tick.  A tick other than its dt is refused
        (strict), recorded (lax) or applied and recorded (approximate)."""
        tick = self.spec_for(net).tick_ms
        if tick == net.dt:
            return net
        neurons = sum(p.size for p in net.populations)
        if found.approximating:
            found.approximate(approximation(
                "time_step_changed", "network", net.label, neurons=neurons, limit="timer_tick",
                detail=f"dt {net.dt:g} ms runs on the {tick:g} ms timer tick: every neuron "
                       f"update, delay and recorded sample moves to {tick:g} ms steps"))
            return net.replace(dt=tick)
        if net.dt in TICKS_MS:
            why = f"the option tick_ms={tick:g} asks for the {tick:g} ms timer tick"
            change = f"drop -O tick_ms={tick:g} to run on the {net.dt:g} ms tick"
        else:
            why = "it is no SpiNNaker2 timer tick (1.0 or 0.1 ms)"
            change = f"set the script's time step to a tick (setup(timestep={tick:g}))"
        fix = (f"{change}, or {fit_hint(f'run it on the {tick:g} ms tick')} (-O tick_ms= "
               "picks the tick)")
        found.add(violation(
            "network", net.label, "timer_tick", abs(net.dt - tick), 0.0, fix,
            f"network '{net.label}' has dt = {net.dt:g} ms, but {why}; a PE updates its "
            f"neurons, delays and recordings once per tick, so the network would run at "
            f"{tick:g} ms steps; {fix}"))
        return net

    def remap(self, compiled: CompiledNetwork) -> SpiNNaker2Detail:
        return self.map(compiled.network, strict=False)

    def estimate(self, compiled: CompiledNetwork, activity: Activity) -> StepEstimate:
        d = self.detail(compiled)
        assert isinstance(d, SpiNNaker2Detail)
        return step_cost(compiled.network, d.mapping, d.routing, compiled.cores, activity)

    def make_simulator(self, compiled: CompiledNetwork, detail: TargetDetail | None) -> Any:
        from toolchain.targets.spinnaker2.sim import SpiNNaker2Simulator

        assert isinstance(detail, SpiNNaker2Detail)
        mapping = detail.mapping
        if self.spec.late_spikes != mapping.spec.late_spikes:  # a run option
            mapping = dataclasses.replace(
                mapping, spec=mapping.spec.replace(late_spikes=self.spec.late_spikes))
        return SpiNNaker2Simulator(compiled.network, mapping)
