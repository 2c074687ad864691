"""The engine's compiled step loop (numba), for the networks :mod:`toolchain.sim.fast`
lays out; see there for what it runs and why."""

from __future__ import annotations

import numba as nb
import numpy as np

from toolchain.sim.fast import PE_LIF
from toolchain.sim.loop_pe import _at, charge, finish_tick, pe_lif, send_group


@nb.njit(cache=True, nogil=True)
def run_steps(k0, k1, kbase, pop_offset, pop_chan, chan_offset,
              kind, uniform, v, last, refrac, thresh, reset, p_mm, drive0, chan_state,
              chan_decay, chan_pmi, inbox, inbox_got, fixed, ring_inbox, chan_ring2,
              src_node_offset, src_step_ptr, src_idx,
              proj_pre_node, proj_ring, proj_syn_offset, proj_row_offset, proj_delay, drive,
              indptr, post, delay,
              ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size, ring_slots,
              ring_chan, chan_ring,
              sig_kind, sig_base, sig_every, sig_idx_ptr, sig_idx, sig_out_ptr, sig_out,
              sig_count,
              rec_node, spk_step, spk_node, spk_idx, n_spk, node_counts, proj_events, step_events,
              pe_param, budget, groups):
    """Run steps k0..k1-1; return the step it stopped before (k1, or earlier when the
    spike buffer could overflow in the next step: the caller grows it and calls again)
    and the number of spikes written.  Per-step inputs and outputs (source spikes,
    counts, events) have one row per step from ``kbase``.

    Per step, as the engine's numpy path: every population integrates, thresholds and
    resets; sources emit; each spike adds its synapses' drive to the ring row of its
    arrival step, node by node, projection by projection, pre neuron by pre neuron, in
    row order; the ring rows of this step are added to their currents; signals are
    sampled after the step.  Spikes of the nodes marked in ``rec_node`` (those recorded)
    go into the spike buffer.  ``post``, ``delay`` and ``drive`` hold one array per
    projection (typed lists of the owners' own arrays: fast.synapse_arrays).  With a tick
    ``budget`` (``TickBudget.arrays``), each projection's spikes are charged to it before
    they are sent; late ones go a step later or not at all
    (:func:`toolchain.sim.loop_pe.charge`).  ``groups``: projections sent together
    (``Plan.groups``, :func:`toolchain.sim.loop_pe.send_group`).
    """
    n_pops = pop_offset.size - 1
    n_nodes = node_counts.shape[1]
    n_proj = proj_pre_node.size
    n_total = pop_offset[n_pops]
    fired = np.empty(n_total, dtype=np.int64)
    vn = np.empty(n_total, dtype=np.float64)
    flag = np.zeros(n_total, dtype=np.bool_)
    zeros = np.zeros(n_total, dtype=ring.dtype)
    # where the spikes of each node start in `fired`/src_idx this step
    node_start = np.zeros(n_nodes + 1, dtype=np.int64)
    budgeted = budget[4][3] != 0
    most = n_total  # the most spikes a node sends in one step: the budget's scratch
    if budgeted:
        for s in range(n_nodes - n_pops):
            for r in range(k1 - k0):
                base = src_step_ptr[s] + k0 - kbase + r
                most = max(most, src_node_offset[base + 1] - src_node_offset[base])
    widest = max(groups[2].max() if groups[2].size else 1, 1)  # (a group's projections)
    late = np.zeros(most * widest if budgeted else 0, dtype=np.int64)
    cost = np.zeros(2 * most if budgeted else 0)
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
                         ring_slots, ring_chan, chan_state, ring_inbox, False, inbox_got)
                _deliver(k - 1, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
                         ring_slots, ring_chan, inbox, ring_inbox, True, inbox_got)
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
            if kind[p] == 1:  # fixed-point CUBA compartments
                n_fired = _cuba(k, k0, p, uniform[p], a, n, n_fired, pop_chan, chan_offset, vp, lp,
                                refrac, thresh, p_mm, drive0, chan_state, chan_decay, inbox,
                                inbox_got, fixed, flag, fired, vn, chan_ring, chan_ring2,
                                ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
                                ring_slots, zeros)
                node_counts[row, p] = n_fired - node_start[p]
                continue
            if kind[p] == PE_LIF:  # a SpiNNaker2 PE's kernel
                c = pop_chan[p]
                ra, _ = _row(k, k0, chan_ring[c], n, ring, ring_dirty, ring_offset,
                             ring_dirty_offset, ring_size, ring_slots, zeros)
                rb, _ = _row(k, k0, chan_ring[c + 1], n, ring, ring_dirty, ring_offset,
                             ring_dirty_offset, ring_size, ring_slots, zeros)
                n_fired = pe_lif(n, uniform[p], a, n_fired, vp, lp, refrac, thresh, reset,
                                 p_mm, drive0, chan_state, chan_decay, chan_pmi,
                                 chan_offset[c], pop_chan[p + 1] - c == 4, k == k0, inbox,
                                 ra, rb, pe_param, flag, fired)
                node_counts[row, p] = n_fired - node_start[p]
                continue
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
            p_post, p_delay, p_drive = post[pr], delay[pr], drive[pr]
            roff = proj_row_offset[pr]
            if node < n_pops:
                f0, f1 = node_start[node], node_start[node + 1]
            else:
                base = src_step_ptr[node - n_pops] + row
                f0, f1 = src_node_offset[base], src_node_offset[base + 1]
            n_ev = 0
            now = k % slots
            dirty = ring_dirty_offset[r]
            grp = groups[0][pr]
            if grp >= 0:  # its group's first sends for them all
                if f1 > f0 and groups[1][grp] == pr:
                    if node < n_pops:
                        events += send_group(k, grp, f0, f1, fired, groups, budgeted,
                                             budget, late, cost, ring, ring_dirty, rbase,
                                             dirty, size, slots, proj_events)
                    else:
                        events += send_group(k, grp, f0, f1, src_idx, groups, budgeted,
                                             budget, late, cost, ring, ring_dirty, rbase,
                                             dirty, size, slots, proj_events)
                continue
            shifted = False
            if budgeted and f1 > f0:
                if node < n_pops:
                    shifted = charge(k, pr, f0, f1, fired, indptr, roff, budget, late, cost)
                else:
                    shifted = charge(k, pr, f0, f1, src_idx, indptr, roff, budget, late, cost)
            if proj_delay[pr] >= 0 and not shifted:  # one delay: one ring row
                rrow = rbase + ((now + proj_delay[pr]) % slots) * size
                for f in range(f0, f1):
                    i = fired[f] if node < n_pops else src_idx[f]
                    lo, hi = indptr[roff + i], indptr[roff + i + 1]
                    for g in range(lo, hi):
                        ring[rrow + p_post[g]] += p_drive[g]
                    n_ev += hi - lo
                if n_ev:
                    ring_dirty[dirty + (now + proj_delay[pr]) % slots] = True
            else:
                for f in range(f0, f1):
                    extra = late[f - f0] if shifted else 0
                    if extra < 0:  # lost
                        continue
                    i = fired[f] if node < n_pops else src_idx[f]
                    lo, hi = indptr[roff + i], indptr[roff + i + 1]
                    for g in range(lo, hi):
                        slot = now + p_delay[g] + extra  # delays (and 1 more) are < slots
                        if slot >= slots:
                            slot -= slots
                        ring[rbase + slot * size + p_post[g]] += p_drive[g]
                        ring_dirty[dirty + slot] = True
                    n_ev += hi - lo
            proj_events[pr] += n_ev
            events += n_ev
        step_events[row] = events
        if budgeted:
            finish_tick(k, budget)
        # 3. this step's ring rows reach their currents at the start of the next step's
        # update (the same additions, fused into that pass), or now if a current is sampled
        for s in range(sig_kind.size):
            if sig_kind[s] == 1 and (k + 1) % sig_every[s] == 0:
                _deliver(k, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
                         ring_slots, ring_chan, chan_state, ring_inbox, False, inbox_got)
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
                 ring_slots, ring_chan, chan_state, ring_inbox, False, inbox_got)
        _deliver(k1 - 1, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
                 ring_slots, ring_chan, inbox, ring_inbox, True, inbox_got)
    return k1, n_spk


