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
           chan_decay, chan_pmi, q, alpha, inbox, ra, rb, param, flag, fired):
    """One tick of a PE_LIF population (neurons ``a .. a + n`` of the loop's arrays; its
    channels from ``chan_state[q]`` on: the synaptic states exc and inh, then, with an
    ``alpha`` synapse, their rise terms, whose ``chan_pmi`` is the rise gain).  The tick's
    input is the inbox (what arrived before this call) plus the ring rows ``ra``, ``rb``
    of the previous step, both cleared.  Returns the spike count so far, the spikes
    appended to ``fired``."""
    mode = np.int64(param[8, a])
    s0, s1 = chan_state[q:q + n], chan_state[q + n:q + 2 * n]
    g = q + 2 * n if alpha else q  # (without rise terms: unused stand-ins)
    r0, r1 = chan_state[g:g + n], chan_state[g + n:g + 2 * n]
    b0, b1 = inbox[q:q + n], inbox[q + n:q + 2 * n]
    fl = flag[a:a + n]
    fb0, fb1 = np.int64(param[6, a]), np.int64(param[7, a])
    fixed = (mode & MODE_FIXED) != 0
    if uniform:
        count = _lif(fixed, n, mode, vp, lp, s0, s1, r0, r1, b0, b1, ra, rb, fb0, fb1, fl,
                       refrac[a], thresh[a], reset[a], p_mm[a], drive0[a], chan_decay[q],
                       chan_decay[q + n], chan_pmi[q], chan_pmi[q + n], chan_pmi[g],
                       chan_pmi[g + n], param[0, a], param[1, a], param[2, a], param[3, a],
                       param[4, a], param[5, a])
    else:
        count = _lif(fixed, n, mode, vp, lp, s0, s1, r0, r1, b0, b1, ra, rb, fb0, fb1, fl,
                       refrac[a:a + n], thresh[a:a + n], reset[a:a + n], p_mm[a:a + n],
                       drive0[a:a + n], chan_decay[q:q + n], chan_decay[q + n:q + 2 * n],
                       chan_pmi[q:q + n], chan_pmi[q + n:q + 2 * n], chan_pmi[g:g + n],
                       chan_pmi[g + n:g + 2 * n], param[0, a:a + n], param[1, a:a + n],
                       param[2, a:a + n], param[3, a:a + n], param[4, a:a + n],
                       param[5, a:a + n])
    if count:
        for j in range(n):
            if fl[j]:
                fired[n_fired] = j
                n_fired += 1
    return n_fired


@nb.njit(cache=True, nogil=True)
def _lif(fixed, *args):
    if fixed:
        return _lif_fixed(*args)
    return _lif_float(*args)


@nb.njit(cache=True, nogil=True, inline="always")
def _sat(x):
    return min(max(x, _I32_MIN), _I32_MAX)


@nb.njit(cache=True, nogil=True, inline="always")
def _accum(words, frac_bits):
    """Summed weight words (scale 2**frac_bits) as s16.15, flooring, saturating."""
    shift = 15 - frac_bits
    return _sat(words << shift if shift >= 0 else words >> -shift)


@nb.njit(cache=True, nogil=True, inline="always")
def _mul(a, b):
    """s16.15 x s16.15, flooring, saturating."""
    return _sat((a * b) >> 15)


@nb.njit(cache=True, nogil=True)
def _lif_fixed(n, mode, vp, lp, s0, s1, r0, r1, b0, b1, ra, rb, fb0, fb1, fl, refrac,
               thresh, reset, exp_tc, i_offset, dec0, dec1, ini0, ini1, gain0, gain1,
               v_rest, r_mem, step0, step1, erev0, erev1):
    """S2LIFKernel._tick_fixed, neuron by neuron (int64 values held in float64)."""
    alpha, cond = (mode & MODE_ALPHA) != 0, (mode & MODE_COND) != 0
    count = 0
    for j in range(n):
        in0 = _accum(np.int64(b0[j]) + np.int64(ra[j]), fb0)
        in1 = _accum(np.int64(b1[j]) + np.int64(rb[j]), fb1)
        b0[j] = 0
        b1[j] = 0
        ra[j] = 0
        rb[j] = 0
        e, i = np.int64(s0[j]), np.int64(s1[j])
        if alpha:
            q0 = _sat(np.int64(r0[j]) + _mul(in0, np.int64(_at(gain0, j))))
            q1 = _sat(np.int64(r1[j]) + _mul(in1, np.int64(_at(gain1, j))))
        else:
            q0 = q1 = np.int64(0)
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
        if active:
            v = _sat(drive - (((drive - v) * np.int64(_at(exp_tc, j))) >> 32))
        spiked = active and v >= np.int64(_at(thresh, j))
        if spiked:
            v = np.int64(_at(reset, j))
            lp[j] = _at(refrac, j)
        else:
            lp[j] = refract - 1
        vp[j] = v
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


