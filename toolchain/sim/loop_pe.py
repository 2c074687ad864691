"""The compiled loop's kernel of a SpiNNaker2 PE and its tick budget (numba), called from
:func:`toolchain.sim.loop.run_steps` for populations of the PE_LIF kind and for networks
whose interconnect is a per-tick cycle budget (:class:`~toolchain.sim.interconnect.TickBudget`).

Both repeat the numpy path's operations value for value, so that the two paths give the
same spikes, state and counters bit for bit:

* the PE kernel (:class:`toolchain.targets.spinnaker2.numerics.S2LIFKernel`) in s16.15,
  integer operations with the same flooring shifts, wraps and saturations, or in float32,
  every operation in float32 (numba types a Python float as float64, so every constant is
  a float32 and values read from the loop's float64 arrays are converted first: float32
  and s16.15 values are exact in float64);
* the budget (:class:`toolchain.targets.spinnaker2.timing.TickTiming`): packets charged to
  their target's tick in the engine's order, a running sum added to what the tick had used
  (numpy's cumsum), lateness where the sum passes the tick, and the cost carried into the
  next tick summed as numpy's pairwise sum does.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload

#: the values a PE_LIF population keeps in ``Form.params``, one row each
PE_ROWS = ("v_rest", "r_mem", "rise_step_exc", "rise_step_inh", "e_rev_exc", "e_rev_inh",
           "frac_bits_exc", "frac_bits_inh", "mode")
#: ``mode`` bits: s16.15 (else float32), an alpha synapse, a conductance-based cell
MODE_FIXED, MODE_ALPHA, MODE_COND = 1, 2, 4
#: what :func:`charge` marks a packet: on time, a tick late, lost
ON_TIME, DEFERRED, LOST = 0, 1, -1

_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


def _at(x, j):
    """``x[j]`` of a per-neuron array, or ``x`` itself of one value (a loop written with
    it compiles once per kind of argument, with one values kept in registers)."""
    raise NotImplementedError  # compiled only


@overload(_at, inline="always")
def _at_compiled(x, j):
    if isinstance(x, types.Array):
        return lambda x, j: x[j]
    return lambda x, j: x


# --------------------------------------------------------------------------- PE kernel


@nb.njit(cache=True, nogil=True)
def pe_lif(n, uniform, a, n_fired, vp, lp, refrac, thresh, reset, p_mm, drive0, chan_state,
           chan_decay, chan_pmi, q, alpha, first, inbox, ra, rb, param, flag, fired):
    """One tick of a PE_LIF population (neurons ``a .. a + n`` of the loop's arrays; its
    channels from ``chan_state[q]`` on: the synaptic states exc and inh, then, with an
    ``alpha`` synapse, their rise terms, whose ``chan_pmi`` is the rise gain).  The tick's
    input is, in the ``first`` step of a call, the inbox (what arrived before it), else
    the ring rows ``ra``, ``rb`` of the previous step (the inbox then holds nothing);
    it is cleared.  Returns the spike count so far, the spikes
    appended to ``fired``."""
    mode = np.int64(param[8, a])
    s0, s1 = chan_state[q:q + n], chan_state[q + n:q + 2 * n]
    g = q + 2 * n if alpha else q  # (without rise terms: unused stand-ins)
    r0, r1 = chan_state[g:g + n], chan_state[g + n:g + 2 * n]
    if first:
        ra, rb = inbox[q:q + n], inbox[q + n:q + 2 * n]
    fl = flag[a:a + n]
    fb0, fb1 = np.int64(param[6, a]), np.int64(param[7, a])
    if uniform:
        par = (refrac[a], thresh[a], reset[a], p_mm[a], drive0[a], chan_decay[q],
               chan_decay[q + n], chan_pmi[q], chan_pmi[q + n], chan_pmi[g], chan_pmi[g + n],
               param[0, a], param[1, a], param[2, a], param[3, a], param[4, a], param[5, a])
        count = _lif(mode, n, vp, lp, s0, s1, r0, r1, ra, rb, fb0, fb1, fl, par)
    else:
        par = (refrac[a:a + n], thresh[a:a + n], reset[a:a + n], p_mm[a:a + n],
               drive0[a:a + n], chan_decay[q:q + n], chan_decay[q + n:q + 2 * n],
               chan_pmi[q:q + n], chan_pmi[q + n:q + 2 * n], chan_pmi[g:g + n],
               chan_pmi[g + n:g + 2 * n], param[0, a:a + n], param[1, a:a + n],
               param[2, a:a + n], param[3, a:a + n], param[4, a:a + n], param[5, a:a + n])
        count = _lif(mode, n, vp, lp, s0, s1, r0, r1, ra, rb, fb0, fb1, fl, par)
    if count:
        for j in range(n):
            if fl[j]:
                fired[n_fired] = j
                n_fired += 1
    return n_fired


@nb.njit(cache=True, nogil=True)
def _lif(mode, n, vp, lp, s0, s1, r0, r1, ra, rb, fb0, fb1, fl, par):
    """The kernel for ``mode``, its synapse and cell type fixed at compile time (each
    variant a loop without branches, which the compiler vectorises)."""
    state = (n, vp, lp, s0, s1, r0, r1, ra, rb, fb0, fb1, fl)
    fixed, alpha, cond = mode & MODE_FIXED, mode & MODE_ALPHA, mode & MODE_COND
    if fixed:
        if alpha:
            if cond:
                return _lif_fixed(state, par, True, True)
            return _lif_fixed(state, par, True, False)
        if cond:
            return _lif_fixed(state, par, False, True)
        return _lif_fixed(state, par, False, False)
    if alpha:
        if cond:
            return _lif_float(state, par, True, True)
        return _lif_float(state, par, True, False)
    if cond:
        return _lif_float(state, par, False, True)
    return _lif_float(state, par, False, False)


@nb.njit(cache=True, nogil=True, inline="always")
def _sat(x):
    return min(max(x, _I32_MIN), _I32_MAX)


@nb.njit(cache=True, nogil=True, inline="always")
def _mul(a, b):
    """s16.15 x s16.15, flooring, saturating."""
    return _sat((a * b) >> 15)


@nb.njit(cache=True, nogil=True, inline="always")
def _lif_fixed(state, par, alpha, cond):
    """S2LIFKernel._tick_fixed, neuron by neuron (int64 values held in float64); the
    ring sums become s16.15 shifted left or right (one of the shifts is 0), flooring."""
    n, vp, lp, s0, s1, r0, r1, ra, rb, fb0, fb1, fl = state
    (refrac, thresh, reset, exp_tc, i_offset, dec0, dec1, ini0, ini1, gain0, gain1,
     v_rest, r_mem, step0, step1, erev0, erev1) = par
    up0, down0 = max(15 - fb0, 0), max(fb0 - 15, 0)
    up1, down1 = max(15 - fb1, 0), max(fb1 - 15, 0)
    count = 0
    for j in range(n):
        in0 = _sat((np.int64(ra[j]) << up0) >> down0)
        in1 = _sat((np.int64(rb[j]) << up1) >> down1)
        ra[j] = 0
        rb[j] = 0
        e, i = np.int64(s0[j]), np.int64(s1[j])
        q0, q1 = np.int64(r0[j]), np.int64(r1[j])
        if alpha:
            q0 = _sat(q0 + _mul(in0, np.int64(_at(gain0, j))))
            q1 = _sat(q1 + _mul(in1, np.int64(_at(gain1, j))))
        else:
            e = _sat(e + ((in0 * np.int64(_at(ini0, j))) >> 32))
            i = _sat(i + ((in1 * np.int64(_at(ini1, j))) >> 32))
        v = np.int64(vp[j])
        if cond:
            i_syn = _sat(_mul(e, np.int64(_at(erev0, j)) - v)
                         + _mul(i, np.int64(_at(erev1, j)) - v))
        else:
            i_syn = e - i
        i_total = _sat(i_syn + np.int64(_at(i_offset, j)))
        drive = _sat(_mul(i_total, np.int64(_at(r_mem, j))) + np.int64(_at(v_rest, j)))
        refract = np.int64(lp[j])
        active = refract <= 0
        moved = _sat(drive - (((drive - v) * np.int64(_at(exp_tc, j))) >> 32))
        v = moved if active else v
        spiked = active & (v >= np.int64(_at(thresh, j)))
        vp[j] = np.int64(_at(reset, j)) if spiked else v
        lp[j] = np.int64(_at(refrac, j)) if spiked else refract - 1
        d0, d1 = np.int64(_at(dec0, j)), np.int64(_at(dec1, j))
        e, i = (e * d0) >> 32, (i * d1) >> 32
        if alpha:
            e = _sat(e + _mul(q0, np.int64(_at(step0, j))))
            i = _sat(i + _mul(q1, np.int64(_at(step1, j))))
            r0[j] = (q0 * d0) >> 32
            r1[j] = (q1 * d1) >> 32
        s0[j] = e
        s1[j] = i
        fl[j] = spiked
        count += spiked
    return count


@nb.njit(cache=True, nogil=True, inline="always")
def _lif_float(state, par, alpha, cond):
    """S2LIFKernel._tick_float, neuron by neuron, every operation in float32."""
    n, vp, lp, s0, s1, r0, r1, ra, rb, fb0, fb1, fl = state
    (refrac, thresh, reset, exp_tc, i_offset, dec0, dec1, ini0, ini1, gain0, gain1,
     v_rest, r_mem, step0, step1, erev0, erev1) = par
    f32 = np.float32
    scale0, scale1 = 2.0 ** -fb0, 2.0 ** -fb1  # (float64, as numpy scales the words)
    no_current = f32(0.0)  # the injected current the numpy path adds (float32 zeros)
    count = 0
    for j in range(n):
        w0 = f32(np.float64(ra[j]) * scale0)
        w1 = f32(np.float64(rb[j]) * scale1)
        ra[j] = 0
        rb[j] = 0
        e, i = f32(s0[j]), f32(s1[j])
        q0, q1 = f32(r0[j]), f32(r1[j])
        if alpha:
            q0 = q0 + w0 * f32(_at(gain0, j))
            q1 = q1 + w1 * f32(_at(gain1, j))
        else:
            e = e + w0 * f32(_at(ini0, j))
            i = i + w1 * f32(_at(ini1, j))
        v = f32(vp[j])
        if cond:
            i_syn = e * (f32(_at(erev0, j)) - v) + i * (f32(_at(erev1, j)) - v)
        else:
            i_syn = e - i
        drive = (i_syn + f32(_at(i_offset, j)) + no_current) * f32(_at(r_mem, j)) \
            + f32(_at(v_rest, j))
        refract = np.int64(lp[j])
        active = refract <= 0
        moved = drive - (drive - v) * f32(_at(exp_tc, j))
        v = moved if active else v
        spiked = active & (v >= f32(_at(thresh, j)))
        vp[j] = f32(_at(reset, j)) if spiked else v
        lp[j] = np.int64(_at(refrac, j)) if spiked else refract - 1
        d0, d1 = f32(_at(dec0, j)), f32(_at(dec1, j))
        e, i = e * d0, i * d1
        if alpha:
            e = e + q0 * f32(_at(step0, j))
            i = i + q1 * f32(_at(step1, j))
            r0[j] = q0 * d0
            r1[j] = q1 * d1
        s0[j] = e
        s1[j] = i
        fl[j] = spiked
        count += spiked
    return count


# --------------------------------------------------------------------------- tick budget


@nb.njit(cache=True, nogil=True)
def send_group(k, grp, f0, f1, spikes, groups, budgeted, budget, late, cost, ring,
               ring_dirty, rbase, dirty, size, slots, proj_events):
    """Send the spikes ``spikes[f0:f1]`` through group ``grp`` (consecutive projections of
    one pre node into one integer ring, :class:`toolchain.sim.fast.Plan`): each
    projection's packets charged to the budget in the engine's order, then every spike's
    synapses of all of them from one contiguous row (integer sums do not depend on the
    order of additions), a late packet's segment lost or a step later.  The events."""
    member, first, count, seg_off, delay, seg, post, syn_delay, drive = groups
    p0, gn = first[grp], count[grp]
    stride = gn + 1
    base = seg_off[grp]
    m = f1 - f0
    shifted = False
    if budgeted:
        for c in range(gn):
            shifted |= _charge(k, p0 + c, f0, f1, spikes, seg, base, stride, c, budget,
                               late[c * m:(c + 1) * m], cost)
    now = k % slots
    events = 0
    if delay[grp] >= 0 and not shifted:  # one delay: one ring row
        slot = (now + delay[grp]) % slots
        rrow = rbase + slot * size
        for f in range(f0, f1):
            at = base + spikes[f] * stride
            for c in range(gn):
                proj_events[p0 + c] += seg[at + c + 1] - seg[at + c]
            lo, hi = seg[at], seg[at + gn]
            for g in range(lo, hi):
                ring[rrow + post[g]] += drive[g]
            events += hi - lo
        if events:
            ring_dirty[dirty + slot] = True
        return events
    for f in range(f0, f1):
        at = base + spikes[f] * stride
        for c in range(gn):
            extra = late[c * m + f - f0] if shifted else 0
            if extra < 0:  # lost
                continue
            lo, hi = seg[at + c], seg[at + c + 1]
            for g in range(lo, hi):
                slot = now + syn_delay[g] + extra  # delays (and 1 more) are < slots
                if slot >= slots:
                    slot -= slots
                ring[rbase + slot * size + post[g]] += drive[g]
                ring_dirty[dirty + slot] = True
            proj_events[p0 + c] += hi - lo
            events += hi - lo
    return events


