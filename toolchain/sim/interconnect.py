"""Interconnect timing models: the *semantic* effect of the network-on-chip on spikes.

A timestep machine delivers a spike within its step unless the step's deadline is missed;
then the spike is shifted to a later step or dropped.  A continuous-time chip (DYNAP-SE)
shifts spikes by its routing latency.  Either way the model decides, per emitted spike and
destination projection, how many steps late the spike arrives, or that it never does.
Physical cost (wall time, energy) is computed from the engine's counters elsewhere and
never changes what the network does.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: the value of :meth:`Interconnect.route` for a spike that is lost
DROPPED = -1


class Interconnect(abc.ABC):
    """Where targets model their spike routing.  The engine asks once per step and
    projection with the pre neurons that fired, and counts shifted and dropped spikes."""

    #: the most extra steps :meth:`route` ever adds; the engine sizes its delay ring
    #: buffers with it, so a larger value returned by :meth:`route` is an error
    max_extra_delay: int = 0

    @abc.abstractmethod
    def route(self, step: int, projection: str, pre: np.ndarray) -> np.ndarray | None:
        """Extra delay in steps per spike of ``pre`` (>= 0, or DROPPED), or None if every
        spike arrives on time.  A model that needs finer destinations than a projection
        (cores within a population) gets them by the compiler splitting the projection."""

    def reset(self) -> None:
        """Forget congestion state at t = 0 (stateless models need not override)."""
        return None


class IdealInterconnect(Interconnect):
    """The reference: every spike arrives after exactly its synaptic delay."""

    def route(self, step: int, projection: str, pre: np.ndarray) -> None:
        return None


@dataclass
class TickBudget:
    """A per-tick cycle budget in the compiled loop's terms (:mod:`toolchain.sim.loop_pe`):
    each projection's spikes are packets that cost their target core ``packet_cycles +
    row length x per_event`` cycles of the tick they reach it, ``offset`` ticks after they
    are sent, after costing a relay core (``via``, or -1) ``packet_cycles`` in the tick they
    are sent; a packet beyond a core's ``tick_cycles`` is late: deferred a tick or lost.

    ``ledger[t % horizon]`` holds (cycles processed, cycles demanded) per core of tick t,
    ``fixed`` a tick's work before any packet; the loop fills ``counts`` (per projection:
    packets, late packets, their synaptic events, the on-time packets' events) and
    ``stats`` (overrun core-ticks, the largest demand over a tick's cycles), and
    ``restore(k1)`` hands them back to the model after a run up to step k1.
    """

    target: np.ndarray
    via: np.ndarray
    offset: np.ndarray
    per_event: np.ndarray
    packet_cycles: float
    tick_cycles: float
    defer: bool
    fixed: np.ndarray
    ledger: np.ndarray
    restore: Callable[[int], None]
    counts: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    stats: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def __post_init__(self) -> None:
        if self.counts.shape[0] != self.target.size:
            self.counts = np.zeros((self.target.size, 4), np.int64)

    def arrays(self) -> tuple:
        """The loop's argument: the arrays in :func:`toolchain.sim.loop_pe.charge`'s order
        (``const``: packet and tick cycles, defer, whether there is a budget)."""
        const = np.array([self.packet_cycles, self.tick_cycles, float(self.defer), 1.0])
        return (self.target, self.via, self.offset, self.per_event, const, self.fixed,
                self.ledger, self.counts, self.stats)


def no_budget() -> tuple:
    """The loop's budget argument for an interconnect without one (the ideal)."""
    i, f = np.zeros(0, np.int64), np.zeros(0)
    return (i, i, i, f, np.zeros(4), f, np.zeros((1, 2, 0)), np.zeros((0, 4), np.int64),
            np.zeros(2))