@nb.njit(cache=True, nogil=True)
def _cuba(k, k0, p, uniform, a, n, n_fired, pop_chan, chan_offset, vp, lp, refrac, thresh, p_mm,
          drive0, chan_state, chan_decay, inbox, inbox_got, fixed, flag, fired, scratch,
          chan_ring, chan_ring2, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size,
          ring_slots, zeros):
    """One step of population p's fixed-point CUBA compartments (see
    :class:`toolchain.sim.fast.Form`), in the float64 operations of the kernel's numpy
    step, whose values are exact integers: each current decays (truncated toward 0) and
    adds its input (the inbox, what arrived before this call, and the rows of its one or
    two rings that arrived in the previous step), floored and shifted up, wrapping as the
    chip's registers do; v decays,
    adds the currents and the bias, saturates, is held at 0 while refractory, and fires
    above its threshold.  Each pass is written without branches (selects), so that the
    compiler vectorises it; the wrap, which needs |u| beyond 24 bits, is a second pass
    over the rare neurons that need it.  Returns the spike count so far, the spikes
    appended to ``fired``."""
    act_shift, uv, frac = fixed[0], fixed[1], fixed[2]
    scale = float(1 << act_shift)
    fuv = float(uv)
    c0, c1 = pop_chan[p], pop_chan[p + 1]
    for c in range(c0, c1):
        q = chan_offset[c]
        st, dec, box = chan_state[q:q + n], chan_decay[q:q + n], inbox[q:q + n]
        ra, got_a = _row(k, k0, chan_ring[c], n, ring, ring_dirty, ring_offset,
                         ring_dirty_offset, ring_size, ring_slots, zeros)
        rb, got_b = _row(k, k0, chan_ring2[c], n, ring, ring_dirty, ring_offset,
                         ring_dirty_offset, ring_size, ring_slots, zeros)
        got = inbox_got[c] or got_a or got_b
        inbox_got[c] = False
        d = scratch[:n]
        if uniform:
            edge = _cuba_current(n, st, dec[0], box, ra, rb, d, frac, scale, fuv, got)
        else:
            edge = _cuba_current(n, st, dec, box, ra, rb, d, frac, scale, fuv, got)
        if edge:  # beyond 24 bits somewhere (which an int32 overflow implies too)
            for j in range(n):
                x = st[j]
                if x > fuv or x <= -fuv:
                    st[j] = _wrapped(d[j], np.int64(box[j]) >> frac, act_shift, uv)
        box[:] = 0
    top = float(uv - 1)
    fl = flag[a:a + n]
    s0 = chan_state[chan_offset[c0]:chan_offset[c0] + n]
    s1 = chan_state[chan_offset[c1 - 1]:chan_offset[c1 - 1] + n]
    two = c1 - c0 == 2
    if uniform:
        count = _cuba_voltage(n, vp, lp, s0, s1, two, top, fl, p_mm[a], drive0[a],
                              thresh[a], refrac[a])
    else:
        count = _cuba_voltage(n, vp, lp, s0, s1, two, top, fl, p_mm[a:a + n],
                              drive0[a:a + n], thresh[a:a + n], refrac[a:a + n])
    if count:
        for j in range(n):
            if fl[j]:
                fired[n_fired] = j
                n_fired += 1
    return n_fired