@nb.njit(cache=True, nogil=True)
def charge(k, pr, f0, f1, spikes, indptr, roff, budget, late, cost):
    """Charge the packets of projection ``pr``'s spikes ``spikes[f0:f1]`` (pre indices)
    sent in step k: to the delay-extension PE first, in tick k, if the row passes one,
    then to the target PE in the tick they reach it; ``late[f - f0]`` says what becomes
    of each (ON_TIME, DEFERRED, LOST).  Pre neuron i's row length is ``indptr[roff + i
    + 1] - indptr[roff + i]``.  Whether any was late."""
    return _charge(k, pr, f0, f1, spikes, indptr, roff, 1, 0, budget, late, cost)


@nb.njit(cache=True, nogil=True, inline="always")
def _charge(k, pr, f0, f1, spikes, indptr, roff, stride, col, budget, late, cost):
    """:func:`charge` with row lengths ``indptr[at + 1] - indptr[at]``, at = ``roff + i *
    stride + col`` (a CSR's, or a column of a group's segments)."""
    target, via, offset, per_event, const, fixed, ledger, counts, stats = budget
    packet, tick = const[0], const[1]
    defer = const[2] != 0
    horizon = ledger.shape[0]
    m = f1 - f0
    for f in range(m):
        late[f] = ON_TIME
    if via[pr] >= 0:
        _charge_tick(ledger, k % horizon, via[pr], m, packet, 0.0, tick, spikes, f0,
                     indptr, roff, stride, col, late, cost)
    arrive = k + offset[pr]
    _charge_tick(ledger, arrive % horizon, target[pr], m, packet, per_event[pr], tick,
                 spikes, f0, indptr, roff, stride, col, late, cost)
    n_late, late_events, on_time = 0, 0, 0
    for f in range(m):
        at = roff + spikes[f0 + f] * stride + col
        length = indptr[at + 1] - indptr[at]
        if late[f] != ON_TIME:
            cost[n_late] = cost[m + f]  # the late ones' costs, in order
            n_late += 1
            late_events += length
            late[f] = DEFERRED if defer else LOST
        else:
            on_time += length
    counts[pr, 0] += m
    counts[pr, 1] += n_late
    counts[pr, 2] += late_events
    counts[pr, 3] += on_time
    if n_late and defer:  # processed first thing next tick: charged there
        carried = pairwise_sum(cost, 0, n_late)
        nxt = (arrive + 1) % horizon
        ledger[nxt, 0, target[pr]] += carried
        ledger[nxt, 1, target[pr]] += carried
    return n_late > 0


