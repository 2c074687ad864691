"""The ``fpga`` target: spikeport's own LIF/STDP core, simulated by its golden model.

``compile`` quantises and packs the network for one build (a preset, a board's preset, or
either with core parameters changed: ``-O build=ecp5-85f -O ref_bits=7``); ``simulator``
runs the golden model, which the RTL matches bit for bit, and converts spikes, membrane
voltages, synaptic currents and weights back to IR units, sampled as the engine samples
them (:class:`toolchain.sim.recording.Recorder`).  Its counters carry the RTL's cycles
per step and, from them, the hardware time and energy per step
(:mod:`toolchain.targets.fpga.timing`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from toolchain.compiler.artifact import CompiledNetwork, StepEstimate, TargetDetail
from toolchain.compiler.describe import Activity
from toolchain.compiler.encode import encode
from toolchain.compiler.fit import shorten_delays
from toolchain.compiler.pipeline import Build, Pass, Violations
from toolchain.ir import Network
from toolchain.sim import fast
from toolchain.sim.recording import Recorder
from toolchain.sim.results import SimulationResult
from toolchain.sim.sources import SourceSpikes
from toolchain.targets.base import Target
from toolchain.targets.fpga.artifact import FpgaDetail, describe
from toolchain.targets.fpga.mapper import MappedNetwork, MappingError, map_network
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.spec import _LIMITS, PRESETS, CoreSpec, preset
from toolchain.targets.fpga.timing import power_model, step_cost
from toolchain.targets.options import Option, Options, TargetOptionError
from toolchain.targets.recording import one_current_refusals, reported_current
from toolchain.targets.support import Support, approximated, native, refused

LIMITS = {
    "n_neurons": "neurons of the build",
    "n_inputs": "input axons (spike-source neurons) of the build",
    "n_synapses": "synapse memory of the build",
    "delay_steps": "synaptic delay (2**delay_bits - 1 steps)",
    "decay_shift": "decay shifts of tau_m, tau_syn, tau_plus, tau_minus (0..15)",
    "ref_bits": "refractory counter width (tau_refrac in steps)",
    "i_bits": "current width (i_offset as a voltage step per step)",
    "acc_bits": "delay-ring accumulator width (the largest input of one step)",
    "trace_bits": "STDP trace width (how long a trace can decay)",
    "stdp_rate_shift": "STDP learning-rate shifts (0..15)",
}
APPROXIMATIONS = {
    "synaptic_decay_shared": "on a one-current build (ice40up5k: its block RAM holds one "
                             "ring), tau_syn_E and tau_syn_I one decay shift apart share the "
                             "shift of their geometric mean; each input keeps its charge",
    "delays_shortened": "delays beyond the delay ring become the longest it holds",
    "refractory_shortened": "tau_refrac beyond the refractory counter becomes the longest "
                            "it holds",
}
CORE = "our core: toolchain/targets/fpga/spec.py, docs/fpga-core.md"
NOT_LIF = "the FPGA core runs IF_curr_exp neurons"
STATIC = "synapses (short-term plasticity or stochastic release) are not modelled on fpga"
SUPPORT = {
    "IF_curr_exp": native("the core's integer LIF, bit-exact with its RTL", CORE),
    "IF_curr_alpha": refused("the core keeps one exponentially decaying synaptic current "
                             "per neuron", CORE, "the FPGA core runs IF_curr_exp neurons"),
    "IF_cond_exp": refused("the core's synapses add currents; it has no reversal "
                           "potentials", CORE, "the FPGA core runs IF_curr_exp neurons"),
    "tau_syn_E != tau_syn_I": approximated(
        "native on two-current builds (-O build=ecp5-85f-ei, -O receptors=2: an inhibitory "
        "current with its own decay and ring accumulator); the default ice40up5k build "
        "has one current (a second does not fit its 30 EBR), so there time constants one "
        "decay shift apart share one shift, each input's charge kept, with --fit "
        "approximate", CORE),
    "varying parameters": native("per-neuron threshold, reset, bias, leak and refractory "
                                 "registers", CORE),
    "delays": approximated("a ring of 2**delay_bits slots: 15 steps on the default build; "
                           "longer delays need -O delay_bits or --fit approximate "
                           "(shortened)", CORE),
    "SpikeSourcePoisson": native("input axons fed with the spike stream"),
    "SpikeSourceArray": native("input axons fed with the spike stream"),
    "DCSource": native("the neuron's bias register, rewritten when the current changes",
                       CORE),
    "StepCurrentSource": native("the neuron's bias register, rewritten at each step", CORE),
    "STDP additive": native("one rule for the core: shift-decayed traces, power-of-two "
                            "rates", CORE),
    "STDP multiplicative": refused("a weight update is a shift of a trace: no product "
                                   "with the weight", CORE,
                                   "is not supported by the FPGA core"),
    "record v": native("the golden model's v register, scaled back to mV"),
    "record isyn_exc, isyn_inh": refused("the default ice40up5k build keeps one synaptic "
                                         "current per neuron: the receptors' currents "
                                         "cannot be told apart (two-current builds, -O "
                                         "build=ecp5-85f-ei, record both)", CORE,
                                         "one synaptic current per neuron"),
    "IF_curr_delta": refused("the core's neuron integrates a decaying synaptic current; "
                             "a one-step synapse (tau_syn < dt) keeps its charge, not a "
                             "jump of v", CORE, NOT_LIF),
    "IF_cond_alpha": refused("the core's synapses add currents; it has no reversal "
                             "potentials", CORE, NOT_LIF),
    "IF_cond_exp_gsfa_grr": refused("the core's synapses add currents; it has no reversal "
                                    "potentials or adaptation", CORE, NOT_LIF),
    "EIF_cond_exp_isfa_ista": refused("the core's neuron is a linear integer LIF: no "
                                      "exponential onset, no adaptation", CORE, NOT_LIF),
    "EIF_cond_alpha_isfa_ista": refused("the core's neuron is a linear integer LIF: no "
                                        "exponential onset, no adaptation", CORE, NOT_LIF),
    "AdExp, a = 0": refused("the core's neuron is a linear integer LIF: no exponential "
                            "onset, no adaptation", CORE, NOT_LIF),
    "HH_cond_exp": refused("the core's neuron is a linear integer LIF", CORE, NOT_LIF),
    "Izhikevich": refused("the core's neuron is a linear integer LIF: no quadratic term",
                          CORE, NOT_LIF),
    "GIF_cond_exp": refused("the core's neuron is a deterministic integer LIF", CORE,
                            NOT_LIF),
    "PointNeuron, current receptors": refused("the core keeps one or two synaptic currents "
                                              "per neuron, IF_curr_exp's", CORE, NOT_LIF),
    "PointNeuron, conductance receptors": refused("the core's synapses add currents", CORE,
                                                  NOT_LIF),
    "TsodyksMarkramSynapse": refused("a synapse word holds a weight (and the delay slot): no "
                                     "release state", CORE, STATIC),
    "SimpleStochasticSynapse": refused("the core has no random number source", CORE,
                                       STATIC),
    "StochasticTsodyksMarkramSynapse": refused("no release state and no random numbers",
                                               CORE, STATIC),
    "MultiQuantalSynapse": refused("no release state and no random numbers", CORE, STATIC),
    "STDP additive-potentiation-multiplicative-depression": refused(
        "a weight update is a shift of a trace: no product with the weight", CORE,
        "is not modelled on fpga"),
    "STDP Gutig": refused("a weight update is a shift of a trace: no power of the weight",
                          CORE, "is not modelled on fpga"),
    "STDP Vogels2011": refused("the core's learning unit runs the pair rule", CORE,
                               "the Vogels2011 STDP rule is not modelled on fpga"),
    "STDP dendritic delay": refused("the learning unit sees pre spikes after the whole "
                                    "delay", CORE, "dendritic_delay_fraction"),
    "SpikeSourceGamma": native("input axons fed with the spike stream"),
    "SpikeSourcePoissonRefractory": native("input axons fed with the spike stream"),
    "SpikeSourceInhGamma": native("input axons fed with the spike stream"),
    "ACSource": refused("the bias register is rewritten when a current changes; a current "
                        "changing every step is not modelled", CORE,
                        "this current source is not modelled on fpga"),
    "NoisyCurrentSource": refused("the bias register is rewritten when a current changes; "
                                  "a current changing every step is not modelled", CORE,
                                  "this current source is not modelled on fpga"),
}
CORE_FIELDS = tuple(name for name in _LIMITS)  # the generator parameters of a build
_CHUNK_STEPS = 1000  # steps per call of the compiled loop


def _boards() -> tuple[str, ...]:
    from toolchain.boards import load_boards

    return tuple(load_boards())


def _spec_from_data(data: Mapping[str, Any]) -> CoreSpec:
    return CoreSpec(**data)


class FpgaTarget(Target):
    """Our FPGA core; ``build`` picks the core size (default: the iCEBreaker's UP5K), a
    board file names the build it carries, and every core parameter can be changed on top
    (the build is then '<preset>-custom')."""

    name: ClassVar[str] = "fpga"
    OPTIONS: ClassVar[Options] = Options(
        Option("build", str, "ice40up5k", "the core preset (or a CoreSpec, Python only)",
               choices=tuple(PRESETS), python=(CoreSpec,), from_data=_spec_from_data),
        Option("board", str, None, "a board file (boards/*.toml): its preset and clock",
               choices=_boards),
        *(Option(f, int, None, f"core parameter {f} ({lo}..{hi}; {why})")
          for f, (lo, hi, why) in _LIMITS.items()),
    )
    LIMITS: ClassVar[Mapping[str, str]] = LIMITS
    APPROXIMATIONS: ClassVar[Mapping[str, str]] = APPROXIMATIONS
    SUPPORT: ClassVar[Mapping[str, Support]] = SUPPORT

    @classmethod
    def catalogue(cls) -> list[str]:
        from toolchain.boards import load_boards

        lines = ["presets (-O build=NAME):"]
        lines += [f"  {s.name:<22} {s.n_neurons} neurons, {s.n_inputs} inputs, "
                  f"{s.n_synapses} synapses, delays up to {s.max_delay} steps, "
                  f"{s.w_bits}-bit weights, {s.receptors} synaptic current"
                  f"{'s' if s.receptors > 1 else ''} per neuron" for s in PRESETS.values()]
        lines += ["boards (-O board=NAME):"]
        lines += [f"  {b.name:<22} {b.description}, "
                  f"{b.clock_hz / 1e6:g} MHz" for b in load_boards().values()]
        return lines

    def configure(self) -> None:
        build, board = self.config["build"], self.config["board"]
        if board is not None:  # a board file names the build it carries
            from toolchain.boards import get_board

            carried = get_board(board).core
            if build != self.OPTIONS.declared["build"].default and build != carried:
                raise TargetOptionError(
                    f"target 'fpga': board '{board}' carries build '{carried}', not "
                    f"'{build}'; give one of build= and board=")
            build = carried
        spec = build if isinstance(build, CoreSpec) else preset(build)
        changes = {f: self.config[f] for f in CORE_FIELDS if self.config[f] is not None}
        if changes:
            try:
                spec = dataclasses.replace(spec, name=f"{spec.name}-custom", **changes)
            except ValueError as e:
                raise TargetOptionError(f"target 'fpga': {e}") from None
        self.spec = spec
        self.board = board or spec.name

    def saved_options(self) -> dict[str, object]:
        saved = super().saved_options()
        build = self.config["build"]
        if isinstance(build, CoreSpec):  # a preset by name, any other build whole
            named = PRESETS.get(build.name)
            saved["build"] = build.name if named == build else dataclasses.asdict(build)
            if saved["build"] == self.OPTIONS.declared["build"].default:
                del saved["build"]
        return saved

    def passes(self) -> Sequence[Pass]:
        return (self._map, describe, encode)

    def _map(self, build: Build) -> Build:
        found = Violations(build.strict, MappingError, fit=build.fit)
        net = build.network
        if found.approximating:  # the network as the core runs it (see compiler.fit)
            net, shortened = shorten_delays(net, net.dt, self.spec.max_delay,
                                            f"build '{self.spec.name}'")
            for a in shortened:
                found.approximate(a)
        mapped = map_network(net, self.spec, found)
        return found.into(build).replace(network=net, detail=FpgaDetail(mapped))

    def remap(self, compiled: CompiledNetwork) -> FpgaDetail:
        return FpgaDetail(map_network(compiled.network, self.spec, Violations(strict=False,
                                                                           fit=compiled.fit)))

    def estimate(self, compiled: CompiledNetwork, activity: Activity) -> StepEstimate:
        detail = self.detail(compiled)
        assert isinstance(detail, FpgaDetail)
        return step_cost(compiled.network, detail.mapped.spec,
                         detail.mapped.image.n_synapses, activity)

    def record_refusals(self, network: Network) -> list[str]:
        if self.spec.receptors == 2:  # both currents kept apart
            return []
        return one_current_refusals(
            network, f"build '{self.spec.name}' of the FPGA core",
            elsewhere="a two-current build (-O build=ecp5-85f-ei or -O receptors=2), the "
                      "reference or spinnaker2 target")

    def make_simulator(self, compiled: CompiledNetwork,
                       detail: TargetDetail | None) -> FpgaSimulator:
        assert isinstance(detail, FpgaDetail)
        return FpgaSimulator(compiled.network, detail.mapped)


class FpgaSimulator:
    """Steps the golden model; time advances in whole steps of the network's dt.

    Recording follows the shared engine's rules (:class:`~toolchain.sim.recording.Recorder`):
    spikes carry the start time of their step, state variables are sampled at t = 0 and
    after every step, so a run to T has T / dt + 1 samples, as on the reference.
    """

    def __init__(self, network: Network, mapped: MappedNetwork, *,
                 compiled: bool | None = None) -> None:
        """``compiled``: run through the golden model's compiled loop (None: unless the
        environment sets SPIKEPORT_COMPILED=0; False: step by step, which gives the same
        results bit for bit)."""
        self._net = network
        self._mapped = mapped
        self._power = power_model(mapped.spec)
        self._sources = [SourceSpikes(src, network.seed, mapped.dt) for src in network.sources]
        self._current = {p.label: reported_current(network, p.label)
                         for p in network.populations}
        self._recorder = Recorder(network, mapped.dt)
        self._core = CoreModel(mapped.spec)
        self._core.load(mapped.image)
        #: why the run goes step by step instead of through the compiled loop (None: it
        #: does not)
        self.why_not_compiled: str | None = (
            self._core.compiled_refusal() if fast.wanted(compiled) else "not asked for")
        self._clear_records()

    # -- Simulator protocol --------------------------------------------------------------
    @property
    def t(self) -> float:
        return self._core.t * self._mapped.dt

    def run_until(self, t_stop: float) -> None:
        stop = int(round(t_stop / self._mapped.dt))
        if self.why_not_compiled is None:
            self._run_compiled(stop)
        while self._core.t < stop:
            k = self._core.t
            spikes = self._core.step(self._inputs_at(k))
            self._record_spikes(k, spikes)
            self._events += int(self._core.last_step["events"])  # inputs' and neurons' rows
            self._cycles.append(self._core.cycles_of_last_step())
            self._recorder.sample(k + 1, self.get_state)
        self._t_stop = self.t

    def get_state(self, population: str, variable: str) -> np.ndarray:
        """A population's state variable in IR units (v in mV, isyn_* in nA)."""
        lo = self._mapped.mapping.neuron_offset[population]
        size = self._net.node(population).size
        register, scale, origin = self._units(population, variable)
        if register is None:
            return np.zeros(size)
        value = getattr(self._core, register)[lo:lo + size] / scale
        return value if origin is None else value + origin

    def _units(self, population: str, variable: str
               ) -> tuple[str | None, np.ndarray | float, np.ndarray | None]:
        """Which core register holds a population's state variable (None: it reads 0), the
        register's LSB per IR unit and the IR value of register 0 (None: 0), per neuron of
        the population."""
        m = self._mapped.mapping
        lo = m.neuron_offset[population]
        sl = slice(lo, lo + self._net.node(population).size)
        if variable == "v":
            return "v", m.v_scale, m.v_rest[sl]
        if variable in ("isyn_exc", "isyn_inh"):
            if self._mapped.spec.receptors == 2 and variable == "isyn_inh":
                return "i_inh", m.i_scale_inh[sl], None
            if self._mapped.spec.receptors == 2 or self._current[population] == variable:
                return "i", m.i_scale[sl], None
            return None, 1.0, None
        raise MappingError(f"Population '{population}': the FPGA core has no state variable "
                           f"'{variable}' (it has v, isyn_exc, isyn_inh)")

    def _run_compiled(self, stop: int) -> None:
        """Steps up to ``stop`` through the golden model's compiled loop, in chunks (to
        bound the memory of one chunk's input spikes and samples), recorded and counted as
        the step-by-step path records and counts them."""
        m, core = self._mapped.mapping, self._core
        signals = []  # (population, variable, register, core neurons, interval, scale, origin)
        for (label, variable), sig in self._recorder.signals.items():
            register, scale, origin = self._units(label, variable)
            idx = sig.indices
            signals.append((label, variable, register, m.neuron_offset[label] + idx, sig.every,
                            np.broadcast_to(scale, (self._net.node(label).size,))[idx],
                            None if origin is None else origin[idx]))
        sampled = [(reg, idx, every) for _, _, reg, idx, every, _, _ in signals
                   if reg is not None]
        pops = [(p.label, m.neuron_offset[p.label], p.size) for p in self._net.populations]
        while core.t < stop:
            c0 = core.t
            c1 = min(c0 + _CHUNK_STEPS, stop)
            steps, axons = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
            for src in self._sources:
                at, senders = src.between(c0, c1)
                steps.append(np.asarray(at, np.int64))
                axons.append(senders.astype(np.int64) + m.input_offset[src.source.label])
            at, senders = np.concatenate(steps), np.concatenate(axons)
            order = np.argsort(at, kind="stable")
            ptr = np.searchsorted(at[order], np.arange(c0, c1 + 1))
            block = core.run_block(ptr, senders[order], sampled)
            for label, lo, size in pops:
                mine = (block.neurons >= lo) & (block.neurons < lo + size)
                if mine.any():
                    self._spike_counts[label] += int(mine.sum())
                    self._recorder.record_spike_block(label, block.steps[mine],
                                                      block.neurons[mine] - lo)
            self._events += int(block.counts[:, 3].sum())
            self._cycles.extend(core.cycles_of_steps(block.counts).tolist())
            raw = iter(block.samples)
            for label, variable, register, idx, every, scale, origin in signals:
                at = np.arange((c0 // every + 1) * every, c1 + 1, every)
                if register is None:
                    values = np.zeros((at.size, idx.size))
                else:
                    values = next(raw) / scale
                    if origin is not None:
                        values = values + origin
                self._recorder.sample_block(label, variable, at, values)

    def result(self) -> SimulationResult:
        res = SimulationResult(target="fpga", dt=self._mapped.dt, t_stop=self._t_stop)
        res.spikes.update(self._recorder.spike_records())
        res.signals.update(self._recorder.analog_records())
        for proj in self._net.projections:
            if proj.plasticity is not None:
                res.weights[proj.label] = self.weights(proj.label)
        res.counters["synaptic_events"] = float(self._events)
        res.counters["steps"] = float(len(self._cycles))
        for label, count in self._spike_counts.items():
            res.counters[f"spikes/{label}"] = float(count)
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
        ints = np.round(np.broadcast_to(np.asarray(values, float), addr.shape)
                        * m.weight_scale[projection])
        lo, hi = self._mapped.spec.signed_range("w")
        bad = np.flatnonzero((ints < lo) | (ints > hi))
        if bad.size:
            k = int(bad[0])
            wanted = ints[k] / m.weight_scale[projection][k]
            raise MappingError(
                f"Projection '{projection}' weight[{k}] = {wanted:g} becomes {int(ints[k])}, "
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

    def _record_spikes(self, step: int, spikes: np.ndarray) -> None:
        """The core's spikes (core neuron ids) of ``step``, per population."""
        for pop in self._net.populations:
            lo = self._mapped.mapping.neuron_offset[pop.label]
            mine = spikes[(spikes >= lo) & (spikes < lo + pop.size)] - lo
            if mine.size:
                self._spike_counts[pop.label] += int(mine.size)
                self._recorder.record_spikes(pop.label, step, mine)

    def _clear_records(self) -> None:
        self._recorder.clear()
        self._recorder.sample(0, self.get_state)
        self._spike_counts = {p.label: 0 for p in self._net.populations}
        self._events = 0
        self._cycles: list[int] = []
        self._t_stop = 0.0
