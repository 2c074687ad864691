"""What a DYNAP-SE board can hold and how its words are laid out.

Every limit is a named constant with the source it comes from.  DYNAP-SE1 is the default;
``DynapseSpec.se2()`` gives the DYNAP-SE2 variant (free 11-bit tags, per-synapse 4-bit
weight masks over per-core base currents).  Figures marked [unverified] are commonly quoted
but not checked against a primary source: they are plain fields, so a user with better
numbers overrides them (``dataclasses.replace(spec, ...)``).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from toolchain.compiler.spec import CoreLimits, Mesh

# --- organisation [src: synsense/rockpool rockpool/devices/dynapse/definitions.py] --------
CHIPS_PER_BOARD = 4
CORES_PER_CHIP = 4
NEURONS_PER_CORE = 256
CAM_ENTRIES_PER_NEURON = 64  # hard fan-in limit: one CAM word per incoming event source
SRAM_ENTRIES_PER_NEURON = 4  # fan-out: one SRAM word per destination chip (+ core mask)
# The four DYNAP-SE1 chips of a board sit on a 2 x 2 mesh (R3 routers between them).
BOARD_MESH = (2, 2)

# --- CAM word [src: libcaer caerDynapseGenerateCamBits] -----------------------------------
CAM_SYNAPSE_TYPE_BITS = 2  # fast/slow x excitatory/inhibitory
CAM_NEURON_BITS = 8  # the source neuron within its core
CAM_CORE_BITS = 2  # the source core within its chip
SE1_TAG_BITS = CAM_NEURON_BITS + CAM_CORE_BITS  # 10-bit source tag
CAM_ID_BITS = 6  # which of the 64 CAM words of the destination neuron
CAM_WORD_BITS = CAM_SYNAPSE_TYPE_BITS + CAM_NEURON_BITS + CAM_CORE_BITS + CAM_ID_BITS

# --- SRAM word [src: libcaer caerDynapseGenerateCamBits / SRAM layout] --------------------
SRAM_VIRTUAL_CORE_BITS = 2
SRAM_DX_BITS = 2  # plus a sign bit
SRAM_DY_BITS = 2  # plus a sign bit
SRAM_CORE_MASK_BITS = 4  # destination cores on the target chip
MAX_CHIP_HOPS = 2**SRAM_DX_BITS - 1  # +-3 chips per axis

# --- DYNAP-SE2 differences [src: rockpool rockpool/devices/dynapse/lookup/defaults.py] -----
SE2_TAG_BITS = 11  # 2048 tags, freely assigned to senders
SE2_WEIGHT_MASK_BITS = 4
SE2_BASE_CURRENTS = (1.0, 2.0, 4.0, 8.0)  # relative sizes of the 4 per-core base weights


class SynapseType(enum.IntEnum):
    """The four DPI synapse circuits of a neuron (the 2-bit CAM synapse type), each with one
    time-constant and one weight bias per core [src: Moradi et al. 2018, IEEE TBioCAS 12(1):
    fast and slow excitatory, subtractive and shunting inhibitory].

    receptors.py maps PyNN's receptors onto them: excitatory ones onto the fast circuit (a
    second, slower excitatory time constant onto the slow one), inhibitory ones onto the
    subtractive circuit; the shunting circuit divides rather than subtracts and no PyNN
    receptor maps onto it.
    """

    SLOW_EXC = 0  # NMDA-like
    FAST_EXC = 1  # AMPA-like
    SLOW_INH = 2  # GABA_B-like (subtractive)
    FAST_INH = 3  # GABA_A-like (shunting)


class Generation(str, enum.Enum):
    SE1 = "se1"
    SE2 = "se2"


@dataclass(frozen=True)
class DynapseSpec:
    """The limits, numerics defaults and timing/energy figures of one DYNAP-SE board."""

    generation: Generation = Generation.SE1
    chips: int = CHIPS_PER_BOARD
    grid: tuple[int, int] = BOARD_MESH  # chips across, chips down
    cores_per_chip: int = CORES_PER_CHIP
    neurons_per_core: int = NEURONS_PER_CORE
    cam_per_neuron: int = CAM_ENTRIES_PER_NEURON
    sram_per_neuron: int = SRAM_ENTRIES_PER_NEURON
    tag_bits: int = SE1_TAG_BITS
    base_currents: tuple[float, ...] = SE2_BASE_CURRENTS  # SE2 only

    # --- analog defaults [src: FACTS.md DYNAP-SE: DPI defaults] ------------------------
    tau_mem: float = 20.0  # ms
    tau_syn: float = 10.0  # ms
    tau_ahp: float = 50.0  # ms
    refractory: float = 1.0  # ms
    c_mem: float = 3.0  # pF
    # Device mismatch, relative standard deviation of time constants and weights.
    mismatch: float = 0.15  # [unverified] FACTS.md: "of the order of 10-20%"

    # --- routing latency, ns [unverified: orders of magnitude of Moradi et al. 2018 (IEEE
    # TBioCAS) Table 3, which could not be checked; placeholders until a primary source] --
    latency_r1: float = 15.0  # within a core: source encoder + R1 broadcast
    latency_r2: float = 27.0  # R2: between cores of one chip
    latency_r3_hop: float = 30.0  # R3: per chip-to-chip mesh hop
    arbitration_cycle: float = 10.0  # AER handshake per event at one router (queueing)
    host_input_latency: float = 1000.0  # host/FPGA spike generator -> chip, ns [unverified]

    # --- energy, pJ [unverified: as recalled from Moradi et al. 2018 Table 3, not checked
    # against the paper; override them with measured figures] -----------------------------
    energy_spike: float = 883.0  # generating one spike
    energy_r1: float = 360.0  # broadcasting one event within a core
    energy_r2: float = 4.5  # routing one event between cores
    energy_r3_hop: float = 40.0  # one chip-to-chip hop
    energy_synapse: float = 30.0  # one synaptic (CAM match) event

    @classmethod
    def se2(cls, **changes: object) -> DynapseSpec:
        """DYNAP-SE2: 11-bit tags allocated freely and 4-bit weight masks per synapse."""
        return cls(generation=Generation.SE2, tag_bits=SE2_TAG_BITS, **changes)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        object.__setattr__(self, "generation", Generation(self.generation))
        if self.chips < 1 or self.chips > self.grid[0] * self.grid[1]:
            raise ValueError(
                f"DynapseSpec: chips = {self.chips} does not fit the {self.grid[0]} x "
                f"{self.grid[1]} grid; use 1..{self.grid[0] * self.grid[1]} chips or a larger grid"
            )
        if self.generation is Generation.SE2 and len(self.base_currents) != SE2_WEIGHT_MASK_BITS:
            raise ValueError(
                f"DynapseSpec: DYNAP-SE2 has {SE2_WEIGHT_MASK_BITS} base currents per core, "
                f"got {len(self.base_currents)}"
            )
        if not 0.0 <= self.mismatch < 1.0:
            raise ValueError(f"DynapseSpec: mismatch = {self.mismatch} must be in [0, 1)")

    @property
    def cores(self) -> int:
        return self.chips * self.cores_per_chip

    @property
    def neurons(self) -> int:
        return self.cores * self.neurons_per_core

    @property
    def tags(self) -> int:
        return 2**self.tag_bits

    def chip_xy(self, chip: int) -> tuple[int, int]:
        """Position of ``chip`` (row-major on the board's chip grid)."""
        return chip % self.grid[0], chip // self.grid[0]

    # -- the parts of the shared TargetSpec contract that apply to DYNAP-SE ---------------
    @property
    def name(self) -> str:
        return f"dynapse-{self.generation.value}"

    @property
    def mesh(self) -> Mesh:
        """The board as the shared compiler sees it: one tile of 4 cores per chip."""
        return Mesh(name=f"{self.name}-{self.chips}chip", chips_x=self.grid[0],
                    chips_y=self.grid[1], tiles_x=1, tiles_y=1,
                    cores_per_tile=self.cores_per_chip)

    @property
    def limits(self) -> CoreLimits:
        """Per-core limits: 256 neurons of one parameter set; fan-in is per neuron (CAM)."""
        return CoreLimits(neurons=self.neurons_per_core, neuron_configs=1,
                          threshold_configs=1, synapse_configs=len(SynapseType),
                          learning_configs=0)

    def replace(self, **changes: object) -> DynapseSpec:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