@nb.njit(cache=True, nogil=True, inline="always")
def _charge_tick(ledger, row, pe, m, packet, per_event, tick, spikes, f0, indptr, roff,
                 stride, col, late, cost):
    """TickTiming._charge: a running sum of the packets' costs on top of what the tick
    has used; a packet whose sum passes the tick is late, costs nothing but counts as
    demand.  Each packet's cost is kept in ``cost[m + f]``."""
    used = ledger[row, 0, pe]
    total, ok, running = used, used, 0.0
    for f in range(m):
        at = roff + spikes[f0 + f] * stride + col
        c = packet + np.float64(indptr[at + 1] - indptr[at]) * per_event
        cost[m + f] = c
        running += c
        total = used + running
        if total > tick:
            late[f] = DEFERRED  # (late; what becomes of it is decided by the caller)
        else:
            ok = total
    if m:
        ledger[row, 1, pe] += total - used
        ledger[row, 0, pe] = ok


@nb.njit(cache=True, nogil=True)
def finish_tick(k, budget):
    """Tick k can take no more packets: count its overrun PEs and its largest demand,
    and make its ledger row the fresh one of tick k + horizon."""
    target, via, offset, per_event, const, fixed, ledger, counts, stats = budget
    row = k % ledger.shape[0]
    tick = const[1]
    for s in range(fixed.size):
        util = ledger[row, 1, s] / tick
        if util > 1:
            stats[0] += 1
        if util > stats[1]:
            stats[1] = util
        ledger[row, 0, s] = fixed[s]
        ledger[row, 1, s] = fixed[s]


