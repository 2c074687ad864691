"""The LIF/STDP core: memories sized from a ``CoreSpec`` and a sequencer that runs the
phases of a timestep in the order of ``toolchain/targets/fpga/spec.py``.

Interface (all valid/ready streams, ``amaranth.lib.stream``):

* ``cmd``: ``{op, addr, data}`` words, ``op`` from ``spec.Op``.  Accepted only between runs;
  register writes take one cycle; ``RUN`` (data = number of steps) runs that many steps;
  ``READ_*`` answer with one word on ``resp``.
* ``spike_in``: ``{axon, last}``; during each step the core reads input axons until a word
  with ``last = 1`` (its axon is ignored).  Axons beyond ``n_inputs`` and repeats within a
  step are ignored.
* ``spike_out``: ``{neuron, last}``; the neurons that spiked in the step in ascending order,
  then ``last = 1`` closing the step.  The core waits while the consumer is not ready.

A two-current build (``receptors = 2``) keeps the inhibitory current beside the excitatory
one in the neuron state, and both receptors' accumulators of a delay-ring slot in one word,
so neither the neuron pass nor a delivery takes an extra clock.

The neuron phase is a four-stage pipeline (read, register, decay, fire), one neuron per
clock, and the trace pass a three-stage one (read, register, update); event delivery,
depression and potentiation take two clocks per synapse plus four per row.  Exact cycle
counts are ``CoreSpec.cycles_per_step``, checked against this RTL by the cocotb tests.

The synapse memory is one port (``hdl.memory.WordMemory``: SB_SPRAM256KA on an iCE40UP,
block RAM elsewhere) read through a register, so a synapse is used two clocks after its
address (the deep memory's output multiplexer ends in a register, not in the ring's
address).  One schedule shares the port: synapse ``k + 1`` is read in the clock that uses
synapse ``k`` (``SYN_USE``); the clock after (``SYN_DELIVER`` / ``SYN_POT``) reads
nothing and writes the STDP weight of synapse ``k - 1``, computed and registered one
synapse before, and ``ROW_DONE`` writes the row's last; a row's first synapse is read in
``ROW_LOAD`` and waits one clock (``ROW_WAIT``).  No synapse is read again between its
weight's computation and its write, so the delay is invisible.

The port's address and write enable reach every block RAM of the synapse memory, so they
come from registers: the row word is read in the clock before ``ROW_FETCH`` and registered
there, ``k + 1`` is a register of its own, and a ``SYNAPSE`` command is written in the
clock after it is accepted (still in ``IDLE``), not straight from the command stream.
Likewise no block RAM output feeds long logic: a spike's row word is addressed from a
register (``EV_ROW``), and a depression's post trace is read in the clock its synapse word
arrives from the port, addressed from that word, and kept in a register for ``SYN_DELIVER``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hdl.memory import WordMemory, platform_has_spram
from hdl.spikecore.arith import NeuronDecay, NeuronFire, StdpUpdate, TraceUpdate
from toolchain.targets.fpga.model import silent_neuron_params
from toolchain.targets.fpga.spec import SIGNED_FIELDS, CoreSpec, Op


def word_layout(spec: CoreSpec, record: str) -> data.StructLayout:
    """The Amaranth view of one of the spec's word layouts (same bits, same order)."""
    signed_names = SIGNED_FIELDS.get(record, ())
    return data.StructLayout({
        name: signed(width) if name in signed_names else unsigned(width)
        for name, width in spec.layout(record)
    })


def cmd_layout(spec: CoreSpec) -> data.StructLayout:
    return data.StructLayout({"op": 3, "addr": spec.cmd_addr_bits, "data": spec.cmd_data_bits})


def spike_in_layout(spec: CoreSpec) -> data.StructLayout:
    return data.StructLayout({"axon": spec.input_bits, "last": 1})


def spike_out_layout(spec: CoreSpec) -> data.StructLayout:
    return data.StructLayout({"neuron": spec.neuron_bits, "last": 1})


