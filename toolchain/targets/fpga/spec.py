"""The one description of spikeport's FPGA LIF/STDP core: sizes, widths, word layouts and
the order of operations inside a timestep.

The golden model (``model.py``), the mapper, the Amaranth generator (``hdl/spikecore``) and
the cocotb testbenches all read a :class:`CoreSpec`; none of them hard-codes a width.  A
build is one ``CoreSpec``: every size is a generator parameter, checked here once with a
message that names the parameter, the value, the limit and what to change.

Update order of one timestep ``t`` (the RTL runs these phases one after another; the model
reproduces their result exactly):

1. NEURON (four-stage pipeline, one neuron per clock).  For each neuron ``j``, with
   ``a = ring[t mod D][j]`` (the input that arrives at ``t``; the slot is cleared after
   reading)::

       i' = sat_I(i - rnd(i, syn_shift) + (a << F))
       g' = sat_I(g - rnd(g, syn_shift_inh) + (b << F))              (two-current builds)
       if ref > 0:  ref' = ref - 1;  v' = v;                          no spike
       else:        v' = sat_V(v - rnd(v, leak_shift) + rnd(i' + g', F) + bias)
                    if v' >= v_thresh: spike;  v' = v_reset;  ref' = refrac

   ``rnd(x, k) = (x >>> k) + bit k-1 of x`` is ``x / 2**k`` rounded to nearest (halves
   up; ``>>>`` is an arithmetic shift right, which alone would round towards minus
   infinity and leave small positive values undecayed); ``sat_X`` saturates to the signed
   X-bit range.  A build with ``receptors = 2`` keeps a second, inhibitory current ``g``
   (state ``i_inh``) with its own decay, fed by the ring's second accumulator ``b`` (the
   synapses whose ``inh`` bit is set), so tau_syn_E and tau_syn_I are independent; with
   ``receptors = 1`` there is one current and ``g`` is absent.  A decay shift of 0 makes a
   one-step synapse: ``i - rnd(i, 0) = 0``, so an input is the current of the step it
   arrives in only (what a time constant below ``dt`` needs).  ``v`` is measured from the
   resting potential and ``F = i_frac``: the currents keep ``F`` bits below the voltage's
   LSB (``F = 0``: none, ``rnd(x, 0) = x``).  A rounded shift decay stops at
   ``|x| < 2**(k-1)``; in the current's own units that residue is ``2**-F`` as large
   against the voltage, which the membrane integrates for ``2**leak_shift`` steps.  And
   the current is kept as the voltage step it causes per timestep, so no multiplier is
   needed (the iCE40's 8 DSPs stay free).
2. INPUT: the external spikes of step ``t`` (axons, duplicates ignored), then
3. EVENT: the neuron spikes of step ``t`` in ascending order.  For every synapse
   ``(target, weight, delay, plastic)`` in a spiking source's row:
   ``ring[(t + delay) mod D][target] += weight`` (its ``inh`` accumulator for an inhibitory
   synapse of a two-current build) with the weight as it was at the start of
   the step; then, if plastic and STDP is on, depression
   ``w = clamp(w - (y[target] >> depress_shift), w_min, w_max)``.
4. POTENTIATION (only when a neuron spiked at ``t``): every plastic synapse whose target
   spiked: ``w = clamp(w + (x[source] >> potentiate_shift), w_min, w_max)``.
5. TRACES, every source (neurons and input axons) and every neuron:
   ``x = sat_T(x - rnd(x, pre_decay_shift) + (spiked ? trace_increment : 0))`` and the
   same for the post-synaptic trace ``y`` with ``post_decay_shift``.  Steps 3 and 4 use the
   traces as they were at the end of step ``t - 1``.

Delays are whole steps in ``1 .. D - 1``: ``D = 2**delay_bits`` is the depth of the
delay ring buffer.  The ring accumulator is ``acc_bits`` wide and is not saturated; the
mapper proves that no neuron's input in one slot can overflow it (sum of the largest
possible |weight| of its synapses), which keeps the result independent of event order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import IntEnum

SHIFT_BITS = 4  # decays and learning rates are shifts 0..15: 2**-15 is below any useful rate
# clocks of one row walk besides its synapses: request/accept, fetch, load, wait (the first
# synapse into its read register), done + one turn of the phase loop (an input's flag check;
# a spike's EV_ROW, which addresses its row word; a potentiation walk's rows: one fewer, no
# request)
ROW_CYCLES = 6


class SpecError(ValueError):
    """A core configuration that cannot be built or does not fit a network."""


def _bits_for(count: int) -> int:
    """Address bits for ``count`` distinct values (at least 1)."""
    return max(1, math.ceil(math.log2(max(count, 2))))


# (name, low, high, why) for every integer generator parameter
_LIMITS: dict[str, tuple[int, int, str]] = {
    "n_neurons": (1, 1 << 16, "neuron indices are at most 16 bits"),
    "n_inputs": (1, 1 << 16, "input axon indices are at most 16 bits"),
    "n_synapses": (1, 1 << 20, "synapse addresses are at most 20 bits"),
    "v_bits": (4, 32, "membrane state between 4 and 32 bits"),
    "i_bits": (4, 32, "synaptic current between 4 and 32 bits"),
    "w_bits": (2, 16, "weights between 2 and 16 bits"),
    "acc_bits": (4, 32, "ring accumulator between 4 and 32 bits"),
    "trace_bits": (2, 16, "STDP traces between 2 and 16 bits"),
    "ref_bits": (1, 8, "refractory counter between 1 and 8 bits"),
    "delay_bits": (1, 6, "delay ring of 2..64 slots (SpiNNaker-style 16..64 ticks)"),
    "receptors": (1, 2, "1: one synaptic current; 2: separate excitatory and inhibitory "
                        "currents"),
    "i_frac": (0, 8, "fractional bits of the synaptic currents below the voltage LSB"),
}


@dataclass(frozen=True)
class CoreSpec:
    """Sizes and widths of one build of the core.  All widths are signed two's complement
    except ``trace_bits`` (unsigned)."""

    n_neurons: int = 64
    n_inputs: int = 64
    n_synapses: int = 1024
    v_bits: int = 16
    i_bits: int = 16
    w_bits: int = 8
    acc_bits: int = 16
    trace_bits: int = 8
    ref_bits: int = 4
    delay_bits: int = 3
    receptors: int = 1
    i_frac: int = 0
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "name":
                continue
            value = getattr(self, f.name)
            low, high, why = _LIMITS[f.name]
            if not isinstance(value, int) or isinstance(value, bool):
                raise SpecError(
                    f"CoreSpec {f.name} must be an integer, got {value!r} ({type(value).__name__})"
                )
            if not low <= value <= high:
                raise SpecError(
                    f"CoreSpec {f.name} = {value} is outside {low}..{high} ({why}); "
                    f"choose a value in that range"
                )
        if self.w_bits > self.acc_bits:
            raise SpecError(
                f"CoreSpec acc_bits = {self.acc_bits} is narrower than w_bits = {self.w_bits}; "
                "one weight must fit the ring accumulator: raise acc_bits"
            )
        if self.i_bits - self.i_frac > self.v_bits:
            raise SpecError(
                f"CoreSpec i_bits = {self.i_bits} with i_frac = {self.i_frac} fractional bits "
                f"is wider than v_bits = {self.v_bits}; the current is added to v each step: "
                "raise v_bits or i_frac, or lower i_bits"
            )
        if self.i_frac > self.i_bits - 2:
            raise SpecError(
                f"CoreSpec i_frac = {self.i_frac} leaves the {self.i_bits}-bit current fewer "
                "than 2 integer bits: lower i_frac or raise i_bits")

    # -- derived sizes -----------------------------------------------------------------
    @property
    def n_sources(self) -> int:
        """Rows of the synapse table: neurons first, then input axons."""
        return self.n_neurons + self.n_inputs

    @property
    def ring_depth(self) -> int:
        return 1 << self.delay_bits

    @property
    def max_delay(self) -> int:
        return self.ring_depth - 1

    @property
    def max_refrac(self) -> int:
        return (1 << self.ref_bits) - 1

    @property
    def neuron_bits(self) -> int:
        return _bits_for(self.n_neurons)

    @property
    def input_bits(self) -> int:
        return _bits_for(self.n_inputs)

    @property
    def source_bits(self) -> int:
        return _bits_for(self.n_sources)

    @property
    def syn_addr_bits(self) -> int:
        return _bits_for(self.n_synapses)

    @property
    def row_len_bits(self) -> int:
        return _bits_for(self.n_synapses + 1)

    def signed_range(self, what: str) -> tuple[int, int]:
        bits = {"v": self.v_bits, "i": self.i_bits, "w": self.w_bits, "acc": self.acc_bits}[what]
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    @property
    def trace_max(self) -> int:
        return (1 << self.trace_bits) - 1

    # -- word layouts (LSB first), shared by the RTL, the image packer and the tests ------
    def layout(self, record: str) -> tuple[tuple[str, int], ...]:
        """Fields of one memory word or command payload, least significant first."""
        sb = SHIFT_BITS
        # a two-current build appends its inhibitory fields: a one-current build's words
        # stay as they were
        two = self.receptors == 2
        layouts = {
            "neuron_params": (
                ("v_thresh", self.v_bits), ("v_reset", self.v_bits), ("bias", self.i_bits),
                ("leak_shift", sb), ("syn_shift", sb), ("refrac", self.ref_bits),
                *((("syn_shift_inh", sb),) if two else ()),
            ),
            "neuron_state": (("v", self.v_bits), ("i", self.i_bits), ("ref", self.ref_bits),
                             *((("i_inh", self.i_bits),) if two else ())),
            "row": (("start", self.syn_addr_bits), ("length", self.row_len_bits)),
            "synapse": (
                ("target", self.neuron_bits), ("weight", self.w_bits),
                ("delay", self.delay_bits), ("plastic", 1), *((("inh", 1),) if two else ()),
            ),
            "stdp": (
                ("enable", 1), ("pre_decay_shift", sb), ("post_decay_shift", sb),
                ("potentiate_shift", sb), ("depress_shift", sb),
                ("trace_increment", self.trace_bits), ("w_min", self.w_bits),
                ("w_max", self.w_bits),
            ),
        }
        try:
            return layouts[record]
        except KeyError:
            raise SpecError(f"no word layout '{record}'; known: {', '.join(layouts)}") from None

    def width(self, record: str) -> int:
        return sum(w for _, w in self.layout(record))

    @property
    def cmd_addr_bits(self) -> int:
        return max(self.source_bits, self.syn_addr_bits, self.neuron_bits)

    @property
    def cmd_data_bits(self) -> int:
        words = ("neuron_params", "neuron_state", "row", "synapse", "stdp")
        return max(max(self.width(r) for r in words), 16)

    def pack(self, record: str, **values: int) -> int:
        """One word from field values; signed fields are stored in two's complement."""
        word, pos = 0, 0
        layout = self.layout(record)
        unknown = set(values) - {n for n, _ in layout}
        if unknown:
            raise SpecError(f"{record} has no field '{sorted(unknown)[0]}'")
        for name, width in layout:
            value = int(values.get(name, 0))
            if not -(1 << (width - 1)) <= value < (1 << width) or (width == 1 and value < 0):
                raise SpecError(
                    f"{record} field {name} = {value} does not fit {width} bits"
                )
            word |= (value & ((1 << width) - 1)) << pos
            pos += width
        return word

    def unpack(self, record: str, word: int, *, signed: tuple[str, ...] = ()) -> dict[str, int]:
        """Field values of ``word``; names in ``signed`` are read as two's complement."""
        out, pos = {}, 0
        for name, width in self.layout(record):
            value = (word >> pos) & ((1 << width) - 1)
            if name in signed and value >> (width - 1):
                value -= 1 << width
            out[name] = value
            pos += width
        return out

    # -- cost -----------------------------------------------------------------------------
    def memory_bits(self) -> dict[str, int]:
        """Bits of each on-chip memory of a build (what the block RAM budget must hold)."""
        return {
            "neuron_params": self.n_neurons * self.width("neuron_params"),
            "neuron_state": self.n_neurons * self.width("neuron_state"),
            "ring": self.ring_depth * (1 << self.neuron_bits) * self.acc_bits * self.receptors,
            "rows": self.n_sources * self.width("row"),
            "synapses": self.n_synapses * self.width("synapse"),
            "traces": self.n_sources * self.trace_bits + self.n_neurons * self.trace_bits,
            "spike_list": self.n_neurons * self.neuron_bits,
        }

    def cycles_per_step(self, *, inputs: int, repeats: int, spikes: int, events: int,
                        potentiation: bool, synapses_in_rows: int) -> int:
        """Clock cycles of one timestep of the RTL when the host keeps up (checked cycle
        for cycle by the cocotb tests).  ``inputs``: distinct input axons; ``repeats``:
        repeated ones; ``events``: synapses in the rows of spiking sources;
        ``potentiation``: STDP on and a neuron spiked, so every row is walked."""
        s = self.n_sources
        per_row = ROW_CYCLES
        # fixed passes and turns: the neuron pass's four stages, the trace pass's three
        cycles = (self.n_neurons + 4) + 1 + 1 + 1 + (s + 3) + 1
        cycles += per_row * (inputs + spikes) + 2 * events + 2 * repeats
        if potentiation:
            cycles += (per_row - 1) * s + 2 * synapses_in_rows + 1
        return cycles


