"""The golden model's step as one compiled loop (numba) over many steps.

:meth:`toolchain.targets.fpga.model.CoreModel.step` spends most of a step in numpy calls
on small arrays (a dozen per step, whatever the activity), so a simulator running
thousands of steps pays for Python, not for arithmetic.  :func:`run_core` performs the
same integer operations on the same registers, neuron by neuron and synapse by synapse,
for a whole block of steps: the update order of ``spec.py`` (neurons; the events of the
sources that spiked, with depression; potentiation; traces), the ring wrapped to the
accumulator width after each addition (wrapping is arithmetic modulo ``2**acc_bits``, so
wrapping every sum equals wrapping the total), and saturation where the RTL saturates.
Integers have no rounding order, so the results are bit for bit the model's; the tests
run both on random cores.

One precondition the numpy model does not need: no synapse address is reachable from
two rows (:meth:`CoreModel.compiled_refusal`), because the model's fancy-indexed writes
then keep only the last update of a step and a synapse-by-synapse loop would apply both.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, inline="always")
def _decay(x, shift):
    """``decay_step`` of the model: ``x / 2**shift`` rounded to nearest, halves up."""
    return (x >> shift) + (((x << 1) >> shift) & 1)


@nb.njit(cache=True, nogil=True, inline="always")
def _clip(x, lo, hi):
    return min(max(x, lo), hi)


@nb.njit(cache=True, nogil=True)
def run_core(t0, n_steps, fmt, params, v, i, i_inh, ref, ring, x, y,
             row_start, row_length, syn_target, syn_weight, syn_delay, syn_plastic, syn_inh,
             stdp, in_ptr, in_axon, sig_reg, sig_every, sig_idx_ptr, sig_idx, sig_out_ptr,
             sig_out, sig_count, spk_step, spk_idx, counts):
    """Steps ``t0 .. t0 + n_steps - 1`` of one core, in place on its registers.

    ``fmt``: receptors, ring depth, i_frac, the current's and voltage's signed ranges,
    acc_bits, trace_max, the neurons to update (those beyond stay at rest: see
    :meth:`~toolchain.targets.fpga.model.CoreModel.run_block`), whether the traces can
    change.  ``params``: rows v_thresh, v_reset, bias, leak_shift, syn_shift,
    syn_shift_inh, refrac.  ``stdp``: enable, w_min, w_max, depress_shift,
    potentiate_shift, pre_decay_shift, post_decay_shift, trace_increment.  Step
    ``t0 + r``'s input axons are ``in_axon[in_ptr[r]:in_ptr[r + 1]]`` (source indices,
    repeats allowed).  Per step, ``counts[r]`` gets inputs (distinct), repeats, spikes,
    events and potentiation (0/1), what the cycle model reads.  Signals (register 0 v,
    1 i, 2 i_inh at core neurons ``sig_idx``) are sampled after each step whose end is a
    multiple of their interval.

    Returns the number of steps run (fewer than ``n_steps`` when the spike buffer could
    overflow in the next one: the caller grows it and continues) and of spikes written.
    """
    receptors, depth, f = fmt[0], fmt[1], fmt[2]
    i_lo, i_hi, v_lo, v_hi = fmt[3], fmt[4], fmt[5], fmt[6]
    acc_bits, trace_max, n = fmt[7], fmt[8], fmt[9]
    traces_move = fmt[10] != 0
    n_neurons = y.size
    half = np.int64(1) << (acc_bits - 1)
    mask = (np.int64(1) << acc_bits) - 1
    enable, w_min, w_max = stdp[0] != 0, stdp[1], stdp[2]
    dep_shift, pot_shift, pre_shift, post_shift, inc = stdp[3], stdp[4], stdp[5], stdp[6], \
        stdp[7]
    thresh, reset, bias = params[0], params[1], params[2]
    leak, syn_shift, syn_shift_inh, refrac = params[3], params[4], params[5], params[6]
    two = receptors == 2
    n_src = x.size
    spiked = np.zeros(n_src, dtype=np.bool_)  # neurons first, then input axons
    fired = np.zeros(n_neurons, dtype=np.bool_)
    active = np.empty(n_src, dtype=np.int64)  # the sources that spiked this step
    n_spk = 0
    for r in range(n_steps):
        if n_spk + n > spk_step.size:
            return r, n_spk
        t = t0 + r
        slot = t % depth
        r0, r1 = ring[0, slot], ring[1, slot]
        # 1. neurons, in one pass the compiler vectorises (selects, not branches: written
        # with `and` or with a branch on per-neuron shifts, it runs 2-20x slower), then
        # the spikes collected
        n_fired = 0
        for j in range(n):
            lk, ss, si = leak[j], syn_shift[j], syn_shift_inh[j]
            a0, a1 = r0[j], r1[j]
            r0[j] = 0
            r1[j] = 0
            ij = _clip(i[j] - _decay(i[j], ss) + (a0 << f), i_lo, i_hi)
            ih = _clip(i_inh[j] - _decay(i_inh[j], si) + (a1 << f), i_lo, i_hi)
            ih = ih if two else 0
            i[j] = ij
            i_inh[j] = ih
            vj, rj = v[j], ref[j]
            vn = _clip(vj - _decay(vj, lk) + _decay(ij + ih, f) + bias[j], v_lo, v_hi)
            live = rj == 0
            fire = live & (vn >= thresh[j])
            v[j] = reset[j] if fire else (vn if live else vj)
            ref[j] = refrac[j] if fire else (0 if live else rj - 1)
            fired[j] = fire
            n_fired += fire
        n_active = 0
        if n_fired:
            for j in range(n):
                if fired[j]:
                    spk_step[n_spk] = t
                    spk_idx[n_spk] = j
                    n_spk += 1
                    active[n_active] = j
                    n_active += 1
        # input axons, each once
        for q in range(in_ptr[r], in_ptr[r + 1]):
            s = in_axon[q]
            if not spiked[s]:
                spiked[s] = True
                active[n_active] = s
                n_active += 1
        distinct = n_active - n_fired
        for q in range(n_fired):
            spiked[active[q]] = True
        # 2./3. events of the sources that spiked, with depression (each synapse is
        # reached from one row, and integer sums commute: the order does not matter)
        events = 0
        for q in range(n_active):
            s = active[q]
            lo = row_start[s]
            for k in range(lo, lo + row_length[s]):
                w = syn_weight[k]
                which = 1 if syn_inh[k] else 0
                where = slot + syn_delay[k]
                if where >= depth:
                    where -= depth
                tg = syn_target[k]
                ring[which, where, tg] = ((ring[which, where, tg] + w + half) & mask) - half
                if enable and syn_plastic[k]:
                    syn_weight[k] = _clip(w - (y[tg] >> dep_shift), w_min, w_max)
            events += row_length[s]
        # 4. potentiation: every plastic synapse onto a neuron that spiked
        potentiation = enable and n_fired > 0
        if potentiation:
            for s in range(n_src):
                lo = row_start[s]
                for k in range(lo, lo + row_length[s]):
                    if syn_plastic[k] and fired[syn_target[k]]:
                        syn_weight[k] = _clip(syn_weight[k] + (x[s] >> pot_shift),
                                              w_min, w_max)
        # 5. traces
        if traces_move:
            for s in range(n_src):
                xs = x[s] - _decay(x[s], pre_shift) + (inc if spiked[s] else 0)
                x[s] = xs if xs < trace_max else trace_max
            for j in range(n_neurons):
                yj = y[j] - _decay(y[j], post_shift) + (inc if spiked[j] else 0)
                y[j] = yj if yj < trace_max else trace_max
        for q in range(n_active):
            spiked[active[q]] = False
        counts[r, 0] = distinct
        counts[r, 1] = in_ptr[r + 1] - in_ptr[r] - distinct
        counts[r, 2] = n_fired
        counts[r, 3] = events
        counts[r, 4] = 1 if potentiation else 0
        # sampling after the step
        for g in range(sig_reg.size):
            if (t + 1) % sig_every[g] != 0:
                continue
            width = sig_idx_ptr[g + 1] - sig_idx_ptr[g]
            out = sig_out_ptr[g] + sig_count[g] * width
            for q in range(width):
                c = sig_idx[sig_idx_ptr[g] + q]
                reg = sig_reg[g]
                sig_out[out + q] = v[c] if reg == 0 else (i[c] if reg == 1 else i_inh[c])
            sig_count[g] += 1
    return n_steps, n_spk
