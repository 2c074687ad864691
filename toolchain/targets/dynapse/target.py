"""The ``dynapse`` target: the DYNAP-SE mapper as a compiler pass, the shared artifact and
report, and the engine running DPI kernels with routing delays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from toolchain.compiler.artifact import CompiledNetwork, StepEstimate, TargetDetail
from toolchain.compiler.describe import Activity
from toolchain.compiler.encode import encode
from toolchain.compiler.pipeline import Build, Pass, Violations
from toolchain.ir import Network
from toolchain.targets.base import Target
from toolchain.targets.dynapse.artifact import DynapseDetail, describe, step_cost
from toolchain.targets.dynapse.mapper import DynapseError, DynapseMapping, map_network
from toolchain.targets.dynapse.numerics.dpi import DELTA_T_MV, MAX_SUBSTEP_MS
from toolchain.targets.dynapse.sim import DynapseSimulator
from toolchain.targets.dynapse.spec import DynapseSpec, Generation
from toolchain.targets.options import RUN, Option, Options, TargetOptionError
from toolchain.targets.support import Support, approximated, native, refused

LIMITS = {
    "neurons": "neurons of the board (256 per core)",
    "cores": "cores of the board (one population's neurons per core)",
    "cam_words": "CAM words per neuron (its fan-in; on SE1 every unit of weight)",
    "tags": "source tags one core tells apart",
    "tag_aliases": "senders sharing a DYNAP-SE1 tag (core/neuron address) into one core",
    "sram_words": "SRAM words per neuron (destination chips)",
    "chip_hops": "chips an SRAM word reaches per axis",
    "delay_ms": "longest delay accepted without programmable delays (delay_tolerance)",
}


APPROXIMATIONS = {
    "fan_in_pruned": "a neuron with more inputs than CAM words keeps its strongest (by "
                     "|weight|); the others read back as weight 0",
    "parameters_merged": "a population with more parameter sets than cores left for it: "
                         "neurons within 10 % of each other share a core at their mean "
                         "(biases are per core)",
    "delays_dropped": "delays beyond delay_tolerance become the routing latency, as shorter "
                      "ones already do",
    "conductance_as_current": "a conductance synapse injects a current at a fixed driving "
                              "force (E_rev against the middle of the sub-threshold range): "
                              "DPI synapses inject currents",
    "alpha_as_exponential": "an alpha-shaped synapse becomes an exponential one with the same "
                            "time constant and charge: DPI synapses are first-order",
    "subthreshold_adaptation_dropped": "an AdExp cell's a becomes 0: the AHP circuit follows "
                                       "output spikes only (b, tau_w map onto it)",
    "time_constants_merged": "receptors of one sign whose time constants are within 10 % "
                             "share one synapse circuit at their mean",
}


DPI = "Chicca et al. 2014, Proc. IEEE 102(9) (DPI neuron and synapse)"
MORADI = "Moradi et al. 2018, IEEE TBioCAS 12(1) (DYNAP-SE)"
ROCKPOOL = "synsense/rockpool devices/dynapse"
LIBCAER = "libcaer caerDynapseGenerateCamBits (the CAM word)"
SUPPORT = {
    "IF_curr_exp": native("the analog DPI neuron with exponential DPI synapses, device "
                          "mismatch included", f"{DPI}; {MORADI}"),
    "IF_curr_alpha": approximated("a DPI synapse is a first-order low-pass filter: an "
                                  "exponential one of the same time constant and charge, "
                                  "with --fit approximate", DPI),
    "IF_cond_exp": approximated("DPI synapses inject currents, with no reversal potential: "
                                "a current at a fixed driving force (E_rev against the "
                                "middle of the sub-threshold range), with --fit "
                                "approximate", DPI),
    "tau_syn_E != tau_syn_I": native("the fast excitatory and the subtractive inhibitory "
                                     "DPI circuits, each with its own time-constant bias "
                                     "per core", f"{MORADI}; {ROCKPOOL}"),
    "varying parameters": native("biases are per core: each parameter set gets its own "
                                 "cores; more sets than the board has cores merge within "
                                 "10 % with --fit approximate", ROCKPOOL),
    "delays": approximated("no programmable delays: spikes arrive after the routing "
                           "latency; delays up to delay_tolerance (1 ms) are taken as "
                           "that, longer ones with --fit approximate", MORADI),
    "SpikeSourcePoisson": native("spikes from the host's spike generator, with its "
                                 "latency"),
    "SpikeSourceArray": native("spikes from the host's spike generator"),
    "DCSource": refused("no per-neuron current injection: the DC bias is one per core",
                        ROCKPOOL, "no per-neuron current injection"),
    "StepCurrentSource": refused("no per-neuron current injection: the DC bias is one per "
                                 "core", ROCKPOOL, "no per-neuron current injection"),
    "STDP additive": refused("no on-chip plasticity", MORADI, "no on-chip plasticity"),
    "STDP multiplicative": refused("no on-chip plasticity", MORADI, "no on-chip plasticity"),
    "record v": native("the neuron's I_mem, mapped back to mV (the model's state; the chip "
                       "shows one neuron per core on its analog output [unverified])"),
    "record isyn_exc, isyn_inh": native("each DPI synapse circuit's current"),
    "IF_curr_delta": refused("a DPI synapse is a low-pass filter with a time-constant bias: "
                             "no jump of the membrane", DPI, "DYNAP-SE cannot run "
                             "IF_curr_delta"),
    "IF_cond_alpha": approximated("alpha conductances become exponential currents of the "
                                  "same charge at a fixed driving force, with --fit "
                                  "approximate", DPI),
    "IF_cond_exp_gsfa_grr": refused("its adaptation and relative refractoriness are "
                                    "conductances; the DPI neuron's one AHP circuit injects "
                                    "a current", DPI, "DYNAP-SE cannot run "
                                    "IF_cond_exp_gsfa_grr"),
    "EIF_cond_exp_isfa_ista": approximated(
        "the DPI neuron is an AdExp neuron: delta_T its positive feedback, b and tau_w its "
        "AHP circuit; the sub-threshold a (the AHP circuit follows output spikes only) is "
        "dropped and conductances become currents at a fixed driving force, with --fit "
        "approximate", DPI),
    "EIF_cond_alpha_isfa_ista": approximated("as EIF_cond_exp_isfa_ista, and alpha shapes "
                                             "become exponential ones of the same charge",
                                             DPI),
    "AdExp, a = 0": native("the DPI neuron's exponential feedback and AHP circuit, term by "
                           "term (DC-driven rates within 3 % of the reference)", DPI),
    "HH_cond_exp": refused("the DPI neuron has no sodium and potassium channel gates", DPI,
                           "DYNAP-SE cannot run HH_cond_exp"),
    "Izhikevich": refused("the DPI neuron's upswing is exponential and its adaptation "
                          "follows output spikes, not v", DPI,
                          "DYNAP-SE cannot run Izhikevich"),
    "GIF_cond_exp": refused("the DPI neuron fires deterministically at a threshold bias: no "
                            "escape noise", DPI, "DYNAP-SE cannot run GIF_cond_exp"),
    "PointNeuron, current receptors": native("the fast (AMPA-like) and slow (NMDA-like) "
                                             "excitatory and the subtractive inhibitory "
                                             "circuits, a time-constant bias each per core",
                                             MORADI),
    "PointNeuron, conductance receptors": approximated("currents at a fixed driving force, "
                                                       "with --fit approximate", DPI),
    "TsodyksMarkramSynapse": refused("a DYNAP-SE1 CAM word is a source tag and a synapse "
                                     "type: no per-synapse release state", LIBCAER,
                                     "synapses (short-term plasticity or stochastic release) "
                                     "are not modelled on dynapse"),
    "SimpleStochasticSynapse": refused("a CAM match always releases: no per-synapse "
                                       "release probability", LIBCAER, "synapses (short-"
                                       "term plasticity or stochastic release) are not "
                                       "modelled on dynapse"),
    "StochasticTsodyksMarkramSynapse": refused("no per-synapse release state or "
                                               "probability", LIBCAER, "synapses (short-term "
                                               "plasticity or stochastic release) are not "
                                               "modelled on dynapse"),
    "MultiQuantalSynapse": refused("no per-synapse release state or probability", LIBCAER,
                                   "synapses (short-term plasticity or stochastic release) "
                                   "are not modelled on dynapse"),
    "STDP additive-potentiation-multiplicative-depression": refused(
        "no on-chip plasticity", MORADI, "no on-chip plasticity"),
    "STDP Gutig": refused("no on-chip plasticity", MORADI, "no on-chip plasticity"),
    "STDP Vogels2011": refused("no on-chip plasticity", MORADI, "no on-chip plasticity"),
    "STDP dendritic delay": refused("no on-chip plasticity", MORADI, "no on-chip plasticity"),
    "SpikeSourceGamma": native("spikes from the host's spike generator"),
    "SpikeSourcePoissonRefractory": native("spikes from the host's spike generator"),
    "SpikeSourceInhGamma": native("spikes from the host's spike generator"),
    "ACSource": refused("no per-neuron current injection: the DC bias is one per core",
                        ROCKPOOL, "no per-neuron current injection"),
    "NoisyCurrentSource": refused("no per-neuron current injection: the DC bias is one per "
                                  "core", ROCKPOOL, "no per-neuron current injection"),
}


def _spec_from_data(data: Mapping[str, Any]) -> DynapseSpec:
    return DynapseSpec(**data)


class DynapseTarget(Target):
    """A DYNAP-SE board (``generation`` "se1" or "se2").

    ``mismatch`` is the relative spread of device mismatch (default the spec's 15 %
    [unverified]); ``seed`` picks the chip instance.  ``delay_tolerance`` (ms) is the
    largest PyNN delay accepted although DYNAP-SE cannot program delays.
    """

    name: ClassVar[str] = "dynapse"
    OPTIONS: ClassVar[Options] = Options(
        Option("generation", str, "se1", "DYNAP-SE1, or DYNAP-SE2 (allocated 11-bit tags, "
               "4-bit weight masks)", choices=tuple(g.value for g in Generation)),
        Option("chips", int, None, "chips of the board (1..4; 4)"),
        Option("delay_tolerance", float, 1.0, "longest delay (ms) accepted although "
               "DYNAP-SE has no programmable delays"),
        Option("mismatch", float, None, "relative spread of device mismatch (0.15)",
               stage=RUN),
        Option("seed", int, 0, "the chip instance (mismatch draw)", stage=RUN),
        Option("delta_t", float, DELTA_T_MV, "exponential-onset slope of the DPI neuron, mV, "
               "for LIF cells (0: none; AdExp cells use their delta_T)", stage=RUN),
        Option("max_substep", float, MAX_SUBSTEP_MS, "longest integration substep, ms",
               stage=RUN),
        Option("spec", object, None, "a whole DynapseSpec (Python only)",
               python=(DynapseSpec,), from_data=_spec_from_data),
    )
    LIMITS: ClassVar[Mapping[str, str]] = LIMITS
    APPROXIMATIONS: ClassVar[Mapping[str, str]] = APPROXIMATIONS
    SUPPORT: ClassVar[Mapping[str, Support]] = SUPPORT

    @classmethod
    def catalogue(cls) -> list[str]:
        one = DynapseSpec()
        return ["boards:", f"  {'se1':<22} DYNAP-SE1: {one.chips} chips x {one.cores_per_chip} "
                f"cores x {one.neurons_per_core} neurons, 10-bit placement tags",
                f"  {'se2':<22} DYNAP-SE2: the same cores, 11-bit allocated tags, 4-bit "
                "weight masks"]

    def configure(self) -> None:
        c = self.config
        spec = c["spec"]
        try:
            if spec is None:
                gen = Generation(c["generation"])
                spec = DynapseSpec.se2() if gen is Generation.SE2 else DynapseSpec()
            if c["chips"] is not None:
                spec = spec.replace(chips=c["chips"])
            if c["mismatch"] is not None:
                spec = spec.replace(mismatch=c["mismatch"])
        except ValueError as e:
            raise TargetOptionError(f"target 'dynapse': {e}") from None
        self.spec = spec
        self.board = spec.mesh.name
        self.seed, self.delay_tolerance = c["seed"], c["delay_tolerance"]
        self.delta_t, self.max_substep = c["delta_t"], c["max_substep"]

    def passes(self) -> Sequence[Pass]:
        return (self._map, describe, encode)

    def _map(self, build: Build) -> Build:
        found = Violations(build.strict, DynapseError, fit=build.fit)
        mapping = map_network(build.network, self.spec, delay_tolerance=self.delay_tolerance,
                              violations=found)
        # the network as the chip runs it: biases merged where fit='approximate' merged them
        return found.into(build).replace(network=mapping.network,
                                         detail=DynapseDetail(mapping))

    def mapping(self, network: Network) -> DynapseMapping:
        """The mapper's detail (CAM words, tags, realised weights) of ``network``."""
        return map_network(network, self.spec, delay_tolerance=self.delay_tolerance,
                           violations=Violations(True, DynapseError, fit=self.fit))

    def remap(self, compiled: CompiledNetwork) -> DynapseDetail:
        return DynapseDetail(map_network(compiled.network, self.spec,
                                         delay_tolerance=self.delay_tolerance,
                                         violations=Violations(strict=False,
                                                               fit=compiled.fit)))

    def estimate(self, compiled: CompiledNetwork, activity: Activity) -> StepEstimate:
        detail = self.detail(compiled)
        assert isinstance(detail, DynapseDetail)
        return step_cost(detail.mapping.on_chip(), detail.mapping, compiled.routes, activity)

    def make_simulator(self, compiled: CompiledNetwork,
                       detail: TargetDetail | None) -> DynapseSimulator:
        assert isinstance(detail, DynapseDetail)
        return DynapseSimulator(compiled.network, detail.mapping, seed=self.seed,
                                mismatch=self.spec.mismatch, delta_t=self.delta_t,
                                max_substep=self.max_substep)
