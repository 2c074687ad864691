"""Intel Loihi (1): every limit, format and per-event cost the compiler reads, with sources.

Sources are the entries of the project's hardware facts (docs: FACTS, "Intel Loihi"):
nengo-loihi (block.py, hardware/validate.py, discretize.py), lava-nc's bit-accurate LIF and
SANA-FE's Loihi calibration (arch/loihi.yaml).  Figures marked [unverified] there are named
parameters here so that a better number can be passed in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from toolchain.compiler.artifact import Approximation, Violation
from toolchain.compiler.fit import MERGE_RTOL, approximation, fit_hint, merge_parameters, spread
from toolchain.compiler.pipeline import violation
from toolchain.compiler.spec import CoreLimits, EventCost, EventCosts, Mesh, SynapseFormat
from toolchain.ir import Population
from toolchain.sim.kernels import exp_currents
from toolchain.targets.loihi.convert import (
    compartment_taus,
    convert_population,
    cuba_mappable,
    decay_constant,
)
from toolchain.targets.loihi.fixed import (
    DECAY_MAX,
    DU_OFFSET,
    DV_OFFSET,
    REFRACTORY_MAX,
    LoihiNumericsError,
)
from toolchain.targets.options import option_hint
from toolchain.targets.support import approximated, native, refused

# --- chip and core structure [src: SANA-FE arch/loihi.yaml; nengo-loihi block.py]
TILES_X = 8
TILES_Y = 4
CORES_PER_TILE = 4
CORES_PER_CHIP = TILES_X * TILES_Y * CORES_PER_TILE  # 128, nengo-loihi: "Chips cannot have
# more than 128 cores"
MAX_COMPARTMENTS = 1024  # nengo-loihi block.py MAX_COMPARTMENTS
MAX_IN_AXONS = 4096  # nengo-loihi block.py MAX_IN_AXONS
MAX_OUT_AXONS = 4096  # nengo-loihi block.py MAX_OUT_AXONS
MAX_SYNAPSE_BITS = 1_048_576  # nengo-loihi block.py MAX_SYNAPSE_BITS: 16,384 64-bit words

# --- per-core configuration tables [src: nengo-loihi hardware/validate.py, nxsdk_objects.py]
MAX_COMPARTMENT_CONFIGS = 32
MAX_THRESHOLD_CONFIGS = 16
MAX_SYNAPSE_CONFIGS = 16
MAX_STDP_PRE_CONFIGS = 3
# refractory range, decays, weight format and the float -> integer conversion are the
# numerics' (toolchain.targets.loihi.numerics), the one source for Loihi arithmetic

# --- synapse memory layout [src: nengo-loihi block.py SynapseConfig]
WEIGHT_BITS_ALLOWED = (0, 1, 2, 3, 4, 5, 6, 8)
INDEX_BITS_ALLOWED = (0, 6, 7, 8, 9, 10, 11, 12)
SYNAPSES_PER_GROUP = 64  # a row is stored in groups of up to 64 synapses
GROUP_HEADER_BITS = 4 + 6  # synapse format index + synapse count
WORD_BITS = 64  # each group is rounded up to whole 64-bit words
LEARNING_AXON_SLOTS = 2  # a learning synapse's axon takes 2 slots
TAG_BITS = 0  # tags are only used by learning rules that write them; we do not

MAX_DELAY_STEPS = 62  # [unverified] synaptic delays up to 62 steps
# Parameters one group of compartments shares (convert.py: one du, dv and scale per
# population, as lava's LIF keeps one per process)
SHARED_PARAMETERS = ("tau_m", "cm", "tau_syn_E", "tau_syn_I")


def _sana_fe_costs() -> EventCosts:
    # [src: SLAM-Lab/SANA-FE arch/loihi.yaml, examples/loihi.yaml] - cite as SANA-FE
    return EventCosts(
        synaptic_op=EventCost(ns=4.7, pj=33.6),  # sparse synaptic op
        neuron_update=EventCost(ns=3.7, pj=21.6),
        spike_out=EventCost(ns=30.0, pj=69.3),
        hop_x=EventCost(ns=4.1, pj=3.0),  # east-west
        hop_y=EventCost(ns=6.5, pj=4.2),  # north-south
        barrier_us=((1, 0.6), (2, 1.0), (4, 1.4), (29, 1.8)),
    )


# A bias the host's schedule changes during a run (a step or AC source) is written by an
# embedded x86 core of the chip (Davies et al. 2018: three per chip, for management): one
# message over the mesh to the compartment's core (as a spike sent, 30 ns / 69.3 pJ) and
# one compartment access there (6.0 ns / 51.2 pJ) [src: SANA-FE arch/loihi.yaml for both
# figures; that a write costs their sum, one write after another, is our model,
# unverified: NxSDK's SNIP timings are not public].
BIAS_WRITE = EventCost(ns=30.0 + 6.0, pj=69.3 + 51.2)


@dataclass(frozen=True)
class LoihiBoard:
    """A Loihi system: chips on a 2-D grid.  Grid shapes of multi-chip systems are our
    assumption [unverified]: only the chip counts are published."""

    name: str
    chips_x: int
    chips_y: int
    description: str

    @property
    def n_chips(self) -> int:
        return self.chips_x * self.chips_y


BOARDS: dict[str, LoihiBoard] = {
    b.name: b for b in (
        LoihiBoard("loihi1", 1, 1, "one Loihi chip"),
        LoihiBoard("kapoho_bay", 2, 1, "Kapoho Bay USB stick, 2 chips"),
        LoihiBoard("nahuku32", 8, 4, "Nahuku board, 32 chips"),
        LoihiBoard("pohoiki_springs", 32, 24, "Pohoiki Springs system, 768 chips"),
    )
}


def board(name: str) -> LoihiBoard:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown Loihi board '{name}'; known: {', '.join(BOARDS)}") from None


LIMITS = {
    "input_axons": f"distinct input sources per core ({MAX_IN_AXONS}; a plastic one takes "
                   f"{LEARNING_AXON_SLOTS})",
    "output_axons": f"destination cores of the neurons of one core ({MAX_OUT_AXONS})",
    "synapse_bits": f"synapse memory per core ({MAX_SYNAPSE_BITS} bits)",
    "synapse_configs": f"synapse formats (incoming projections) per core "
                       f"({MAX_SYNAPSE_CONFIGS})",
    "learning_configs": f"distinct STDP rules per core ({MAX_STDP_PRE_CONFIGS})",
    "cores": "cores of the board (128 per chip; a core holds 1024 compartments: one per "
             "neuron, two for a neuron whose tau_syn_E and tau_syn_I differ, one per "
             "receptor of a composed cell)",
    "delay_steps": f"synaptic delay ({MAX_DELAY_STEPS} steps)",
    "refractory_steps": f"refractory period ({REFRACTORY_MAX} steps)",
    "weight_range": "the largest weight: an 8-bit mantissa << weight exponent 7, in units of "
                    "the post population's voltage scale (vth_mant)",
}


APPROXIMATIONS = {
    "parameters_merged": f"tau_m, cm, tau_syn_E or tau_syn_I varying within a population by "
                         f"less than {MERGE_RTOL:.0%} become their mean (one decay register "
                         "per compartment group)",
    "refractory_shortened": f"tau_refrac beyond {REFRACTORY_MAX} steps becomes "
                            f"{REFRACTORY_MAX} steps",
    "delays_shortened": f"delays beyond {MAX_DELAY_STEPS} steps become {MAX_DELAY_STEPS} steps",
    "weights_clipped": "weights beyond the largest of the weight format become it (the "
                       "format saturates)",
    "noise_uniform": "a NoisyCurrentSource's Gaussian samples become the compartments' noise "
                     "generator: uniform draws per neuron and step, of the nearest spread a "
                     "power-of-two exponent gives (its mean on the bias)",
}


LAVA = "lava-nc 0.10 PyLifModelBitAcc (the test suite runs it)"
DAVIES = "Davies et al. 2018, IEEE Micro 38(1)"
CUBA_ONLY = "cannot be mapped exactly to Loihi's CUBA LIF"
STATIC = "synapses (short-term plasticity or stochastic release) are not modelled on loihi"
SUPPORT = {
    "IF_curr_exp": native("CUBA LIF compartments in Loihi's fixed point, spike for spike "
                          "with lava-nc's bit-accurate model", LAVA),
    "IF_curr_alpha": refused(
        "an alpha current is one exponential filter feeding another; a compartment's "
        "current decays once and a dendrite's current joins the soma's voltage update, not "
        "its current", f"{LAVA}; {DAVIES} (dendritic compartments); the join's operand is "
        "[unverified]", "an alpha-shaped current is one exponential filter feeding another"),
    "IF_cond_exp": refused(
        "a conductance synapse multiplies by (E - v); a compartment only adds its current "
        "to v", LAVA, "its synaptic input is a conductance"),
    "tau_syn_E != tau_syn_I": native(
        "two compartments per neuron: the soma takes the excitatory input, a dendrite the "
        "inhibitory one with its own decay, joined by ADD; 512 such neurons per core",
        f"{DAVIES} (dendritic compartments; the join's operand [unverified])"),
    "varying parameters": approximated(
        "our conversion gives a population one du, dv and synaptic scale, as a lava LIF "
        "process has; values within 10 % are merged (the chip itself has 32 compartment "
        "configs per core: per-neuron conversion is not written yet)",
        "nengo-loihi hardware/validate.py (32 configs)"),
    "delays": native(f"up to {MAX_DELAY_STEPS} steps; longer ones shortened with --fit "
                     "approximate", "nengo-loihi builder/discretize.py [unverified]"),
    "SpikeSourcePoisson": native("spike input from the host (the engine's seeded trains)"),
    "SpikeSourceArray": native("spike input from the host"),
    "DCSource": native("the host sets the compartments' bias (13-bit mantissa, 3-bit "
                       "exponent) at the source's start and stop", LAVA),
    "StepCurrentSource": native("the host (or an embedded core) rewrites the bias at each "
                                "step of the current; the report's bias schedule gives the "
                                "writes and their time", f"{LAVA}; {DAVIES} (embedded x86 "
                                "cores)"),
    "STDP additive": native("the learning engine's sum of products of 7.7-bit traces, "
                            "evaluated every epoch", f"{DAVIES}; nengo-loihi discretize.py"),
    "STDP multiplicative": native("the learning engine, with the weight as a factor of the "
                                  "product terms (so also additive-potentiation-"
                                  "multiplicative-depression, and Gutig with exponents 0 "
                                  "or 1: each term with its factor or without)",
                                  f"{DAVIES}; nengo-loihi discretize.py"),
    "record v": native("the compartment's v, scaled back to mV"),
    "record isyn_exc, isyn_inh": refused(
        "with equal time constants both receptors feed one compartment's current u (with "
        "different ones the two compartments record apart)", LAVA,
        "keeps one synaptic current per neuron"),
    "IF_curr_delta": native("a compartment whose current decay clears u every step "
                            "(du = 4095), so a weight moves v once by its mV; a jump "
                            "arriving while refractory is lost (v is held at 0)", LAVA),
    "IF_cond_alpha": refused("a conductance synapse multiplies by (E - v); a compartment "
                             "only adds its current to v", LAVA, CUBA_ONLY),
    "IF_cond_exp_gsfa_grr": refused("its adaptation and refractoriness are conductances: "
                                    "products with v a compartment cannot form", LAVA,
                                    CUBA_ONLY),
    "EIF_cond_exp_isfa_ista": refused("a compartment's voltage update is linear: no "
                                      "exponential spike onset", LAVA, CUBA_ONLY),
    "EIF_cond_alpha_isfa_ista": refused("a compartment's voltage update is linear: no "
                                        "exponential spike onset", LAVA, CUBA_ONLY),
    "AdExp, a = 0": refused("a compartment's voltage update is linear: no exponential spike "
                            "onset", LAVA, CUBA_ONLY),
    "HH_cond_exp": refused("a compartment's voltage update is linear: no sodium and "
                           "potassium gates", LAVA, CUBA_ONLY),
    "Izhikevich": refused("a compartment's voltage update is linear: no quadratic term",
                          LAVA, CUBA_ONLY),
    "GIF_cond_exp": refused("its synapses are conductances and it fires by escape noise; a "
                            "compartment adds currents and fires at its threshold", LAVA,
                            CUBA_ONLY),
    "PointNeuron, current receptors": native(
        "one compartment per receptor, each with its own current decay: the first "
        "receptor's in the soma, the others' in dendrites joined by ADD (as for tau_syn_E "
        "!= tau_syn_I); 1024 / receptors neurons per core",
        f"{DAVIES} (dendritic compartments; the join's operand [unverified])"),
    "PointNeuron, conductance receptors": refused("a conductance synapse multiplies by "
                                                  "(E - v); a compartment only adds its "
                                                  "current to v", LAVA, CUBA_ONLY),
    "TsodyksMarkramSynapse": refused(
        "a synapse holds a weight, a delay and a tag, which only the learning engine "
        "changes, at epoch boundaries: no per-spike use and recovery state", DAVIES, STATIC),
    "SimpleStochasticSynapse": refused("Loihi's randomness is compartment noise, not "
                                       "synaptic release", DAVIES, STATIC),
    "StochasticTsodyksMarkramSynapse": refused("no per-spike synaptic state, and no "
                                               "random synaptic release", DAVIES, STATIC),
    "MultiQuantalSynapse": refused("no per-spike synaptic state, and no random synaptic "
                                   "release", DAVIES, STATIC),
    "STDP additive-potentiation-multiplicative-depression": native(
        "the learning engine: an additive potentiation term and a depression term with "
        "the weight as a factor", f"{DAVIES}; nengo-loihi discretize.py"),
    "STDP Gutig": refused("the learning engine's terms have (w + C) factors to whole "
                          "powers: mu between 0 and 1 has none", DAVIES, "is not modelled "
                          "on loihi"),
    "STDP Vogels2011": native("the learning engine: eta times the post trace at a pre "
                              "spike, eta times the pre trace at a post spike, and a "
                              "product term of the pre spike alone for - eta * alpha",
                              f"{DAVIES}; nengo-loihi discretize.py"),
    "STDP dendritic delay": refused("the learning engine sees the pre trace after the "
                                    "axonal delay: no dendritic part", DAVIES,
                                    "dendritic_delay_fraction"),
    "SpikeSourceGamma": native("spike input from the host (the engine's seeded trains)"),
    "SpikeSourcePoissonRefractory": native("spike input from the host (the engine's seeded "
                                           "trains)"),
    "SpikeSourceInhGamma": native("spike input from the host (the engine's seeded trains)"),
    "ACSource": native("an embedded core rewrites the bias of each compartment it enters "
                       "every step, with the sample the reference integrates in that step "
                       "(quantised to the bias format, as a DC bias is); the writes cost "
                       "every step's time and energy", f"{LAVA}; {DAVIES} (embedded x86 "
                       "cores); the write's cost is our model [unverified]"),
    "NoisyCurrentSource": approximated(
        "the compartments' noise generator: a uniform draw (-128..127 << exponent, one "
        "exponent per core) added to v every step, independent per neuron, its spread the "
        "nearest power of two to the Gaussian's (its mean on the bias), with --fit "
        "approximate: PyNN's noise is Gaussian and one sample for all the cells it enters",
        f"{DAVIES} (compartment noise); nengo-loihi emulator NoiseState, hardware "
        "dendriteSharedCfg"),
}


@dataclass(frozen=True)
class LoihiSpec:
    """What the compiler, the timing model and the report read about a Loihi system."""

    board: LoihiBoard = field(default_factory=lambda: BOARDS["nahuku32"])
    max_delay_steps: int = MAX_DELAY_STEPS
    costs: EventCosts = field(default_factory=_sana_fe_costs)
    bias_write: EventCost = BIAS_WRITE
    name: str = "loihi"

    @property
    def limits(self) -> CoreLimits:
        return CoreLimits(
            neurons=MAX_COMPARTMENTS, input_axons=MAX_IN_AXONS, output_axons=MAX_OUT_AXONS,
            synapse_bits=MAX_SYNAPSE_BITS, neuron_configs=MAX_COMPARTMENT_CONFIGS,
            threshold_configs=MAX_THRESHOLD_CONFIGS, synapse_configs=MAX_SYNAPSE_CONFIGS,
            learning_configs=MAX_STDP_PRE_CONFIGS,
        )

    @property
    def mesh(self) -> Mesh:
        return Mesh(self.board.name, self.board.chips_x, self.board.chips_y, TILES_X, TILES_Y,
                    CORES_PER_TILE)

    @property
    def synapses(self) -> SynapseFormat:
        return SynapseFormat(max_delay_steps=self.max_delay_steps)

    # -- hooks the generic passes call ------------------------------------------------
    def synapse_row_bits(self, row_lengths: np.ndarray, *, weight_bits: int, delay_bits: int,
                         index_bits: np.ndarray, learning: bool) -> np.ndarray:
        """nengo-loihi's accounting: per synapse weight + delay + tag + index bits; each
        group of up to 64 synapses adds a 10-bit header and rounds up to 64-bit words."""
        stored_weight = _round_up_to(weight_bits, WEIGHT_BITS_ALLOWED)
        per_synapse = stored_weight + delay_bits + TAG_BITS + np.asarray(index_bits)
        lengths = np.asarray(row_lengths, dtype=np.int64)
        full, rest = np.divmod(lengths, SYNAPSES_PER_GROUP)
        full_words = -(-(SYNAPSES_PER_GROUP * per_synapse + GROUP_HEADER_BITS) // WORD_BITS)
        rest_words = np.where(rest > 0, -(-(rest * per_synapse + GROUP_HEADER_BITS)
                                          // WORD_BITS), 0)
        return (full * full_words + rest_words) * WORD_BITS

    def index_bits(self, neurons: np.ndarray) -> np.ndarray:
        need = np.ceil(np.log2(np.maximum(np.asarray(neurons), 1))).astype(np.int64)
        return np.clip(need, INDEX_BITS_ALLOWED[1], INDEX_BITS_ALLOWED[-1])

    def input_axons_per_source(self, learning: bool) -> int:
        return LEARNING_AXON_SLOTS if learning else 1

    def neuron_configs(self, population: Population, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Per neuron, its soma's compartment config id (and, for a neuron with dendrites,
        each dendrite's, in further columns: a config of its own, it does not spike) and
        its threshold config id."""
        p = population.parameters
        du, dv, refractory = decays_and_refractory(population, dt)
        _, config = np.unique(np.stack([du, dv, refractory], axis=1), axis=0,
                              return_inverse=True)
        _, threshold = np.unique(p["v_thresh"] - p["v_reset"], return_inverse=True)
        config = config.reshape(-1).astype(np.int64)
        taus = compartment_taus(population, dt)[0] if cuba_mappable(population) else []
        if len(taus) > 1:
            columns = [config]
            for tau in taus[1:]:
                du_d = np.full(population.size, decay_constant(tau, dt, DU_OFFSET))
                columns.append(np.unique(du_d, return_inverse=True)[1].reshape(-1)
                               .astype(np.int64))
            config = np.stack(columns, axis=1)
        return config, threshold.reshape(-1).astype(np.int64)

    def compartments(self, population: Population, dt: float) -> int:
        """Compartments per neuron: a soma, and a dendrite for every current that needs a
        decay of its own (tau_syn_I's differing from tau_syn_E's; a composed cell's
        receptors after its first: convert.compartment_taus)."""
        if not cuba_mappable(population):
            return 1
        try:
            return len(compartment_taus(population, dt)[0])
        except LoihiNumericsError:  # a varying tau_syn: the check refuses it by name
            return 1

    def check_population(self, population: Population, dt: float) -> list[str]:
        return check_population(population, dt)

    def fit_population(self, population: Population, dt: float
                       ) -> tuple[Population, list[Approximation]]:
        """fit='approximate': parameters a compartment group shares (one du/dv and one
        synaptic scale per population, convert.py) merged where they are close, and a
        refractory period beyond the register shortened to its 63 steps.  A cell type
        that does not convert at all is left as it is, for the check to refuse by name."""
        if not cuba_mappable(population):
            return population, []
        applied = []
        merged = merge_parameters(population, [name for name in SHARED_PARAMETERS
                                               if name in population.parameters])
        pop = merged.population
        record = merged.approximation("a Loihi compartment group has one decay register "
                                      "(du, dv) and one synaptic scale")
        if record is not None:
            applied.append(record)
        steps = np.rint(pop.parameters["tau_refrac"] / dt)
        over = steps > REFRACTORY_MAX
        if over.any():
            longest = float(pop.parameters["tau_refrac"][over].max())
            params = dict(pop.parameters)
            params["tau_refrac"] = np.where(over, REFRACTORY_MAX * dt, params["tau_refrac"])
            pop = dataclasses.replace(pop, parameters=params)
            applied.append(approximation(
                "refractory_shortened", "population", pop.label, neurons=int(over.sum()),
                limit="refractory_steps",
                detail=f"tau_refrac up to {longest:g} ms became {REFRACTORY_MAX * dt:g} ms "
                       f"({REFRACTORY_MAX} steps of {dt:g} ms, Loihi's refractory register)"))
        return pop, applied

    def population_limits(self, population: Population, dt: float) -> list[Violation]:
        """Loihi 1's refractory register holds at most 63 steps."""
        steps = np.rint(population.parameters["tau_refrac"] / dt).astype(np.int64)
        if steps.max() <= REFRACTORY_MAX:
            return []
        i = int(np.argmax(steps))
        tau = float(population.parameters["tau_refrac"][i])
        fix = ("shorten tau_refrac or use a larger dt, or "
               + fit_hint(f"shorten it to {REFRACTORY_MAX} steps"))
        return [violation(
            "population", population.label, "refractory_steps", int(steps[i]), REFRACTORY_MAX,
            fix, f"Population '{population.label}' parameter tau_refrac[{i}] = {tau:g} ms is "
            f"{steps[i]} steps of dt = {dt:g} ms; Loihi's refractory delay is at most "
            f"{REFRACTORY_MAX} steps; {fix}")]

    def more_chips_hint(self, chips: int) -> str:
        fits = [b.name for b in BOARDS.values() if b.n_chips >= chips]
        if not fits:
            return (f"no Loihi board has {chips} chips (the largest, "
                    f"{max(BOARDS.values(), key=lambda b: b.n_chips).name}, has "
                    f"{max(b.n_chips for b in BOARDS.values())})")
        return f"use a board with at least {chips} chips: {option_hint('board', fits[0])}"


