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
