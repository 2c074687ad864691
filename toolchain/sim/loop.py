"""The engine's compiled step loop (numba), for the networks :mod:`toolchain.sim.fast`
lays out; see there for what it runs and why."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def run_steps(k0, k1, kbase, pop_offset, pop_chan, chan_offset,
              uniform, v, last, refrac, thresh, reset, p_mm, drive0, chan_state, chan_decay,
              chan_pmi,
              src_node_offset, src_step_ptr, src_idx,
              proj_pre_node, proj_ring, proj_syn_offset, proj_row_offset, proj_delay, drive,
              indptr, post, delay,
              ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size, ring_slots,
              ring_chan, chan_ring,
              sig_kind, sig_base, sig_every, sig_idx_ptr, sig_idx, sig_out_ptr, sig_out,
              sig_count,
              rec_node, spk_step, spk_node, spk_idx, n_spk, node_counts, proj_events, step_events):
    """Run steps k0..k1-1; return the step it stopped before (k1, or earlier when the
    spike buffer could overflow in the next step: the caller grows it and calls again)
    and the number of spikes written.  Per-step inputs and outputs (source spikes,
    counts, events) have one row per step from ``kbase``.

    Per step, as the engine's numpy path: every population integrates, thresholds and
    resets; sources emit; each spike adds its synapses' drive to the ring row of its
    arrival step, node by node, projection by projection, pre neuron by pre neuron, in
    row order; the ring rows of this step are added to their currents; signals are
    sampled after the step.  Spikes of the nodes marked in ``rec_node`` (those recorded)
    go into the spike buffer.
    """
    n_pops = pop_offset.size - 1
    n_nodes = node_counts.shape[1]
    n_proj = proj_pre_node.size
    n_total = pop_offset[n_pops]
    fired = np.empty(n_total, dtype=np.int64)
    vn = np.empty(n_total, dtype=np.float64)
    flag = np.zeros(n_total, dtype=np.bool_)
    zeros = np.zeros(n_total, dtype=np.float64)
    # where the spikes of each node start in `fired`/src_idx this step
    node_start = np.zeros(n_nodes + 1, dtype=np.int64)
    for k in range(k0, k1):
        row = k - kbase
        # worst case of this step: every neuron plus this step's source spikes
        worst = n_total
        for s in range(n_nodes - n_pops):
            if rec_node[n_pops + s]:
                base = src_step_ptr[s] + row
                worst += src_node_offset[base + 1] - src_node_offset[base]
        if n_spk + worst > spk_step.size:
            if k > k0:
                _deliver(k - 1, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
                         ring_slots, ring_chan, chan_state)
            return k, n_spk
        # 1. neurons: the linear update in passes the compiler can vectorise (each value
        # still sees the numpy path's operations in its order), then thresholds and resets
        n_fired = 0
        for p in range(n_pops):
            node_start[p] = n_fired
            a, b = pop_offset[p], pop_offset[p + 1]
            n = b - a
            vp = v[a:b]
            lp = last[a:b]
            if uniform[p] and pop_chan[p + 1] - pop_chan[p] == 2:
                # the common case (IF_curr_exp with one value per parameter): one fused
                # pass, the coefficients in registers
                q0, q1 = chan_offset[pop_chan[p]], chan_offset[pop_chan[p] + 1]
                st0, st1 = chan_state[q0:q0 + n], chan_state[q1:q1 + n]
                mm, d0, th, rs, rf = p_mm[a], drive0[a], thresh[a], reset[a], refrac[a]
                dec0, pmi0 = chan_decay[q0], chan_pmi[q0]
                dec1, pmi1 = chan_decay[q1], chan_pmi[q1]
                fl = flag[a:b]
                count = 0
                in0 = _pending(k, k0, pop_chan[p], n, chan_ring, ring, ring_dirty,
                               ring_offset, ring_dirty_offset, ring_size, ring_slots, zeros)
                in1 = _pending(k, k0, pop_chan[p] + 1, n, chan_ring, ring, ring_dirty,
                               ring_offset, ring_dirty_offset, ring_size, ring_slots, zeros)
                for j in range(n):
                    x = vp[j] * mm + d0
                    i0 = st0[j] + in0[j]
                    in0[j] = 0.0
                    x += pmi0 * i0
                    st0[j] = i0 * dec0
                    i1 = st1[j] + in1[j]
                    in1[j] = 0.0
                    x += pmi1 * i1
                    st1[j] = i1 * dec1
                    spiked = False
                    if k - lp[j] >= rf:  # else clamped: v stays
                        if x > th:
                            spiked = True
                            x = rs
                            lp[j] = k
                        vp[j] = x
                    fl[j] = spiked
                    count += spiked
                # (a flag per neuron, collected afterwards: a store at a running index
                # inside the loop above keeps it from being vectorised)
                if count:
                    for j in range(n):
                        if fl[j]:
                            fired[n_fired] = j
                            n_fired += 1
                node_counts[row, p] = n_fired - node_start[p]
                continue
            vnp, mm_, d0_ = vn[a:b], p_mm[a:b], drive0[a:b]
            for j in range(n):
                vnp[j] = vp[j] * mm_[j] + d0_[j]
            for c in range(pop_chan[p], pop_chan[p + 1]):
                q = chan_offset[c]
                st, dec, pmi = chan_state[q:q + n], chan_decay[q:q + n], chan_pmi[q:q + n]
                inp = _pending(k, k0, c, n, chan_ring, ring, ring_dirty, ring_offset,
                               ring_dirty_offset, ring_size, ring_slots, zeros)
                for j in range(n):
                    i = st[j] + inp[j]
                    inp[j] = 0.0
                    vnp[j] += pmi[j] * i
                    st[j] = i * dec[j]
            rp, tp, sp, fl = refrac[a:b], thresh[a:b], reset[a:b], flag[a:b]
            count = 0
            for j in range(n):
                x = vnp[j]
                spiked = False
                if k - lp[j] >= rp[j]:  # else clamped: v stays
                    if x > tp[j]:
                        spiked = True
                        x = sp[j]
                        lp[j] = k
                    vp[j] = x
                fl[j] = spiked
                count += spiked
            if count:
                for j in range(n):
                    if fl[j]:
                        fired[n_fired] = j
                        n_fired += 1
            node_counts[row, p] = n_fired - node_start[p]
        node_start[n_pops] = n_fired
        for s in range(n_nodes - n_pops):
            base = src_step_ptr[s] + row
            node_counts[row, n_pops + s] = src_node_offset[base + 1] - src_node_offset[base]
        # record every spike (the caller filters by what is recorded)
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
        # 2. propagation, in the engine's order: nodes, then their projections
        events = 0
        for pr in range(n_proj):
            node = proj_pre_node[pr]
            r = proj_ring[pr]
            size, slots = ring_size[r], ring_slots[r]
            rbase = ring_offset[r]
            soff = proj_syn_offset[pr]
            roff = proj_row_offset[pr]
            if node < n_pops:
                f0, f1 = node_start[node], node_start[node + 1]
            else:
                base = src_step_ptr[node - n_pops] + row
                f0, f1 = src_node_offset[base], src_node_offset[base + 1]
            n_ev = 0
            now = k % slots
            dirty = ring_dirty_offset[r]
            if proj_delay[pr] >= 0:  # one delay: one ring row
                rrow = rbase + ((now + proj_delay[pr]) % slots) * size
                for f in range(f0, f1):
                    i = fired[f] if node < n_pops else src_idx[f]
                    lo, hi = indptr[roff + i], indptr[roff + i + 1]
                    for g in range(soff + lo, soff + hi):
                        ring[rrow + post[g]] += drive[g]
                    n_ev += hi - lo
                if n_ev:
                    ring_dirty[dirty + (now + proj_delay[pr]) % slots] = True
            else:
                for f in range(f0, f1):
                    i = fired[f] if node < n_pops else src_idx[f]
                    lo, hi = indptr[roff + i], indptr[roff + i + 1]
                    for g in range(soff + lo, soff + hi):
                        slot = now + delay[g]  # delays are < slots
                        if slot >= slots:
                            slot -= slots
                        ring[rbase + slot * size + post[g]] += drive[g]
                        ring_dirty[dirty + slot] = True
                    n_ev += hi - lo
            proj_events[pr] += n_ev
            events += n_ev
        step_events[row] = events
        # 3. this step's ring rows reach their currents at the start of the next step's
        # update (the same additions, fused into that pass), or now if a current is sampled
        for s in range(sig_kind.size):
            if sig_kind[s] == 1 and (k + 1) % sig_every[s] == 0:
                _deliver(k, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
                         ring_slots, ring_chan, chan_state)
                break
        # 4. sampling after the step
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
        _deliver(k1 - 1, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
                 ring_slots, ring_chan, chan_state)
    return k1, n_spk


@nb.njit(cache=True, nogil=True)
def _deliver(k, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size, ring_slots,
             ring_chan, chan_state):
    """Add the ring rows of step k to their currents and clear them."""
    for r in range(ring_size.size):
        slot = k % ring_slots[r]
        d = ring_dirty_offset[r] + slot
        if not ring_dirty[d]:
            continue
        size = ring_size[r]
        rbase = ring_offset[r] + slot * size
        cbase = ring_chan[r]
        for j in range(size):
            chan_state[cbase + j] += ring[rbase + j]
            ring[rbase + j] = 0.0
        ring_dirty[d] = False


@nb.njit(cache=True, nogil=True, inline="always")
def _pending(k, k0, c, n, chan_ring, ring, ring_dirty, ring_offset, ring_dirty_offset,
             ring_size, ring_slots, zeros):
    """The ring row that reaches channel c at the start of step k (the previous step's
    arrivals), marked delivered; ``zeros`` when nothing is pending."""
    r = chan_ring[c]
    if r < 0 or k == k0:
        return zeros[:n]
    slot = (k - 1) % ring_slots[r]
    d = ring_dirty_offset[r] + slot
    if not ring_dirty[d]:
        return zeros[:n]
    ring_dirty[d] = False
    base = ring_offset[r] + slot * ring_size[r]
    return ring[base:base + n]