def _round_up_to(bits: int, allowed: tuple[int, ...]) -> int:
    for a in allowed:
        if a >= bits:
            return a
    raise ValueError(f"{bits} weight bits exceed the largest Loihi weight format "
                     f"({allowed[-1]} bits)")


def decays_and_refractory(population: Population, dt: float
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per neuron: the current decay du, voltage decay dv and refractory steps that the
    numerics' conversion gives (one decay register per distinct time constant)."""
    p = population.parameters
    soma = exp_currents(population)[:1]
    du = (_per_tau(soma[0][2], dt, DU_OFFSET) if soma
          else np.full(population.size, DECAY_MAX, dtype=np.int64))
    dv = _per_tau(p["tau_m"], dt, DV_OFFSET)
    refractory = np.rint(p["tau_refrac"] / dt).astype(np.int64)
    return du, dv, np.minimum(refractory, REFRACTORY_MAX)


def _per_tau(tau: np.ndarray, dt: float, offset: int) -> np.ndarray:
    """The decay register of each time constant (one register per distinct value)."""
    uniq, inverse = np.unique(tau, return_inverse=True)
    regs = np.array([decay_constant(float(t), dt, offset) for t in uniq], dtype=np.int64)
    return regs[inverse.reshape(-1)]


def check_population(population: Population, dt: float) -> list[str]:
    """What Loihi cannot represent in ``population``: whatever the conversion of PyNN
    parameters to Loihi integers refuses, with its message (the refractory register's
    range is a limit, checked by :meth:`LoihiSpec.population_limits`)."""
    try:
        convert_population(population, dt, clip_refractory=True)
    except LoihiNumericsError as e:
        close = [name for name in SHARED_PARAMETERS if name in population.parameters
                 and 0 < spread(population.parameters[name]) <= MERGE_RTOL]
        if close and f"parameter {close[0]} varies" in str(e):
            return [f"{e}; they are within {MERGE_RTOL:.0%} of each other, so you can also "
                    + fit_hint("merge them to their mean")]
        return [str(e)]
    return []