class CoreBus(wiring.Signature):
    """Everything that drives the core, as its driver (the protocol engine, a testbench)
    sees it: commands out and their read responses in, a step's input spikes out and its
    output spikes in.  ``SpikeCore`` is this signature flipped; the engine's ``core`` port
    is this signature, so ``wiring.connect(m, engine.core, core)`` joins them."""

    def __init__(self, spec: CoreSpec) -> None:
        self.spec = spec
        super().__init__({
            "cmd": Out(stream.Signature(cmd_layout(spec))),
            "resp": In(stream.Signature(spec.cmd_data_bits)),
            "spike_in": Out(stream.Signature(spike_in_layout(spec))),
            "spike_out": In(stream.Signature(spike_out_layout(spec))),
            "busy": In(1),
            # between runs: back to a fresh core's dynamic state (delay ring, traces, spike
            # flags and ring position zero), what a reset of everything needs besides the
            # memories the command stream writes
            "clear": Out(1),
        })

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CoreBus) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)


class SpikeCore(wiring.Component):
    """One core.  ``busy`` is high while a RUN is in progress.  ``spram``: the synapse
    memory in SB_SPRAM256KA; None decides from the platform the core is elaborated for
    (an iCE40UP has them), so a board build needs no option and a simulation gets block
    RAM unless asked (the cocotb SPRAM run uses yosys's model of the cell)."""

    def __init__(self, spec: CoreSpec, *, spram: bool | None = None) -> None:
        self.spec, self.spram = spec, spram
        super().__init__(CoreBus(spec).flip())

    def elaborate(self, platform) -> Module:
        m = Module()
        spec = self.spec
        n, n_src, nb = spec.n_neurons, spec.n_sources, spec.neuron_bits

        # -- memories --------------------------------------------------------------------
        p_layout = word_layout(spec, "neuron_params")
        m.submodules.params = params = Memory(
            shape=p_layout, depth=n, init=[silent_neuron_params(spec)] * n)
        m.submodules.state = state = Memory(
            shape=word_layout(spec, "neuron_state"), depth=n, init=[])
        two = spec.receptors == 2
        # a two-current build keeps both receptors' accumulators of a slot in one word: the
        # neuron pass reads both in its one read, a delivery rewrites the word with one
        # half changed
        acc = signed(spec.acc_bits)
        ring_shape = data.StructLayout({"exc": acc, "inh": acc}) if two else acc
        m.submodules.ring = ring = Memory(
            shape=ring_shape, depth=spec.ring_depth << nb, init=[])
        m.submodules.rows = rows = Memory(shape=word_layout(spec, "row"), depth=n_src, init=[])
        syn_layout = word_layout(spec, "synapse")
        spram = platform_has_spram(platform) if self.spram is None else self.spram
        m.submodules.syn = syn = WordMemory(spec.width("synapse"), spec.n_synapses,
                                            spram=spram)
        m.submodules.xmem = xmem = Memory(shape=spec.trace_bits, depth=n_src, init=[])
        m.submodules.ymem = ymem = Memory(shape=spec.trace_bits, depth=n, init=[])
        m.submodules.flags = flags = Memory(shape=1, depth=n_src, init=[])
        m.submodules.spikes = spikes = Memory(shape=nb, depth=n, init=[])
        params_rd, params_wr = params.read_port(), params.write_port()
        state_rd, state_wr = state.read_port(), state.write_port()
        ring_rd, ring_wr = ring.read_port(), ring.write_port()
        rows_rd, rows_wr = rows.read_port(), rows.write_port()
        # the synapse read register: loaded in the clock after a read (an SPRAM's output is
        # undefined after a write), it holds the synapse in use
        syn_q = Signal(syn_layout)
        syn_q_load = Signal()
        m.d.sync += syn_q_load.eq(syn.r_en & ~syn.w_en)
        with m.If(syn_q_load):
            m.d.sync += syn_q.eq(syn.r_data)
        x_rd, x_wr = xmem.read_port(), xmem.write_port()
        y_rd, y_wr = ymem.read_port(), ymem.write_port()
        flags_rd, flags_wr = flags.read_port(), flags.write_port()
        spikes_rd, spikes_wr = spikes.read_port(), spikes.write_port()

        # -- arithmetic ------------------------------------------------------------------------
        m.submodules.decay = decay = NeuronDecay(spec)
        m.submodules.fire = fire = NeuronFire(spec)
        m.submodules.pre_trace = pre_trace = TraceUpdate(spec)
        m.submodules.post_trace = post_trace = TraceUpdate(spec)
        m.submodules.learn = learn = StdpUpdate(spec)

        # -- registers ---------------------------------------------------------------------
        stdp = Signal(word_layout(spec, "stdp"))
        slot = Signal(spec.delay_bits)
        steps_left = Signal(spec.cmd_data_bits)
        j = Signal(range(max(n, n_src) + 1))  # neuron / source counter of pipelined passes
        pipe_valid = Signal()
        pipe_j = Signal(range(max(n, n_src) + 1))
        # the block RAM outputs of the neuron being read, registered (an ECP5 DP16KD's
        # clock-to-output is 5.8 ns of a 20 ns clock: the decay starts from a register)
        s1_valid, s1_j = Signal(), Signal(range(n + 1))
        s1_state = Signal(word_layout(spec, "neuron_state"))
        s1_par = Signal(p_layout)
        s1_acc = Signal(ring_shape)
        # the same for the trace pass: a source's traces and flag
        t1_valid, t1_j = Signal(), Signal(range(n_src + 1))
        t1_x, t1_y, t1_flag = Signal(spec.trace_bits), Signal(spec.trace_bits), Signal()
        # third stage of the neuron pipeline: the decayed values and the parameters
        s2_valid, s2_j = Signal(), Signal(range(n + 1))
        s2_v, s2_leak = Signal(signed(spec.v_bits)), Signal(signed(spec.v_bits))
        s2_i, s2_ref = Signal(signed(spec.i_bits)), Signal(spec.ref_bits)
        s2_i_inh = Signal(signed(spec.i_bits))
        s2_par = Signal(p_layout)
        spike_count = Signal(range(n + 1))
        spike_idx = Signal(range(n + 1))
        src = Signal(range(n_src + 1))
        k = Signal(range(spec.n_synapses + 1))
        k_next = Signal(range(spec.n_synapses + 2))  # k + 1, kept: no adder before the port
        k_end = Signal(range(spec.n_synapses + 1))
        # the row being walked, registered in ROW_FETCH (its read was addressed the clock
        # before): the synapse port's address starts from a register, not a block RAM
        row_q = Signal(word_layout(spec, "row"))
        # a SYNAPSE command's write, done in the clock after it is accepted (in IDLE: a
        # SYNAPSE command leaves the core there), so the port's write enable and address,
        # which fan out to every block of the synapse memory, come from registers and not
        # from the command stream's valid
        cmd_w = {"pending": Signal(), "addr": Signal(spec.cmd_addr_bits),
                 "data": Signal(spec.cmd_data_bits)}
        cur = syn_q  # the synapse in use (SYN_USE to SYN_DELIVER / SYN_POT)
        # a learned weight is written one synapse later (in the next free cycle of the port:
        # the next SYN_DELIVER / SYN_POT, or ROW_DONE), so the trace -> weight arithmetic
        # ends in a register, not in the synapse memory's write data
        wb = {"pending": Signal(), "addr": Signal(range(spec.n_synapses + 1)),
              "word": Signal(syn_layout)}
        cur_x = Signal(spec.trace_bits)
        # the post trace of the synapse in use, registered in SYN_USE: its read is addressed
        # from the synapse word as the port delivers it (ROW_WAIT, SYN_DELIVER / SYN_POT of
        # the synapse before), so the depression's arithmetic starts from a register, not
        # from the trace memory's output
        cur_y = Signal(spec.trace_bits)
        syn_next = Signal(syn_layout)  # the port's word, in the clock it arrives
        m.d.comb += syn_next.eq(syn.r_data)
        mode = Signal(2)  # which phase a row walk returns to
        MODE_INPUT, MODE_EVENT, MODE_POT = 0, 1, 2
        raddr = Signal(spec.cmd_addr_bits)
        rop = Signal(3)

        def ring_addr(target, delay):
            return Cat(target[:nb], (slot + delay)[: spec.delay_bits])

        # the arithmetic blocks read their operands from the memories' read data
        if two:
            m.d.comb += [decay.acc.eq(s1_acc.exc), decay.acc_inh.eq(s1_acc.inh),
                         decay.i_inh.eq(s1_state.i_inh),
                         decay.syn_shift_inh.eq(s1_par.syn_shift_inh),
                         fire.i_inh_next.eq(s2_i_inh)]
        else:
            m.d.comb += decay.acc.eq(s1_acc)
        m.d.comb += [
            decay.v.eq(s1_state.v), decay.i.eq(s1_state.i),
            decay.leak_shift.eq(s1_par.leak_shift),
            decay.syn_shift.eq(s1_par.syn_shift),
            fire.v.eq(s2_v), fire.v_leak.eq(s2_leak), fire.i_next.eq(s2_i), fire.ref.eq(s2_ref),
            fire.v_thresh.eq(s2_par.v_thresh), fire.v_reset.eq(s2_par.v_reset),
            fire.bias.eq(s2_par.bias), fire.refrac.eq(s2_par.refrac),
            pre_trace.x.eq(t1_x), pre_trace.shift.eq(stdp.pre_decay_shift),
            pre_trace.spiked.eq(t1_flag), pre_trace.increment.eq(stdp.trace_increment),
            post_trace.x.eq(t1_y), post_trace.shift.eq(stdp.post_decay_shift),
            post_trace.spiked.eq(t1_flag), post_trace.increment.eq(stdp.trace_increment),
            learn.w.eq(cur.weight), learn.w_min.eq(stdp.w_min), learn.w_max.eq(stdp.w_max),
        ]

        n_clear = max(spec.ring_depth << nb, n_src, n)
        clear_at = Signal(range(n_clear + 1))
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(~self.clear)
                c = self.cmd.payload
                m.d.sync += cmd_w["pending"].eq(0)
                with m.If(cmd_w["pending"]):
                    m.d.comb += [syn.w_en.eq(1), syn.addr.eq(cmd_w["addr"]),
                                 syn.w_data.eq(cmd_w["data"])]
                with m.If(self.clear):
                    m.d.sync += clear_at.eq(0)
                    m.next = "CLEAR"
                with m.Elif(self.cmd.valid):
                    with m.Switch(c.op):
                        with m.Case(Op.NEURON_PARAMS):
                            m.d.comb += [params_wr.en.eq(1), params_wr.addr.eq(c.addr),
                                         params_wr.data.eq(c.data)]
                        with m.Case(Op.NEURON_STATE):
                            m.d.comb += [state_wr.en.eq(1), state_wr.addr.eq(c.addr),
                                         state_wr.data.eq(c.data)]
                        with m.Case(Op.ROW):
                            m.d.comb += [rows_wr.en.eq(1), rows_wr.addr.eq(c.addr),
                                         rows_wr.data.eq(c.data)]
                        with m.Case(Op.SYNAPSE):
                            m.d.sync += [cmd_w["pending"].eq(1), cmd_w["addr"].eq(c.addr),
                                         cmd_w["data"].eq(c.data)]
                        with m.Case(Op.STDP):
                            m.d.sync += stdp.eq(c.data)
                        with m.Case(Op.RUN):
                            m.d.sync += steps_left.eq(c.data)
                            with m.If(c.data != 0):
                                m.next = "N_START"
                        with m.Case(Op.READ_SYNAPSE, Op.READ_STATE):
                            m.d.sync += [raddr.eq(c.addr), rop.eq(c.op)]
                            m.next = "READ_WAIT"

            with m.State("CLEAR"):  # one address of every dynamic memory per clock
                m.d.comb += [self.busy.eq(1),
                             ring_wr.en.eq(clear_at < (spec.ring_depth << nb)),
                             ring_wr.addr.eq(clear_at), ring_wr.data.eq(0),
                             x_wr.en.eq(clear_at < n_src), x_wr.addr.eq(clear_at),
                             x_wr.data.eq(0),
                             flags_wr.en.eq(clear_at < n_src), flags_wr.addr.eq(clear_at),
                             flags_wr.data.eq(0),
                             y_wr.en.eq(clear_at < n), y_wr.addr.eq(clear_at), y_wr.data.eq(0)]
                m.d.sync += clear_at.eq(clear_at + 1)
                with m.If(clear_at == n_clear - 1):
                    m.d.sync += slot.eq(0)
                    m.next = "IDLE"

            with m.State("READ_WAIT"):
                m.d.comb += [syn.addr.eq(raddr), syn.r_en.eq(1), state_rd.addr.eq(raddr)]
                m.next = "READ_REG"
            with m.State("READ_REG"):  # the synapse word into its register
                m.d.comb += state_rd.addr.eq(raddr)
                m.next = "READ_RESP"
            with m.State("READ_RESP"):
                m.d.comb += [state_rd.addr.eq(raddr), self.resp.valid.eq(1)]
                with m.If(rop == Op.READ_SYNAPSE):
                    m.d.comb += self.resp.payload.eq(syn_q.as_value())
                with m.Else():
                    m.d.comb += self.resp.payload.eq(state_rd.data.as_value())
                with m.If(self.resp.ready):
                    m.next = "IDLE"

            # 1. neurons, four stages: read j; register j - 1's words (and clear its ring
            #    slot); decay j - 2; fire and write back j - 3
            with m.State("N_START"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [j.eq(0), pipe_valid.eq(0), s1_valid.eq(0), s2_valid.eq(0),
                             spike_count.eq(0)]
                m.next = "N_RUN"
            with m.State("N_RUN"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [s1_valid.eq(pipe_valid), s1_j.eq(pipe_j),
                             s1_state.eq(state_rd.data), s1_par.eq(params_rd.data),
                             s1_acc.eq(ring_rd.data),
                             s2_valid.eq(s1_valid), s2_j.eq(s1_j), s2_v.eq(s1_state.v),
                             s2_leak.eq(decay.v_leak), s2_i.eq(decay.i_next),
                             s2_ref.eq(s1_state.ref), s2_par.eq(s1_par)]
                if two:
                    m.d.sync += s2_i_inh.eq(decay.i_inh_next)
                with m.If(pipe_valid):
                    m.d.comb += [ring_wr.en.eq(1), ring_wr.addr.eq(Cat(pipe_j[:nb], slot)),
                                 ring_wr.data.eq(0)]
                with m.If(s2_valid):
                    m.d.comb += [
                        state_wr.en.eq(1), state_wr.addr.eq(s2_j),
                        state_wr.data.v.eq(fire.v_next), state_wr.data.i.eq(s2_i),
                        state_wr.data.ref.eq(fire.ref_next),
                    ]
                    if two:
                        m.d.comb += state_wr.data.i_inh.eq(s2_i_inh)
                    with m.If(fire.spike):
                        m.d.comb += [spikes_wr.en.eq(1), spikes_wr.addr.eq(spike_count),
                                     spikes_wr.data.eq(s2_j),
                                     flags_wr.en.eq(1), flags_wr.addr.eq(s2_j),
                                     flags_wr.data.eq(1)]
                        m.d.sync += spike_count.eq(spike_count + 1)
                with m.If(j < n):
                    m.d.comb += [params_rd.addr.eq(j), state_rd.addr.eq(j),
                                 ring_rd.addr.eq(Cat(j[:nb], slot))]
                    m.d.sync += [pipe_valid.eq(1), pipe_j.eq(j), j.eq(j + 1)]
                with m.Else():
                    m.d.sync += pipe_valid.eq(0)
                    with m.If(~pipe_valid & ~s1_valid):
                        m.next = "IN_WAIT"

            # 2. input spikes of this step, up to the end marker
            with m.State("IN_WAIT"):
                m.d.comb += [self.busy.eq(1), self.spike_in.ready.eq(1)]
                axon = self.spike_in.payload.axon
                m.d.comb += flags_rd.addr.eq(n + axon)
                with m.If(self.spike_in.valid):
                    with m.If(self.spike_in.payload.last):
                        m.d.sync += spike_idx.eq(0)
                        m.next = "EV_NEXT"
                    with m.Elif(axon < spec.n_inputs):
                        m.d.sync += [src.eq(n + axon), mode.eq(MODE_INPUT)]
                        m.next = "IN_FLAG"
            with m.State("IN_FLAG"):
                m.d.comb += [self.busy.eq(1), rows_rd.addr.eq(src)]  # for ROW_FETCH
                with m.If(flags_rd.data):
                    m.next = "IN_WAIT"  # this axon already spiked in this step
                with m.Else():
                    m.d.comb += [flags_wr.en.eq(1), flags_wr.addr.eq(src), flags_wr.data.eq(1)]
                    m.next = "ROW_FETCH"

            # 3. neuron spikes: emit each, then deliver its row.  ROW_DONE of a spike's row
            #    does EV_NEXT's work for the next (the clock EV_ROW takes), so that the row
            #    read is addressed from a register, not from the spike list's block RAM
            with m.State("EV_NEXT"):
                m.d.comb += [self.busy.eq(1), spikes_rd.addr.eq(spike_idx)]
                with m.If(spike_idx == spike_count):
                    m.next = "POT_START"
                with m.Else():
                    m.next = "EV_EMIT"
            with m.State("EV_EMIT"):
                m.d.comb += [self.busy.eq(1), spikes_rd.addr.eq(spike_idx),
                             self.spike_out.valid.eq(1),
                             self.spike_out.payload.neuron.eq(spikes_rd.data)]
                with m.If(self.spike_out.ready):
                    m.d.sync += [src.eq(spikes_rd.data), spike_idx.eq(spike_idx + 1),
                                 mode.eq(MODE_EVENT)]
                    m.next = "EV_ROW"
            with m.State("EV_ROW"):
                m.d.comb += [self.busy.eq(1), rows_rd.addr.eq(src)]  # for ROW_FETCH
                m.next = "ROW_FETCH"

            # a row walk: deliver + depress (input/event) or potentiate (pot)
            with m.State("ROW_FETCH"):  # the row word (addressed the clock before) in
                m.d.comb += [self.busy.eq(1), x_rd.addr.eq(src)]
                m.d.sync += row_q.eq(rows_rd.data)
                m.next = "ROW_LOAD"
            with m.State("ROW_LOAD"):
                m.d.comb += self.busy.eq(1)
                start, length = row_q.start, row_q.length
                m.d.sync += [k.eq(start), k_next.eq(start + 1), k_end.eq(start + length),
                             cur_x.eq(x_rd.data)]
                m.d.comb += [syn.addr.eq(start), syn.r_en.eq(1)]
                m.next = "ROW_WAIT"
            with m.State("ROW_WAIT"):  # the row's first synapse into its register
                m.d.comb += [self.busy.eq(1), y_rd.addr.eq(syn_next.target)]
                with m.If(k == k_end):
                    m.next = "ROW_DONE"
                with m.Else():
                    m.next = "SYN_USE"
            with m.State("SYN_USE"):
                m.d.comb += self.busy.eq(1)
                w = syn_q
                m.d.comb += [ring_rd.addr.eq(ring_addr(w.target, w.delay)),
                             flags_rd.addr.eq(w.target),
                             syn.addr.eq(k_next), syn.r_en.eq(1)]  # the next synapse
                m.d.sync += cur_y.eq(y_rd.data)
                with m.If(mode == MODE_POT):
                    m.next = "SYN_POT"
                with m.Else():
                    m.next = "SYN_DELIVER"
            with m.State("SYN_DELIVER"):
                m.d.comb += ring_wr.en.eq(1)
                if two:
                    m.d.comb += ring_wr.data.eq(ring_rd.data)  # the other half unchanged
                    with m.If(cur.inh):
                        m.d.comb += ring_wr.data.inh.eq(ring_rd.data.inh + cur.weight)
                    with m.Else():
                        m.d.comb += ring_wr.data.exc.eq(ring_rd.data.exc + cur.weight)
                else:
                    m.d.comb += ring_wr.data.eq(ring_rd.data + cur.weight)
                m.d.comb += [
                    self.busy.eq(1), ring_wr.addr.eq(ring_addr(cur.target, cur.delay)),
                    learn.trace.eq(cur_y), learn.shift.eq(stdp.depress_shift),
                    y_rd.addr.eq(syn_next.target),  # for the next synapse's SYN_USE
                    learn.potentiate.eq(0),
                ]
                self._write_back(m, syn, wb, cur.plastic & stdp.enable, k, cur, learn.w_next)
                self._next_synapse(m, k, k_next, k_end)
            with m.State("SYN_POT"):
                m.d.comb += [self.busy.eq(1), learn.trace.eq(cur_x),
                             learn.shift.eq(stdp.potentiate_shift), learn.potentiate.eq(1)]
                self._write_back(m, syn, wb, cur.plastic & flags_rd.data, k, cur, learn.w_next)
                self._next_synapse(m, k, k_next, k_end)
            with m.State("ROW_DONE"):
                m.d.comb += self.busy.eq(1)
                self._write_pending(m, syn, wb)  # the row's last write-back
                m.d.sync += wb["pending"].eq(0)
                with m.Switch(mode):
                    with m.Case(MODE_INPUT):
                        m.next = "IN_WAIT"
                    with m.Case(MODE_EVENT):  # EV_NEXT's work
                        m.d.comb += spikes_rd.addr.eq(spike_idx)
                        with m.If(spike_idx == spike_count):
                            m.next = "POT_START"
                        with m.Else():
                            m.next = "EV_EMIT"
                    with m.Default():
                        m.d.sync += src.eq(src + 1)
                        m.next = "POT_NEXT"

            # 4. potentiation: walk every row when a neuron spiked
            with m.State("POT_START"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [src.eq(0), mode.eq(MODE_POT)]
                with m.If(stdp.enable & (spike_count != 0)):
                    m.next = "POT_NEXT"
                with m.Else():
                    m.next = "TR_START"
            with m.State("POT_NEXT"):
                m.d.comb += [self.busy.eq(1), rows_rd.addr.eq(src)]  # for ROW_FETCH
                with m.If(src == n_src):
                    m.next = "TR_START"
                with m.Else():
                    m.next = "ROW_FETCH"

            # 5. traces of every source, pipelined like the neurons; flags cleared
            with m.State("TR_START"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [j.eq(0), pipe_valid.eq(0), t1_valid.eq(0)]
                m.next = "TR_RUN"
            with m.State("TR_RUN"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [t1_valid.eq(pipe_valid), t1_j.eq(pipe_j), t1_x.eq(x_rd.data),
                             t1_y.eq(y_rd.data), t1_flag.eq(flags_rd.data)]
                with m.If(t1_valid):
                    m.d.comb += [x_wr.en.eq(1), x_wr.addr.eq(t1_j),
                                 x_wr.data.eq(pre_trace.x_next),
                                 flags_wr.en.eq(1), flags_wr.addr.eq(t1_j),
                                 flags_wr.data.eq(0)]
                    with m.If(t1_j < n):
                        m.d.comb += [y_wr.en.eq(1), y_wr.addr.eq(t1_j),
                                     y_wr.data.eq(post_trace.x_next)]
                with m.If(j < n_src):
                    m.d.comb += [x_rd.addr.eq(j), y_rd.addr.eq(j), flags_rd.addr.eq(j)]
                    m.d.sync += [pipe_valid.eq(1), pipe_j.eq(j), j.eq(j + 1)]
                with m.Else():
                    m.d.sync += pipe_valid.eq(0)
                    with m.If(~pipe_valid):
                        m.next = "STEP_END"

            with m.State("STEP_END"):
                m.d.comb += [self.busy.eq(1), self.spike_out.valid.eq(1),
                             self.spike_out.payload.last.eq(1)]
                with m.If(self.spike_out.ready):
                    m.d.sync += [slot.eq(slot + 1), steps_left.eq(steps_left - 1)]
                    with m.If(steps_left == 1):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "N_START"
        return m

    @staticmethod
    def _write_pending(m: Module, syn: WordMemory, wb: dict) -> None:
        """The learned weight of the synapse before, in this clock the port is free."""
        with m.If(wb["pending"]):
            m.d.comb += [syn.w_en.eq(1), syn.addr.eq(wb["addr"]),
                         syn.w_data.eq(wb["word"].as_value())]

    @classmethod
    def _write_back(cls, m: Module, syn: WordMemory, wb: dict, learns, k: Signal,
                    cur: Signal, weight) -> None:
        """Write the previous synapse's pending weight; keep synapse ``k``'s new weight
        (when ``learns``) for the next free clock of the port."""
        cls._write_pending(m, syn, wb)
        m.d.sync += [wb["pending"].eq(learns), wb["addr"].eq(k), wb["word"].eq(cur),
                     wb["word"].weight.eq(weight)]

    @staticmethod
    def _next_synapse(m: Module, k: Signal, k_next: Signal, k_end: Signal) -> None:
        """On to synapse k + 1 (read in SYN_USE, in its register by the next clock)."""
        m.d.sync += [k.eq(k_next), k_next.eq(k_next + 1)]
        with m.If(k_next == k_end):
            m.next = "ROW_DONE"
        with m.Else():
            m.next = "SYN_USE"
