"""DYNAP-SE's co-simulation as one compiled loop (numba) over many steps: the DPI kernels'
substeps and the routing model's arbiters, with the engine's propagation, recording and
sampling around them.

:mod:`toolchain.targets.dynapse.compiled` lays the kernels and the routing model out for
:func:`run_steps`, which performs the float64 operations of
:meth:`~toolchain.targets.dynapse.numerics.dpi.DPIKernel.advance` (each neuron's substeps
in the numpy path's order, the feedback through the same
:func:`~toolchain.targets.dynapse.numerics.dpi.feedback_exp`) and of
:class:`~toolchain.targets.dynapse.timing.RoutingDelays` (each arbiter's queue served in
order of emission, arrival times rounded up to steps), so both paths give the same spikes,
state, counters and routing statistics, bit for bit; the tests run both.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from toolchain.targets.dynapse.numerics.exp import feedback_exp, pow2


@intrinsic
def _as_float(typingctx, bits):
    """The float64 with the bits of an int64 (numpy's ``view``, for one value)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@overload(pow2, inline="always")
def _pow2(k):
    return lambda k: _as_float((np.int64(k) + 1023) << 52)


_exp = nb.njit(cache=True, nogil=True, inline="always")(feedback_exp)


@nb.njit(cache=True, nogil=True)
def run_steps(k0, k1, kbase, pop_offset, pop_chan, chan_offset,
              v, last, refrac, thresh, reset, p_mm, drive0, chan_state, chan_decay, chan_pmi,
              inbox, src_node_offset, src_step_ptr, src_idx,
              proj_pre_node, proj_ring, proj_syn_offset, proj_row_offset, drive,
              indptr, post, delay,
              ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size, ring_slots,
              ring_chan,
              sig_kind, sig_base, sig_every, sig_idx_ptr, sig_idx, sig_out_ptr, sig_out,
              sig_count,
              rec_node, spk_step, spk_node, spk_idx, n_spk, node_counts, proj_events,
              step_events,
              substeps, h, fb_on, ahp_on, i_floor, i_exp, inv_fb, fb_slope, j_ahp, chan_gain,
              ring_scale, fired_at,
              route, node_offset, arbiter, lat_offset, latency, busy, cycle, dt_ns,
              max_extra, stats, proj_routed, proj_dropped, proj_shifted):
    """Run steps k0..k1-1 of a network of DPI populations; return the step it stopped
    before (k1, or earlier when the spike buffer could overflow in the next step) and the
    number of spikes written.  The engine's arguments are those of
    :func:`toolchain.sim.loop.run_steps` (``v`` is I_mem, ``last`` the refractory
    substeps left, ``refrac`` a spike's, ``thresh``/``reset`` I_spk/I_reset, ``drive0``
    the resting drive I_0 + I_dc; a population's channels are its synapse circuits'
    currents, then I_ahp; ``inbox`` the circuits' pending input); the DPI's and the
    routing model's are described in :mod:`toolchain.targets.dynapse.compiled`.

    Per step, as the numpy path: the ring rows of the previous step became the circuits'
    pending input (scaled, as ``receive``) and now their current; every population runs
    its substeps; sources emit; each node's spikes queue at their arbiters (``route``),
    and each spike adds its synapses' drive to the ring row of its arrival step, node by
    node, projection by projection, pre neuron by pre neuron, in row order; signals are
    sampled after the step.
    """
    n_pops = pop_offset.size - 1
    n_nodes = node_counts.shape[1]
    n_proj = proj_pre_node.size
    n_total = pop_offset[n_pops]
    fired = np.empty(n_total, dtype=np.int64)
    scratch = np.empty(n_total, dtype=np.float64)
    node_start = np.zeros(n_nodes + 1, dtype=np.int64)
    # a node's spikes of one step, as they leave their arbiters (ns after the step's start)
    most = n_total
    for s in range(n_nodes - n_pops):
        for row in range(k1 - kbase):
            base = src_step_ptr[s] + row
            most = max(most, src_node_offset[base + 1] - src_node_offset[base])
    emitted = np.empty(most, dtype=np.float64)
    departed = np.empty(most, dtype=np.float64)
    n_arb = busy.size
    queued = np.zeros(n_arb, dtype=np.int64)  # this node's spikes per arbiter so far
    start = np.empty(n_arb, dtype=np.float64)
    free = np.empty(n_arb, dtype=np.float64)  # busy - the step's start
    touched = np.empty(n_arb, dtype=np.int64)
    for k in range(k0, k1):
        row = k - kbase
        worst = n_total
        for s in range(n_nodes - n_pops):
            if rec_node[n_pops + s]:
                base = src_step_ptr[s] + row
                worst += src_node_offset[base + 1] - src_node_offset[base]
        if n_spk + worst > spk_step.size:
            if k > k0:
                _to_inbox(k - 1, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
                          ring_slots, ring_chan, ring_scale, inbox)
            return k, n_spk
        if k > k0:  # (at k0 the previous call, or the numpy path, did)
            _to_inbox(k - 1, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
                      ring_slots, ring_chan, ring_scale, inbox)
        # 1. neurons
        n_fired = 0
        for p in range(n_pops):
            node_start[p] = n_fired
            a, b = pop_offset[p], pop_offset[p + 1]
            circuits = pop_chan[p + 1] - 1  # (the last channel is I_ahp)
            for c in range(pop_chan[p], circuits):
                q = chan_offset[c]
                for j in range(b - a):
                    chan_state[q + j] += inbox[q + j] * chan_gain[q + j]
                    inbox[q + j] = 0.0
            fired_at[a:b] = -1
            qa = chan_offset[circuits]
            ahp, p_aa = chan_state[qa:qa + b - a], chan_decay[qa:qa + b - a]
            for sub in range(substeps[p]):
                _substep(sub, a, b, pop_chan[p], circuits, chan_offset, v, last, refrac,
                         thresh, reset, p_mm, drive0, chan_state, chan_decay, chan_pmi,
                         fb_on[p], ahp_on[p], i_floor, i_exp, inv_fb, fb_slope, j_ahp, ahp,
                         p_aa, fired_at, scratch)
            for j in range(a, b):
                if fired_at[j] >= 0:
                    fired[n_fired] = j - a
                    n_fired += 1
            node_counts[row, p] = n_fired - node_start[p]
        node_start[n_pops] = n_fired
        for s in range(n_nodes - n_pops):
            base = src_step_ptr[s] + row
            node_counts[row, n_pops + s] = src_node_offset[base + 1] - src_node_offset[base]
        for p in range(n_pops):
            if not rec_node[p]:
                continue
            for f in range(node_start[p], node_start[p + 1]):
                spk_step[n_spk] = k
                spk_node[n_spk] = p
                spk_idx[n_spk] = fired[f]
                n_spk += 1
        for s in range(n_nodes - n_pops):
            if not rec_node[n_pops + s]:
                continue
            base = src_step_ptr[s] + row
            for f in range(src_node_offset[base], src_node_offset[base + 1]):
                spk_step[n_spk] = k
                spk_node[n_spk] = n_pops + s
                spk_idx[n_spk] = src_idx[f]
                n_spk += 1
        # 2. routing and propagation, in the engine's order: nodes, then their projections
        events = 0
        t0 = k * dt_ns
        queued_node = -1
        for pr in range(n_proj):
            node = proj_pre_node[pr]
            if node < n_pops:
                f0, f1 = node_start[node], node_start[node + 1]
            else:
                base = src_step_ptr[node - n_pops] + row
                f0, f1 = src_node_offset[base], src_node_offset[base + 1]
            if f1 == f0:
                continue
            if route and node != queued_node:  # a spike queues once, whatever it feeds
                queued_node = node
                _queue(node, n_pops, f0, f1, fired, src_idx, fired_at, pop_offset, h,
                       node_offset, arbiter, busy, cycle, t0, emitted, departed, queued,
                       start, free, touched, stats)
            r = proj_ring[pr]
            size, slots = ring_size[r], ring_slots[r]
            rbase = ring_offset[r]
            dirty = ring_dirty_offset[r]
            p_post, p_delay, p_drive = post[pr], delay[pr], drive[pr]
            roff = proj_row_offset[pr]
            now = k % slots
            n_ev = 0
            if route:
                proj_routed[pr] += 1
            for f in range(f0, f1):
                i = fired[f] if node < n_pops else src_idx[f]
                extra = 0
                if route:
                    arrival = departed[f - f0] + latency[lat_offset[pr] + i]
                    waited = arrival - emitted[f - f0]  # queueing + routers
                    stats[0] += waited
                    stats[1] = max(stats[1], waited)
                    stats[3] += 1.0
                    extra = max(np.int64(np.ceil(arrival / dt_ns - 1e-9)) - 1, 0)
                    if extra > max_extra:
                        proj_dropped[pr] += 1
                        continue
                    proj_shifted[pr] += extra > 0
                lo, hi = indptr[roff + i], indptr[roff + i + 1]
                for g in range(lo, hi):
                    slot = (now + p_delay[g] + extra) % slots
                    ring[rbase + slot * size + p_post[g]] += p_drive[g]
                    ring_dirty[dirty + slot] = True
                n_ev += hi - lo
            proj_events[pr] += n_ev
            events += n_ev
        step_events[row] = events
        # 3. sampling after the step (a circuit's current without its pending input)
        for s in range(sig_kind.size):
            if (k + 1) % sig_every[s] != 0:
                continue
            out = sig_out_ptr[s] + sig_count[s] * (sig_idx_ptr[s + 1] - sig_idx_ptr[s])
            for q in range(sig_idx_ptr[s], sig_idx_ptr[s + 1]):
                src = sig_base[s] + sig_idx[q]
                sig_out[out + q - sig_idx_ptr[s]] = v[src] if sig_kind[s] == 0 \
                    else chan_state[src]
            sig_count[s] += 1
    if k1 > k0:
        _to_inbox(k1 - 1, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
                  ring_slots, ring_chan, ring_scale, inbox)
    return k1, n_spk


@nb.njit(cache=True, nogil=True, inline="always")
def _substep(sub, a, b, c0, circuits, chan_offset, v, last, refrac, thresh, reset, p_mm,
             drive0, chan_state, chan_decay, chan_pmi, fb_on, ahp_on, i_floor, i_exp, inv_fb,
             fb_slope, j_ahp, ahp, p_aa, fired_at, scratch):
    """One substep of a population's neurons a..b-1 (``DPIKernel._substep``), in passes
    the compiler vectorises (one loop over all of it is not): the leak towards the drive
    (with the feedback), each circuit's current, then the floor, refractoriness and
    spikes."""
    n = b - a
    im, rest, pmm, x = v[a:b], drive0[a:b], p_mm[a:b], scratch[a:b]
    if fb_on:
        iexp, ifb, fbs = i_exp[a:b], inv_fb[a:b], fb_slope[a:b]
        for j in range(n):
            d = rest[j] - ahp[j] if ahp_on else rest[j]
            d = d + fbs[j] * _exp(min((im[j] - iexp[j]) * ifb[j], 50.0))
            x[j] = (im[j] - d) * pmm[j] + d
    else:
        for j in range(n):
            d = rest[j] - ahp[j] if ahp_on else rest[j]
            x[j] = (im[j] - d) * pmm[j] + d
    for c in range(c0, circuits):
        q = chan_offset[c]
        st, dec, pmi = chan_state[q:q + n], chan_decay[q:q + n], chan_pmi[q:q + n]
        for j in range(n):
            x[j] += pmi[j] * st[j]
            st[j] *= dec[j]
    if ahp_on:
        for j in range(n):
            ahp[j] *= p_aa[j]
    lp, fl, rf = last[a:b], fired_at[a:b], refrac[a:b]
    floor, spk, rs, jahp = i_floor[a:b], thresh[a:b], reset[a:b], j_ahp[a:b]
    for j in range(n):
        y = max(x[j], floor[j])
        held = lp[j] > 0
        spiking = (y >= spk[j]) & (not held) & (fl[j] < 0)
        y = rs[j] if held or spiking else y
        lp[j] = rf[j] if spiking else (lp[j] - 1 if held else lp[j])
        ahp[j] = ahp[j] + jahp[j] if spiking else ahp[j]
        fl[j] = sub if spiking else fl[j]
        im[j] = y


@nb.njit(cache=True, nogil=True)
def _queue(node, n_pops, f0, f1, fired, src_idx, fired_at, pop_offset, h, node_offset,
           arbiter, busy, cycle, t0, emitted, departed, queued, start, free, touched, stats):
    """When each spike of ``node`` this step was emitted and leaves its arbiter (ns after
    the step's start, into ``emitted``/``departed``), as ``RoutingDelays._departures``:
    each arbiter serves one event per ``cycle``, in order of emission (spikes of one
    substep in neuron order; a source's at the step's start, in its order), after its
    backlog."""
    n_touched = 0
    if node < n_pops:
        a = pop_offset[node]
        last_sub = 0
        for f in range(f0, f1):
            last_sub = max(last_sub, fired_at[a + fired[f]])
        for sub in range(last_sub + 1):
            emit = (sub + 0.5) * h[node] * 1e6
            for f in range(f0, f1):
                if fired_at[a + fired[f]] == sub:
                    n_touched = _serve(f - f0, arbiter[node_offset[node] + fired[f]], emit,
                                       busy, cycle, t0, emitted, departed, queued, start,
                                       free, touched, n_touched, stats)
    else:
        for f in range(f0, f1):
            n_touched = _serve(f - f0, arbiter[node_offset[node] + src_idx[f]], 0.0, busy,
                               cycle, t0, emitted, departed, queued, start, free, touched,
                               n_touched, stats)
    for t in range(n_touched):
        arb = touched[t]
        busy[arb] = start[arb] + queued[arb] * cycle + t0
        queued[arb] = 0


@nb.njit(cache=True, nogil=True, inline="always")
def _serve(i, arb, emit, busy, cycle, t0, emitted, departed, queued, start, free, touched,
           n_touched, stats):
    """The FIFO of arbiter ``arb``: its j-th event of the step leaves at (j + 1) cycles
    after the latest of (emit_i - i cycles) over i <= j and its backlog."""
    j = queued[arb]
    if j == 0:
        free[arb] = busy[arb] - t0
        touched[n_touched] = arb
        n_touched += 1
    x = max(emit - j * cycle, free[arb])
    start[arb] = x if j == 0 else max(start[arb], x)
    departed[i] = start[arb] + (j + 1) * cycle
    emitted[i] = emit
    queued[arb] = j + 1
    stats[2] = max(stats[2], departed[i] - emit)
    return n_touched


@nb.njit(cache=True, nogil=True)
def _to_inbox(k, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size, ring_slots,
              ring_chan, ring_scale, inbox):
    """Step k's ring rows into their circuits' pending input, as ``DPIKernel.receive``:
    the drive's magnitude times the receptor's scale; the rows cleared."""
    for r in range(ring_size.size):
        slot = k % ring_slots[r]
        d = ring_dirty_offset[r] + slot
        if not ring_dirty[d]:
            continue
        size = ring_size[r]
        rbase = ring_offset[r] + slot * size
        cbase = ring_chan[r]
        scale = ring_scale[r]
        for j in range(size):
            inbox[cbase + j] += np.abs(ring[rbase + j]) * scale
            ring[rbase + j] = 0.0
        ring_dirty[d] = False
