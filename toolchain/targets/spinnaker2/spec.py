"""What a SpiNNaker2 machine offers a compiled network: every limit, clock and cost the
mapper, the numerics and the timing model read, in one overridable value.

Each default names its source.  **[src]** was read in a public source; **[unverified]** is a
commonly quoted figure that could not be checked against a primary source, so it is a named
parameter here and nowhere else: override it (``SpiNNaker2Spec(pe_clock_hz=300e6)``) when a
better number is known.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from toolchain.compiler.spec import CoreLimits, Mesh
from toolchain.ir import CellType

Numerics = Literal["s16.15", "float32"]
SynapseStorage = Literal["sram", "dram"]
LateSpikePolicy = Literal["drop", "defer"]


# A neuron update's cycles per cell type, as multiples of cycles_per_neuron_update (the
# IF_curr_exp update): per synapse type one more state (alpha) or two more products with
# (E - v) (conductances); the reference's schemes for the others: rk2 evaluates the
# equations twice, each exponential-integrate-and-fire evaluation calls an exp (a few
# hundred M4F cycles in software for expf), Izhikevich's Euler step is a handful of
# products.  [assumption: no published SpiNNaker2 per-model figures]
NEURON_UPDATE_COST: dict[CellType, float] = {
    CellType.IF_CURR_EXP: 1.0,
    CellType.IF_CURR_ALPHA: 1.4,
    CellType.IF_COND_EXP: 1.3,
    CellType.IF_COND_ALPHA: 1.7,
    CellType.IF_CURR_DELTA: 0.8,
    CellType.IF_COND_EXP_GSFA_GRR: 2.6,
    CellType.EIF_COND_EXP_ISFA_ISTA: 6.0,
    CellType.EIF_COND_ALPHA_ISFA_ISTA: 6.4,
    CellType.IZHIKEVICH: 1.2,
    # Hodgkin-Huxley: three gates, each with two rate functions of exp() per evaluation,
    # and the reference's scheme evaluates twice; GIF: two adaptation currents, a
    # threshold and the escape-noise exp() plus one random number per neuron and tick
    CellType.HH_COND_EXP: 12.0,
    CellType.GIF_COND_EXP: 5.0,
}


#: The longest step (ms) at which a PE integrates a model whose explicit scheme needs a
#: short one (forward Euler on Hodgkin-Huxley's gates diverges at a 0.1 ms tick): the PE
#: runs ceil(tick / step) substeps of it per tick, a software loop on a general-purpose
#: core, and pays their cycles (:meth:`SpiNNaker2Spec.neuron_update_cycles`).
ODE_SUBSTEP_MS: dict[CellType, float] = {CellType.HH_COND_EXP: 0.01}


def ode_substeps(cell_type: CellType, tick_ms: float) -> int:
    """Integration substeps a PE runs per tick for ``cell_type`` (1: one step per tick)."""
    step = ODE_SUBSTEP_MS.get(cell_type)
    return 1 if step is None else max(1, math.ceil(tick_ms / step - 1e-9))


class SpecError(ValueError):
    """A SpiNNaker2 machine description that cannot exist (a parameter out of its range)."""


#: The timer ticks the spec supports (ms): sPyNNaker's default and its common fine tick
#: [src: sPyNNaker; FACTS.md].  A network runs once per tick, so its dt must be one of them
#: (or the compile is asked to approximate: :func:`tick_for`).
TICKS_MS = (1.0, 0.1)
#: How to move a network from the 0.1 ms tick to the 1 ms one, for fix hints: the tick is the
#: network's dt, so it is the script's time step that changes (or an approximated compile).
COARSER_TICK = ("use the 1 ms tick (timestep=1.0 in the script's setup(), or -O tick_ms=1.0 "
                "with --fit approximate)")


def tick_for(dt: float) -> float:
    """The tick a network of time step ``dt`` runs on when its dt is no tick and the
    compile approximates: 0.1 ms for any dt below 1 ms (the finer tick keeps more of a
    fine-stepped network's timing), 1 ms above."""
    return dt if dt in TICKS_MS else (0.1 if dt < 1.0 else 1.0)


@dataclass(frozen=True)
class Board:
    """Chips on a 2-D grid joined by chip-to-chip links; ``torus`` closes the edges.

    Every chip has the same number of processing elements (PEs); chip (x, y) talks to its
    4 grid neighbours.  A SpiNNaker chip has 6 links [src: SpiNNaker2 datasheet v0.03]; the
    two diagonal links are not used by our dimension-order routes, which is a simplification
    (routes are at most as short as with them, never shorter).
    """

    name: str
    width: int
    height: int
    torus: bool = False

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise SpecError(f"Board '{self.name}': {name} must be a positive integer, "
                                f"got {value!r}")

    @property
    def n_chips(self) -> int:
        return self.width * self.height

    def chip_xy(self, chip: int) -> tuple[int, int]:
        return chip % self.width, chip // self.width

    def hops_xy(self, a: int, b: int) -> tuple[int, int]:
        """Dimension-order hops from chip ``a`` to chip ``b`` along x and along y (the
        shorter way round on a torus)."""
        (ax, ay), (bx, by) = self.chip_xy(a), self.chip_xy(b)
        hx, hy = abs(bx - ax), abs(by - ay)
        if self.torus:
            hx, hy = min(hx, self.width - hx), min(hy, self.height - hy)
        return hx, hy


def single_chip() -> Board:
    """One SpiNNaker2 chip on its own."""
    return Board("1-chip", 1, 1)


def board48() -> Board:
    """A 48-chip board laid out as an 8 x 6 mesh.

    SpiNNaker 1's 48-node board is the model; the SpiNNaker2 48-chip board's exact chip
    wiring is [unverified], so this is a plain mesh (no wrap-around inside one board).
    """
    return Board("48-chip", 8, 6)


def grid(width: int, height: int, *, torus: bool = True) -> Board:
    """Several boards joined into one ``width`` x ``height`` torus of chips (racks)."""
    return Board(f"{width}x{height}-chip", width, height, torus)


BOARDS = {"1-chip": single_chip, "48-chip": board48}


@dataclass(frozen=True)
class SpiNNaker2Spec:
    """A SpiNNaker2 machine and the software conventions of its SNN runtime."""

    board: Board = dataclasses.field(default_factory=single_chip)

    # --- chip -----------------------------------------------------------------------------
    # 152 ARM Cortex-M4F PEs, 128 KB SRAM each, a 16,384-entry multicast router and 6 links.
    # [src: SpiNNaker2 datasheet v0.03; Hoeppner et al. 2021, arXiv 2103.08392]
    pes_per_chip: int = 152
    sram_per_pe: int = 128 * 1024  # bytes
    router_entries: int = 16_384
    chip_links: int = 6
    # PEs per chip kept for the runtime (boot/monitor duties).  SpiNNaker 1 keeps a monitor
    # core per chip; 1 on SpiNNaker2 is an assumption [unverified].
    reserved_pes_per_chip: int = 1
    # Part of each PE's SRAM taken by program code, stack and runtime buffers: an assumption
    # [unverified] (sPyNNaker's LIF binary for SpiNNaker 1 is of the order of 20-30 KB; we
    # round up to leave room for stack and recording buffers).
    code_and_stack_bytes: int = 32 * 1024
    # Where synapse rows live.  "sram": in the PE's own SRAM, next to code and neuron state
    # (every row header and word counts against the PE).  "dram": in the chip's LPDDR4 (2
    # interfaces per chip [src: SpiNNaker2 datasheet v0.03]), DMA'd into a per-PE buffer on
    # arrival of a spike, as sPyNNaker does with SDRAM on SpiNNaker 1; the capacity per chip
    # is an assumption [unverified].
    synapse_storage: SynapseStorage = "sram"
    dram_bytes_per_chip: int = 2 * 1024**3  # [unverified]
    dma_buffer_bytes: int = 8 * 1024  # double-buffered row DMA in SRAM [assumption]

    # --- software conventions of the SNN runtime -----------------------------------------
    # Neurons per PE: 250 in the SpiNNaker2 SNN software [unverified]; sPyNNaker uses 256
    # on SpiNNaker 1 [src: sPyNNaker spynnaker/pyNN/utilities/constants.py].
    neurons_per_pe: int = 250
    # Timer tick: 1 ms default, 0.1 ms common [src: sPyNNaker; FACTS.md].
    tick_ms: float = 1.0
    # Delay ring buffer slots per PE, 16 by default, up to 64
    # [src: sPyNNaker constants.py MAX_SUPPORTED_DELAY_TICS].
    ring_buffer_ticks: int = 16
    # Delay-extension stages a long delay may pass through.  Older sPyNNaker releases reach
    # 144 ticks with 16-tick stages [src: FACTS.md]; here each stage adds max_delay_ticks
    # (15 with 16 slots) so that the remainder left for the target PE is never 0 ticks:
    # 8 stages reach 15 + 8 x 15 = 135 ticks.
    max_delay_stages: int = 8
    numerics: Numerics = "s16.15"
    weight_bits: int = 16  # sPyNNaker synaptic word weight field [src: synapse_row.h]

    # --- per-PE work, for the timing model ------------------------------------------------
    # M4F clock: the PEs run under per-PE DVFS; 200 MHz is the figure quoted for the SNN
    # performance level [unverified].  The 28 nm SpiNNaker2 test chip ran its PEs from
    # 125 to 500 MHz at three performance levels [paper: Hoeppner et al. 2019, "Dynamic
    # power management for neuromorphic many-core systems", IEEE TCAS-I].
    pe_clock_hz: float = 200e6
    # Cycles per synaptic event (DMA'd row word decoded and added to the ring buffer) and per
    # neuron update; of the order of sPyNNaker's published budgets [unverified].
    cycles_per_synaptic_event: int = 20
    cycles_per_neuron_update: int = 100
    cycles_per_packet: int = 60  # multicast packet received: interrupt + row lookup [unverified]
    cycles_per_tick_overhead: int = 2_000  # timer interrupt, recording, DMA set-up [unverified]
    late_spikes: LateSpikePolicy = "drop"  # sPyNNaker's drop_late_spikes [src: FACTS.md]
    # Pair STDP in software (stdp.py): a packet into a plastic row costs, per synapse, a
    # read-modify-write of its weight with one depression, plus one potentiation per post
    # spike in the post history since the row's last pre spike; a post spike costs adding
    # it to the history.  Of the order of the static per-synapse cost times a few
    # [unverified: no published SpiNNaker2 figures; SpiNNaker 1's STDP is several times its
    # static synapse processing, Knight & Furber 2016, Front. Neurosci. 10:420].
    cycles_per_plastic_synapse: int = 60
    cycles_per_post_pair: int = 20
    cycles_per_post_spike: int = 40
    # Short-term plasticity and stochastic release in software: per synaptic event, its
    # state (x, y, u, last spike time: 4 words per synapse in SRAM) advanced by a few
    # exponentials (or a random draw) and the weight scaled [assumption: sPyNNaker ships
    # no such synapse; of the order of the plastic read-modify-write]
    cycles_per_release: int = 60
    # Post spikes a PE remembers per neuron for deferred STDP updates
    # [src: sPyNNaker neural_modelling/src/neuron/plasticity/stdp/post_events.h
    # MAX_POST_SYNAPTIC_EVENTS].
    stdp_post_history: int = 16
    energy_per_plastic_update_j: float = 20e-12  # [unverified]
    # Slice sizing for time: with fit_tick the mapper cuts populations into slices whose
    # estimated worst tick (timing.worst_tick_cycles) fits pe_clock_hz x tick_ms, assuming
    # populations and spike arrays fire at planned_rate_hz (Poisson sources at their own
    # rates).  At a 0.1 ms tick and 200 MHz a PE has 20,000 cycles: 250 neurons x 100
    # cycles already overrun it, and every packet to that PE would be dropped.
    fit_tick: bool = True
    planned_rate_hz: float = 10.0  # [assumption] cortical-range rate used for sizing only

    # --- interconnect and energy (physical cost only) -------------------------------------
    hop_latency_ns: float = 100.0  # per chip-to-chip router hop [unverified]
    noc_latency_ns: float = 20.0  # source PE -> chip router and router -> target PE [unverified]
    energy_per_synaptic_event_j: float = 10e-12  # [unverified]
    energy_per_neuron_update_j: float = 20e-12  # [unverified]
    energy_per_hop_j: float = 100e-12  # per packet per chip-to-chip hop [unverified]
    static_power_per_pe_w: float = 1e-3  # idle PE at its performance level [unverified]

    def __post_init__(self) -> None:
        positive_ints = ("pes_per_chip", "sram_per_pe", "router_entries", "chip_links",
                         "neurons_per_pe", "ring_buffer_ticks", "weight_bits",
                         "cycles_per_synaptic_event", "cycles_per_neuron_update",
                         "cycles_per_packet", "cycles_per_plastic_synapse",
                         "cycles_per_post_pair", "cycles_per_post_spike", "stdp_post_history",
                         "cycles_per_release")
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SpecError(f"SpiNNaker2Spec {name} must be a positive integer, got {value!r}")
        if not 0 <= self.reserved_pes_per_chip < self.pes_per_chip:
            raise SpecError(
                f"SpiNNaker2Spec reserved_pes_per_chip = {self.reserved_pes_per_chip} must be in "
                f"[0, {self.pes_per_chip - 1}] so that a chip keeps a PE for neurons"
            )
        if not 0 <= self.code_and_stack_bytes < self.sram_per_pe:
            raise SpecError(
                f"SpiNNaker2Spec code_and_stack_bytes = {self.code_and_stack_bytes} must be in "
                f"[0, {self.sram_per_pe}) (the SRAM of one PE)"
            )
        if self.tick_ms not in TICKS_MS:
            raise SpecError(f"SpiNNaker2Spec tick_ms = {self.tick_ms:g} ms is not a supported "
                            "timer tick; use 1.0 or 0.1")
        rb = self.ring_buffer_ticks
        if not 2 <= rb <= 64 or rb & (rb - 1):
            raise SpecError(
                f"SpiNNaker2Spec ring_buffer_ticks = {rb} must be a power of two in [2, 64] "
                "(the delay field of a synaptic word is log2 of it wide)"
            )
        if not isinstance(self.max_delay_stages, int) or self.max_delay_stages < 0:
            raise SpecError(f"SpiNNaker2Spec max_delay_stages must be an integer >= 0, "
                            f"got {self.max_delay_stages!r}")
        if self.numerics not in ("s16.15", "float32"):
            raise SpecError(f"SpiNNaker2Spec numerics '{self.numerics}' is not supported; "
                            "use 's16.15' or 'float32'")
        if self.synapse_storage not in ("sram", "dram"):
            raise SpecError(f"SpiNNaker2Spec synapse_storage '{self.synapse_storage}' is not "
                            "supported; use 'sram' or 'dram'")
        if self.late_spikes not in ("drop", "defer"):
            raise SpecError(f"SpiNNaker2Spec late_spikes '{self.late_spikes}' is not supported; "
                            "use 'drop' or 'defer'")
        if not isinstance(self.fit_tick, bool):
            raise SpecError(f"SpiNNaker2Spec fit_tick must be True or False, got {self.fit_tick!r}")
        if not (isinstance(self.planned_rate_hz, (int, float)) and self.planned_rate_hz >= 0):
            raise SpecError(f"SpiNNaker2Spec planned_rate_hz must be a rate >= 0 Hz, got "
                            f"{self.planned_rate_hz!r}")
        if not self.pe_clock_hz > 0:
            raise SpecError(f"SpiNNaker2Spec pe_clock_hz must be positive, got {self.pe_clock_hz}")

    # --- derived quantities -----------------------------------------------------------------
    @property
    def usable_pes_per_chip(self) -> int:
        return self.pes_per_chip - self.reserved_pes_per_chip

    @property
    def n_pes(self) -> int:
        """PEs the board offers to the network."""
        return self.board.n_chips * self.usable_pes_per_chip

    @property
    def data_bytes_per_pe(self) -> int:
        """SRAM left for neuron state, ring buffers and synapse rows."""
        return self.sram_per_pe - self.code_and_stack_bytes

    @property
    def max_delay_ticks(self) -> int:
        """Longest delay a PE's ring buffer holds on its own (slot 0 is 'now')."""
        return self.ring_buffer_ticks - 1

    @property
    def max_extended_delay_ticks(self) -> int:
        """Longest delay with delay-extension stages."""
        return self.max_delay_ticks * (1 + self.max_delay_stages)

    @property
    def delay_bits(self) -> int:
        return int(math.log2(self.ring_buffer_ticks))

    def neuron_update_cycles(self, cell_type: CellType) -> float:
        """Cycles of one neuron's update on a PE (NEURON_UPDATE_COST, times its
        integration substeps per tick)."""
        return (self.cycles_per_neuron_update * NEURON_UPDATE_COST.get(cell_type, 1.0)
                * ode_substeps(cell_type, self.tick_ms))

    @property
    def cycles_per_tick(self) -> float:
        return self.pe_clock_hz * self.tick_ms * 1e-3

    @property
    def limits(self) -> CoreLimits:
        """One PE in the compiler's terms: its neurons, and its data SRAM as the bits its
        synapse rows may take (the rows share it with neuron state and ring buffers)."""
        return CoreLimits(neurons=self.neurons_per_pe, synapse_bits=8 * self.data_bytes_per_pe)

    @property
    def mesh(self) -> Mesh:
        """The board in the shared compiler's terms: chips of quad-PE tiles (QPEs, 4 PEs
        each [src: Hoeppner et al. 2021]) in one row (the QPE floorplan is not modelled)."""
        return Mesh(self.board.name, self.board.width, self.board.height,
                    math.ceil(self.pes_per_chip / 4), 1, 4)

    def replace(self, **changes: object) -> SpiNNaker2Spec:
        return dataclasses.replace(self, **changes)