@nb.njit(cache=True, nogil=True)
def _lif_float(n, mode, vp, lp, s0, s1, r0, r1, b0, b1, ra, rb, fb0, fb1, fl, refrac,
               thresh, reset, exp_tc, i_offset, dec0, dec1, ini0, ini1, gain0, gain1,
               v_rest, r_mem, step0, step1, erev0, erev1):
    """S2LIFKernel._tick_float, neuron by neuron, every operation in float32."""
    f32 = np.float32
    alpha, cond = (mode & MODE_ALPHA) != 0, (mode & MODE_COND) != 0
    scale0, scale1 = 2.0 ** -fb0, 2.0 ** -fb1  # (float64, as numpy scales the words)
    no_current = f32(0.0)  # the injected current the numpy path adds (float32 zeros)
    count = 0
    for j in range(n):
        w0 = f32(np.float64(np.int64(b0[j]) + np.int64(ra[j])) * scale0)
        w1 = f32(np.float64(np.int64(b1[j]) + np.int64(rb[j])) * scale1)
        b0[j] = 0
        b1[j] = 0
        ra[j] = 0
        rb[j] = 0
        e, i = f32(s0[j]), f32(s1[j])
        if alpha:
            q0 = f32(r0[j]) + w0 * f32(_at(gain0, j))
            q1 = f32(r1[j]) + w1 * f32(_at(gain1, j))
        else:
            q0 = q1 = f32(0.0)
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
        if active:
            v = drive - (drive - v) * f32(_at(exp_tc, j))
        spiked = active and v >= f32(_at(thresh, j))
        if spiked:
            v = f32(_at(reset, j))
            lp[j] = _at(refrac, j)
        else:
            lp[j] = refract - 1
        vp[j] = v
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
def charge(k, pr, f0, f1, spikes, indptr, roff, budget, late, cost):
    """Charge the packets of projection ``pr``'s spikes ``spikes[f0:f1]`` (pre indices)
    sent in step k: to the delay-extension PE first, in tick k, if the row passes one,
    then to the target PE in the tick they reach it; ``late[f - f0]`` says what becomes
    of each (ON_TIME, DEFERRED, LOST).  Whether any was late."""
    target, via, offset, per_event, const, fixed, ledger, counts, stats = budget
    packet, tick = const[0], const[1]
    defer = const[2] != 0
    horizon = ledger.shape[0]
    m = f1 - f0
    for f in range(m):
        late[f] = ON_TIME
    if via[pr] >= 0:
        _charge_tick(ledger, k % horizon, via[pr], m, packet, 0.0, tick, spikes, f0,
                     indptr, roff, late, cost)
    arrive = k + offset[pr]
    _charge_tick(ledger, arrive % horizon, target[pr], m, packet, per_event[pr], tick,
                 spikes, f0, indptr, roff, late, cost)
    n_late, late_events, on_time = 0, 0, 0
    for f in range(m):
        i = spikes[f0 + f]
        length = indptr[roff + i + 1] - indptr[roff + i]
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
                 late, cost):
    """TickTiming._charge: a running sum of the packets' costs on top of what the tick
    has used; a packet whose sum passes the tick is late, costs nothing but counts as
    demand.  Each packet's cost is kept in ``cost[m + f]``."""
    used = ledger[row, 0, pe]
    total, ok, running = used, used, 0.0
    for f in range(m):
        i = spikes[f0 + f]
        c = packet + np.float64(indptr[roff + i + 1] - indptr[roff + i]) * per_event
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
