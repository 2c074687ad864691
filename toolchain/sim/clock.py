"""Time in ms to integer timesteps, the one place the engine and every target convert.

Two rules, both Brian2's (which pyNN.brian2 runs on), so that our steps line up with the
Brian2 reference the float target is checked against:

* *events* (spike times of sources, refractory periods) fall into the step that contains
  them, after a shift of 1e-3 dt so that a time that is a multiple of dt on paper but
  slightly below it in floating point is not pushed into the previous step
  (``brian2.core.functions.timestep``; ``SpikeGeneratorGroup`` bins the same way);
* *durations and switching times* (synaptic delays, current-source start/stop, run
  lengths) go to the nearest step (pyNN.brian2 rounds delays, ``Projection._convergent_connect``,
  and switches currents when ``|t - t_switch| < dt/2``).
"""

from __future__ import annotations

import numpy as np

# Brian2's shift, as a fraction of dt (brian2/core/functions.py: timestep).
EVENT_SHIFT = 1e-3


def event_step(t: np.ndarray | float, dt: float) -> np.ndarray:
    """The step an event at time ``t`` (ms) happens in."""
    return np.floor((np.asarray(t, dtype=np.float64) + EVENT_SHIFT * dt) / dt).astype(np.int64)


def nearest_step(t: np.ndarray | float, dt: float) -> np.ndarray:
    """The step nearest to time ``t`` (ms): for delays, switching times and run lengths."""
    return np.rint(np.asarray(t, dtype=np.float64) / dt).astype(np.int64)