# fields stored in two's complement, per word layout (everything else is unsigned)
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "neuron_params": ("v_thresh", "v_reset", "bias"),
    "neuron_state": ("v", "i", "i_inh"),
    "synapse": ("weight",),
    "stdp": ("w_min", "w_max"),
}


class Op(IntEnum):
    """Commands of the core's internal command stream (the UART layer frames these)."""

    NEURON_PARAMS = 0  # addr = neuron, data = neuron_params word
    NEURON_STATE = 1  # addr = neuron, data = neuron_state word
    ROW = 2  # addr = source (neurons first, then inputs), data = row word
    SYNAPSE = 3  # addr = synapse address, data = synapse word
    STDP = 4  # data = stdp word
    RUN = 5  # data = number of steps; each step reads inputs up to an end marker
    READ_SYNAPSE = 6  # addr = synapse address -> one response word (the synapse word)
    READ_STATE = 7  # addr = neuron -> one response word (the neuron_state word)


# -- presets ------------------------------------------------------------------------------
# iCE40 UP5K: 5280 logic cells, 30 EBR x 4 kbit, 4 SPRAM x 256 kbit, 8 DSP (Lattice iCE40
# UltraPlus family data sheet, FPGA-DS-02008).  The memories below must fit the 30 EBR
# (Amaranth memories are not mapped to SPRAM).  Measured: 2048 synapses need 31 EBR (a
# 19-bit word at depth 2048 takes ten 2048x2 blocks); 1024 need 26.  One synaptic current:
# a second one doubles the ring (8 more EBR) and widens the neuron and synapse words, past
# the 30 EBR (docs/fpga-core.md), so tau_syn_E and tau_syn_I share one decay here.
ICE40UP5K = CoreSpec(
    n_neurons=128, n_inputs=128, n_synapses=1024, v_bits=16, i_bits=16, w_bits=8,
    acc_bits=16, trace_bits=8, ref_bits=5, delay_bits=4, name="ice40up5k",
)
# ECP5 LFE5U-85F (ULX3S-85F): 84k LUT4, 208 EBR x 18 kbit = 3.7 Mbit, 156 18x18 multipliers
# (Lattice ECP5 family data sheet, FPGA-DS-02012).
ECP5_85F = CoreSpec(
    n_neurons=1024, n_inputs=1024, n_synapses=65536, v_bits=18, i_bits=18, w_bits=8,
    acc_bits=18, trace_bits=8, ref_bits=6, delay_bits=6, name="ecp5-85f",
)
# The same chip with separate excitatory and inhibitory currents (tau_syn_E != tau_syn_I):
# the second ring accumulator doubles the ring's block RAM, so the ring has 32 slots
# (64 slots of both would take 64 more DP16KD than the 208 hold).
# Its currents carry 6 bits below the voltage LSB (i_bits 24 = 18 + 6), so a decay's
# rounding residue stays below one voltage LSB per step; the neuron words still fit the
# 1024 x 18 blocks they took.
ECP5_85F_EI = CoreSpec(
    n_neurons=1024, n_inputs=1024, n_synapses=65536, v_bits=18, i_bits=24, w_bits=8,
    acc_bits=18, trace_bits=8, ref_bits=6, delay_bits=5, receptors=2, i_frac=6,
    name="ecp5-85f-ei",
)
# The UP5K with its synapse memory in SPRAM (hdl/memory.py WordMemory): 32768 16-bit words
# are two of the four SB_SPRAM256KA (the protocol device's buffers take the other two), so
# the synapse word is 16 bits: 8-bit target (256 neurons), 5-bit weight, 2-bit delay (1..3
# steps), the plastic bit.  Traded against ice40up5k: weights 5 bits instead of 8 and 4 ring
# slots instead of 16, for 2x the neurons and 32x the synapses; 3 fractional current bits
# (i_bits 19) make up part of the coarser weights (the current resolves 2^-3 of a weight
# LSB) at no block RAM: the neuron words stay within their 4 + 3 EBR.  The rest (ring 4,
# params 4, state 3, rows 4, traces 2, flags 1, spike list 1) is about 19 EBR.
ICE40UP5K_SPRAM = CoreSpec(
    n_neurons=256, n_inputs=256, n_synapses=32768, v_bits=16, i_bits=19, w_bits=5,
    acc_bits=16, trace_bits=8, ref_bits=5, delay_bits=2, i_frac=3, name="ice40up5k-spram",
)
# The ECP5-85F at 2048 neurons and 131072 synapses.  Budget of its 208 DP16KD (18 kbit):
# synapses 131072 x 21 bits (11-bit target, 7-bit weight, 2-bit delay, plastic) = 18 bits
# in 2048 x 9 blocks (128) + 3 bits in 16384 x 1 blocks (24) = 152; ring 4 slots x 2048 x
# 18 bits = 8; neuron parameters 2048 x 74 bits = 9, state 2048 x 48 bits = 6; rows 4096 x
# 35 bits = 8; traces 3; flags 1; spike list 2: 189 (yosys), and the protocol device's
# buffers about 10.  Traded against ecp5-85f: weights 7 bits instead of 8 and 4 ring slots
# (delays 1..3 steps) instead of 64 (64 slots of 2048 neurons alone would be 128 blocks),
# for 2x the neurons and synapses; the currents carry 6 fractional bits, as on ecp5-85f-ei.
ECP5_85F_2K = CoreSpec(
    n_neurons=2048, n_inputs=2048, n_synapses=131072, v_bits=18, i_bits=24, w_bits=7,
    acc_bits=18, trace_bits=8, ref_bits=6, delay_bits=2, i_frac=6, name="ecp5-85f-2k",
)
# Small enough for fast RTL simulation; what the unit and cocotb tests build.
TINY = CoreSpec(
    n_neurons=16, n_inputs=8, n_synapses=128, v_bits=12, i_bits=12, w_bits=6, acc_bits=12,
    trace_bits=6, ref_bits=3, delay_bits=2, name="tiny",
)

PRESETS: dict[str, CoreSpec] = {s.name: s for s in (TINY, ICE40UP5K, ECP5_85F, ECP5_85F_EI,
                                                   ICE40UP5K_SPRAM, ECP5_85F_2K)}


def preset(name: str) -> CoreSpec:
    try:
        return PRESETS[name]
    except KeyError:
        raise SpecError(
            f"unknown core preset '{name}'; known presets: {', '.join(PRESETS)}"
        ) from None