@nb.njit(cache=True, nogil=True, inline="always")
def _cuba_current(n, st, dec, box, ra, rb, d, frac, scale, fuv, got):
    """A current's decay and input (``dec``: one factor or one per neuron); whether a
    value went beyond 24 bits (the caller wraps those).  Without branches in the loop
    (`or`, or a max of |x|, would keep it from being vectorised)."""
    if not got:
        for j in range(n):
            st[j] = np.trunc(st[j] * _at(dec, j))
        return False
    edge = False
    for j in range(n):
        dj = np.trunc(st[j] * _at(dec, j))
        d[j] = dj
        acc = box[j] + ra[j] + rb[j]
        box[j] = acc  # (kept for the rare wrap)
        ra[j] = 0
        rb[j] = 0
        x = (np.int64(acc) >> frac) * scale + dj
        st[j] = x
        edge |= (x > fuv) | (x <= -fuv)
    return edge


@nb.njit(cache=True, nogil=True, inline="always")
def _cuba_voltage(n, vp, lp, s0, s1, two, top, fl, p_mm, drive0, thresh, refrac):
    """The voltage pass (parameters: one value, kept in registers, or one per neuron);
    the number of spikes, flagged in ``fl``."""
    count = 0
    for j in range(n):
        x = np.trunc(vp[j] * _at(p_mm, j)) + s0[j]
        x = x + s1[j] if two else x
        x = min(max(x + _at(drive0, j), -top), top)
        held = lp[j] > 0  # refractory: held at 0
        x = 0.0 if held else x
        spiked = x > _at(thresh, j)
        lp[j] = _at(refrac, j) if spiked else (lp[j] - 1 if held else lp[j])
        vp[j] = 0.0 if spiked else x
        fl[j] = spiked
        count += spiked
    return count