@nb.njit(cache=True, nogil=True)
def pairwise_sum(x, lo, n):
    """``x[lo:lo + n].sum()`` as numpy adds float64 (eight partial sums within a block of
    up to 128 values; longer runs halved, in multiples of eight, and the halves added), so
    that a carried cost is the numpy path's to the last bit.  The halving is walked with
    a stack (a recursive function does not load from numba's cache)."""
    if n <= 128:
        return _block_sum(x, lo, n)
    frame_lo, frame_n = np.empty(64, np.int64), np.empty(64, np.int64)
    frame_state = np.zeros(64, np.int64)
    values = np.empty(64)
    top, n_values = 0, 0
    frame_lo[0], frame_n[0] = lo, n
    while top >= 0:
        a, m = frame_lo[top], frame_n[top]
        if m <= 128:
            values[n_values] = _block_sum(x, a, m)
            n_values += 1
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        if frame_state[top] == 0:  # the first half next
            frame_state[top] = 1
            top += 1
            frame_lo[top], frame_n[top], frame_state[top] = a, half, 0
        elif frame_state[top] == 1:  # then the second
            frame_state[top] = 2
            top += 1
            frame_lo[top], frame_n[top], frame_state[top] = a + half, m - half, 0
        else:
            n_values -= 1
            values[n_values - 1] = values[n_values - 1] + values[n_values]
            top -= 1
    return values[0]


@nb.njit(cache=True, nogil=True)
def _block_sum(x, lo, n):
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += x[i]
        return res
    r = np.empty(8)
    for u in range(8):
        r[u] = x[lo + u]
    i = 8
    while i < n - n % 8:
        for u in range(8):
            r[u] += x[lo + i + u]
        i += 8
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        res += x[lo + i]
        i += 1
    return res
