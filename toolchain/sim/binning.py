"""Compiled helpers (numba) of the engine's build: binning drawn spike trains into
timesteps, and the counting sort that groups spikes by step and synapses by pre neuron.

A cortical microcircuit's background emits about 10^9 spikes per second of biological
time.  Sorting them by time (an argsort of ~10^7 floats per realisation window) cost
more than drawing them; here each neuron's train, already in time order, is cut to its
active interval and binned into steps in one pass, and a counting sort groups the spikes
by step.  The counting sort is stable, so within a step the spikes keep the order they
were given in: by neuron for trains drawn neuron by neuron (Poisson sources), in time
order for trains given in time order (renewal sources).

The same counting sort puts a projection's synapses into pre order (CSR) for the engine:
one sequential pass over the IR's synapses writing to one cursor per pre neuron, where a
gather through an argsort's permutation reads the IR's arrays at random (a cache miss per
synapse, minutes at 0.3 billion synapses).  Imported on first use (numba takes a moment to
import); compilations are cached on disk as the engine's loop is.

Delays become whole steps here too, synapse by synapse in one pass (numpy's version of
the same rule, :func:`toolchain.sim.clock.nearest_step`, makes float64 temporaries per
chunk of synapses, and at 0.3 billion synapses their page faults cost more than the
arithmetic).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def bin_trains(times, senders, begin, end, t1, shift, dt, k_first):
    """Spikes of a (neurons x draws) matrix of spike times, each row in time order (inf
    past its end): those in [begin[r], end[r]) and before ``t1`` as (step - k_first,
    sender), row by row.  The step is ``floor((t + shift) / dt)``, as clock.event_step
    computes it (``shift`` = EVENT_SHIFT * dt)."""
    n, m = times.shape
    count = 0
    for r in range(n):
        b, e = begin[r], end[r]
        for j in range(m):
            t = times[r, j]
            if t >= t1:
                break
            if t >= b and t < e:
                count += 1
    rel = np.empty(count, dtype=np.int32)
    out = np.empty(count, dtype=np.int32)
    k = 0
    for r in range(n):
        b, e = begin[r], end[r]
        s = senders[r]
        for j in range(m):
            t = times[r, j]
            if t >= t1:
                break
            if t >= b and t < e:
                rel[k] = np.int32(math.floor((t + shift) / dt) - k_first)
                out[k] = s
                k += 1
    return rel, out


@nb.njit(cache=True, nogil=True)
def counting_sort(keys, n_keys, dest):
    """Stable counting sort of ``keys`` (each in 0..n_keys-1): returns the CSR offsets per
    key and fills ``dest`` (of the caller's integer dtype) with each element's position in
    key order, so that ``sorted[dest] = values`` sorts any array along with the keys."""
    indptr = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(keys.size):
        indptr[keys[i] + 1] += 1
    for k in range(n_keys):
        indptr[k + 1] += indptr[k]
    pos = indptr[:-1].copy()
    for i in range(keys.size):
        k = keys[i]
        dest[i] = pos[k]
        pos[k] += 1
    return indptr


@nb.njit(cache=True, nogil=True)
def delay_steps_into(delay, dt, dest, out):
    """``out[dest[i]] = rint(delay[i] / dt)`` in float64 (clock.nearest_step's rule, bit
    for bit), or ``out[i]`` when ``dest`` is empty (the IR's order is the engine's)."""
    scatter = dest.size > 0
    for i in range(delay.size):
        step = np.rint(np.float64(delay[i]) / dt)
        if scatter:
            out[dest[i]] = step
        else:
            out[i] = step


@nb.njit(cache=True, nogil=True)
def delay_summary(delay, dt, rtol):
    """Delays as whole steps of ``dt``, at least one: the smallest and largest step count,
    how many moved by more than ``rtol`` of max(delay, dt), and the largest move (ms);
    compiler.describe.delay_steps's arithmetic, in one pass without temporaries."""
    lo, hi, rounded, worst = np.int64(2**62), np.int64(0), np.int64(0), 0.0
    for i in range(delay.size):
        d = np.float64(delay[i])
        steps = max(np.rint(d / dt), 1.0)
        error = abs(steps * dt - d)
        lo = min(lo, np.int64(steps))
        hi = max(hi, np.int64(steps))
        worst = max(worst, error)
        if error > max(d, dt) * rtol:
            rounded += 1
    return lo, hi, rounded, worst


@nb.njit(cache=True, nogil=True)
def is_sorted(values):
    """Whether ``values`` never decrease: one pass, stopping at the first descent, where
    numpy compares every pair into a temporary array first."""
    for i in range(1, values.size):
        if values[i] < values[i - 1]:
            return False
    return True