@nb.njit(cache=True, nogil=True)
def _wrapped(d, ai, act_shift, uv):
    """u beyond 24 bits as lava computes it: a_in shifted and added in int32 (when that
    overflows), then one conditional wrap each way."""
    act = ai << act_shift
    if act >= 2**31 - uv or act < -(2**31) + uv:
        u = _wrap32(np.int64(d) + _wrap32(_wrap32(ai) << act_shift))
    else:
        u = np.int64(d) + act
    u = u - 2 * uv if u > uv else u
    return float(u + 2 * uv if u <= -uv else u)


@nb.njit(cache=True, nogil=True, inline="always")
def _wrap32(x):
    return ((x + 2**31) & (2**32 - 1)) - 2**31


@nb.njit(cache=True, nogil=True)
def _deliver(k, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size, ring_slots,
             ring_chan, dest, ring_inbox, to_inboxes, inbox_got):
    """Add the ring rows of step k to ``dest`` and clear them: with ``to_inboxes``, the
    rows that feed a kernel's inbox (``ring_inbox``, marking ``inbox_got``), else the
    others, into their currents."""
    for r in range(ring_size.size):
        c = ring_inbox[r]
        if (c >= 0) != to_inboxes:
            continue
        slot = k % ring_slots[r]
        d = ring_dirty_offset[r] + slot
        if not ring_dirty[d]:
            continue
        size = ring_size[r]
        rbase = ring_offset[r] + slot * size
        cbase = ring_chan[r]
        for j in range(size):
            dest[cbase + j] += ring[rbase + j]
            ring[rbase + j] = 0
        ring_dirty[d] = False
        if to_inboxes:
            inbox_got[c] = True


@nb.njit(cache=True, nogil=True, inline="always")
def _row(k, k0, r, n, ring, ring_dirty, ring_offset, ring_dirty_offset, ring_size, ring_slots,
         zeros):
    """Ring r's row that arrived in step k - 1 (within this call), marked delivered, and
    whether there was one; ``zeros`` when not."""
    if r < 0 or k == k0:
        return zeros[:n], False
    slot = (k - 1) % ring_slots[r]
    d = ring_dirty_offset[r] + slot
    if not ring_dirty[d]:
        return zeros[:n], False
    ring_dirty[d] = False
    base = ring_offset[r] + slot * ring_size[r]
    return ring[base:base + n], True


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
