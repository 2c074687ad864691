"""Combinational arithmetic blocks of the core: one LIF update, one trace update, one STDP
weight update.  Each is the RTL twin of a function in ``toolchain.targets.fpga.model``
(``lif_update``, ``trace_update``, ``stdp_update``) and is tested against it."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from toolchain.targets.fpga.spec import SHIFT_BITS, CoreSpec


def saturate(m: Module, value, shape: Shape):
    """``value`` clamped into the signed range of ``shape`` (combinational)."""
    lo, hi = -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    return Mux(value > hi, hi, Mux(value < lo, lo, value))[: shape.width].as_signed()


def decay_step(x, shift):
    """``x / 2**shift`` rounded to nearest, halves up: the arithmetic shift plus the last
    bit shifted out (``model.decay_step``; one carry-in, no extra shifter)."""
    return (x >> shift) + ((x << 1) >> shift)[0]


class NeuronDecay(wiring.Component):
    """First half of step 1: each synaptic current's decay plus input, and the leak.  The
    core registers these before :class:`NeuronFire` (two pipeline stages close timing at
    12 MHz on an iCE40: one stage measured 11.2 MHz).  The inhibitory current's ports
    (``i_inh``, ``acc_inh``, ``syn_shift_inh``) exist on two-current builds only."""

    def __init__(self, spec: CoreSpec) -> None:
        self.spec = spec
        cur = signed(spec.i_bits)
        ports = {
            "v": In(signed(spec.v_bits)), "i": In(cur), "acc": In(signed(spec.acc_bits)),
            "leak_shift": In(unsigned(SHIFT_BITS)), "syn_shift": In(unsigned(SHIFT_BITS)),
            "v_leak": Out(signed(spec.v_bits)), "i_next": Out(cur),
        }
        if spec.receptors == 2:
            ports.update({"i_inh": In(cur), "acc_inh": In(signed(spec.acc_bits)),
                          "syn_shift_inh": In(unsigned(SHIFT_BITS)), "i_inh_next": Out(cur)})
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        spec = self.spec
        f = spec.i_frac  # the current's bits below the voltage LSB: a constant shift
        m.d.comb += [
            self.i_next.eq(saturate(m, self.i - decay_step(self.i, self.syn_shift)
                                    + (self.acc << f), signed(spec.i_bits))),
            # |v - round(v / 2**k)| <= |v|: always fits v_bits
            self.v_leak.eq(self.v - decay_step(self.v, self.leak_shift)),
        ]
        if spec.receptors == 2:
            m.d.comb += self.i_inh_next.eq(saturate(
                m, self.i_inh - decay_step(self.i_inh, self.syn_shift_inh) + (self.acc_inh << f),
                signed(spec.i_bits)))
        return m


class NeuronFire(wiring.Component):
    """Second half of step 1: integrate, saturate, threshold, reset, refractory count."""

    def __init__(self, spec: CoreSpec) -> None:
        self.spec = spec
        ports = {
            "v": In(signed(spec.v_bits)), "v_leak": In(signed(spec.v_bits)),
            "i_next": In(signed(spec.i_bits)), "ref": In(unsigned(spec.ref_bits)),
            "v_thresh": In(signed(spec.v_bits)), "v_reset": In(signed(spec.v_bits)),
            "bias": In(signed(spec.i_bits)), "refrac": In(unsigned(spec.ref_bits)),
            "v_next": Out(signed(spec.v_bits)), "ref_next": Out(unsigned(spec.ref_bits)),
            "spike": Out(1),
        }
        if spec.receptors == 2:
            ports["i_inh_next"] = In(signed(spec.i_bits))
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        current = self.i_next
        if self.spec.receptors == 2:
            current = current + self.i_inh_next
        if self.spec.i_frac:  # to voltage LSB, rounded to nearest
            current = decay_step(current, self.spec.i_frac)
        v_new = saturate(m, self.v_leak + current + self.bias, signed(self.spec.v_bits))
        with m.If(self.ref != 0):
            m.d.comb += [self.v_next.eq(self.v), self.ref_next.eq(self.ref - 1)]
        with m.Elif(v_new >= self.v_thresh):
            m.d.comb += [self.v_next.eq(self.v_reset), self.ref_next.eq(self.refrac),
                         self.spike.eq(1)]
        with m.Else():
            m.d.comb += [self.v_next.eq(v_new), self.ref_next.eq(0)]
        return m


class NeuronUpdate(wiring.Component):
    """All of step 1 for one neuron without the pipeline register: the two halves wired
    together, which is what the block test compares with ``lif_update``."""

    def __init__(self, spec: CoreSpec) -> None:
        self.spec = spec
        cur = signed(spec.i_bits)
        ports = {
            "v": In(signed(spec.v_bits)), "i": In(cur),
            "ref": In(unsigned(spec.ref_bits)), "acc": In(signed(spec.acc_bits)),
            "v_thresh": In(signed(spec.v_bits)), "v_reset": In(signed(spec.v_bits)),
            "bias": In(cur), "leak_shift": In(unsigned(SHIFT_BITS)),
            "syn_shift": In(unsigned(SHIFT_BITS)), "refrac": In(unsigned(spec.ref_bits)),
            "v_next": Out(signed(spec.v_bits)), "i_next": Out(cur),
            "ref_next": Out(unsigned(spec.ref_bits)), "spike": Out(1),
        }
        if spec.receptors == 2:
            ports.update({"i_inh": In(cur), "acc_inh": In(signed(spec.acc_bits)),
                          "syn_shift_inh": In(unsigned(SHIFT_BITS)), "i_inh_next": Out(cur)})
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.decay = decay = NeuronDecay(self.spec)
        m.submodules.fire = fire = NeuronFire(self.spec)
        if self.spec.receptors == 2:
            m.d.comb += [decay.i_inh.eq(self.i_inh), decay.acc_inh.eq(self.acc_inh),
                         decay.syn_shift_inh.eq(self.syn_shift_inh),
                         fire.i_inh_next.eq(decay.i_inh_next),
                         self.i_inh_next.eq(decay.i_inh_next)]
        m.d.comb += [
            decay.v.eq(self.v), decay.i.eq(self.i), decay.acc.eq(self.acc),
            decay.leak_shift.eq(self.leak_shift), decay.syn_shift.eq(self.syn_shift),
            fire.v.eq(self.v), fire.v_leak.eq(decay.v_leak), fire.i_next.eq(decay.i_next),
            fire.ref.eq(self.ref), fire.v_thresh.eq(self.v_thresh),
            fire.v_reset.eq(self.v_reset), fire.bias.eq(self.bias), fire.refrac.eq(self.refrac),
            self.v_next.eq(fire.v_next), self.i_next.eq(decay.i_next),
            self.ref_next.eq(fire.ref_next), self.spike.eq(fire.spike),
        ]
        return m


class TraceUpdate(wiring.Component):
    """Step 5 for one trace: rounded shift decay, increment on a spike, saturate at the
    top."""

    def __init__(self, spec: CoreSpec) -> None:
        self.spec = spec
        t = unsigned(spec.trace_bits)
        super().__init__({"x": In(t), "shift": In(unsigned(SHIFT_BITS)), "spiked": In(1),
                          "increment": In(t), "x_next": Out(t)})

    def elaborate(self, platform) -> Module:
        m = Module()
        top = self.spec.trace_max
        total = self.x - decay_step(self.x, self.shift) + Mux(self.spiked, self.increment, 0)
        m.d.comb += self.x_next.eq(Mux(total > top, top, total))
        return m


class StdpUpdate(wiring.Component):
    """Steps 3/4 for one weight: ``w +/- (trace >> shift)`` clamped to ``[w_min, w_max]``."""

    def __init__(self, spec: CoreSpec) -> None:
        self.spec = spec
        w = signed(spec.w_bits)
        super().__init__({"w": In(w), "trace": In(unsigned(spec.trace_bits)),
                          "shift": In(unsigned(SHIFT_BITS)), "potentiate": In(1),
                          "w_min": In(w), "w_max": In(w), "w_next": Out(w)})

    def elaborate(self, platform) -> Module:
        m = Module()
        delta = self.trace >> self.shift
        moved = Mux(self.potentiate, self.w + delta, self.w - delta)
        m.d.comb += self.w_next.eq(
            Mux(moved > self.w_max, self.w_max, Mux(moved < self.w_min, self.w_min, moved)))
        return m
