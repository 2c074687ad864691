"""DYNAP-SE on the engine's compiled loop: the DPI kernels and the routing model laid out
for :func:`toolchain.targets.dynapse.loop.run_steps`.

A :class:`~toolchain.targets.dynapse.numerics.dpi.DPIKernel` reaches the engine's loop as a
:class:`~toolchain.sim.fast.Form` of kind DPI (:func:`form`): I_mem as ``v``, the
refractory substeps left as ``last``, one channel per synapse circuit a receptor drives
(its current, decay and signed propagator onto I_mem, its pending input as the inbox) and
I_ahp as the last channel; the mismatched biases stay per-neuron arrays.  The engine then
runs DYNAP-SE's own loop (:data:`LOOP`), which also takes, per run (:meth:`DPILoop.build`):

* the DPI's other parameters: ``substeps``, ``h``, ``fb_on``, ``ahp_on`` per population;
  ``i_floor``, ``i_exp``, ``inv_fb``, ``fb_slope``, ``j_ahp`` per neuron; ``chan_gain``
  (circuit current per unit of input) per channel value; ``ring_scale`` (the receptor's
  scale) per ring; ``fired_at`` (each neuron's spiking substep in the last step);
* the routing model, :class:`~toolchain.targets.dynapse.timing.RoutingDelays` (``route``:
  False on the ideal interconnect): ``arbiter`` per node neuron (at ``node_offset``; the
  host link is the last arbiter), ``latency`` per projection and pre neuron (at
  ``lat_offset``), the arbiters' ``busy`` times (the model's own array, kept in place),
  ``cycle``, ``dt_ns``, ``max_extra``, ``stats`` (latency sum and maximum, queue wait
  maximum, routed spikes) and per projection the steps it routed, the spikes it dropped
  and shifted (the engine's counters).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from toolchain.sim import fast
from toolchain.sim.interconnect import IdealInterconnect
from toolchain.targets.dynapse.receptors import key
from toolchain.targets.dynapse.spec import SynapseType
from toolchain.targets.dynapse.timing import MAX_EXTRA_STEPS, RoutingDelays

_STATS = ("route_latency_ns_sum", "route_latency_ns_max", "queue_wait_ns_max",
          "routed_spikes")
AHP = "i_ahp"


def form(kernel: object) -> fast.Form:
    """A DPIKernel in the engine's compiled loop's terms (see the module docstring)."""
    p, n = kernel.params, kernel.size
    rows = kernel._rows
    channels = [(SynapseType(r).name.lower(), kernel.i_syn[r], kernel._p_ss[r],
                 kernel._p_ms[j]) for j, r in enumerate(rows)]
    channels.append((AHP, kernel.i_ahp, kernel._p_aa, 0.0))
    inbox = [kernel._pending[r] for r in rows] + [np.zeros(n)]
    feeds = {name: SynapseType(c.type).name.lower() for name, c in kernel.circuits.items()}

    def voltage(raw: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return p.v_low[idx] + (raw - p.i_floor[idx]) / p.kappa[idx]

    def adaptation(raw: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return raw / p.ahp_gain[idx]

    def current(circuit: object) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        row = int(circuit.type)
        return lambda raw, idx: circuit.weight_sign * raw / (p.gain[row][idx] * circuit.scale)

    signals: dict[str, tuple[str | None, Callable | None]] = {}
    for variable in kernel.population.state_variables:
        circuit = kernel._readback.get(variable)
        if variable == "v":
            signals[variable] = (None, voltage)
        elif variable == "w":
            signals[variable] = (AHP, adaptation)
        elif circuit is not None:
            signals[variable] = (SynapseType(circuit.type).name.lower(), current(circuit))
        else:  # a receptor no projection uses: no circuit, no current
            signals[variable] = (None, lambda raw, idx: np.zeros_like(raw))
    return fast.Form(fast.DPI, kernel.i_mem, kernel._refrac_left, kernel._refrac_sub,
                     p.i_spk, p.i_reset, kernel._p_mm, kernel._rest, channels, feeds,
                     inbox=inbox, signals=signals, loop=LOOP)


class DPILoop:
    """DYNAP-SE's own step loop, for the engine (``Form.loop`` of a DPI kernel)."""

    def refusal(self, engine: object) -> str | None:
        ic = engine.interconnect
        if not isinstance(ic, (IdealInterconnect, RoutingDelays)):
            return f"the interconnect model {type(ic).__name__}"
        return None

    def build(self, engine: object, plan: fast.Plan, forms: list[fast.Form]) -> fast.Loop:
        from toolchain.sim.loop import run_steps as shared
        from toolchain.targets.dynapse.loop import run_steps

        kernels = [engine.kernels[label] for label in plan.pops]

        def per_neuron(name: str) -> np.ndarray:
            return np.concatenate([getattr(k.params, name) for k in kernels] or [np.zeros(0)])

        gain = np.zeros(int(plan.chan_offset[-1]))
        c = 0
        for k in kernels:
            for r in k._rows:
                gain[plan.chan_offset[c]:plan.chan_offset[c + 1]] = k.params.gain[r]
                c += 1
            c += 1  # (I_ahp)
        extra = {
            "substeps": np.array([k.substeps for k in kernels], np.int64),
            "h": np.array([k.h for k in kernels], np.float64),
            "fb_on": np.array([k._fb_on for k in kernels], np.bool_),
            "ahp_on": np.array([k._ahp_on for k in kernels], np.bool_),
            "i_floor": per_neuron("i_floor"), "i_exp": per_neuron("i_exp"),
            "inv_fb": np.concatenate([k._inv_fb for k in kernels] or [np.zeros(0)]),
            "fb_slope": per_neuron("fb_slope"), "j_ahp": per_neuron("j_ahp"),
            "chan_gain": gain,
            "ring_scale": np.array([engine.kernels[post].circuits[key(r)].scale
                                    for post, r in engine.rings], np.float64),
            "fired_at": np.full(int(plan.pop_offset[-1]), -1, np.int64),
            **_routing(engine, plan),
        }
        names = list(inspect.signature(shared.py_func).parameters)
        wanted = list(inspect.signature(run_steps.py_func).parameters)

        def run(*args: object) -> tuple[int, int]:
            # the shared loop's arguments by name: either loop can take new ones
            given = dict(zip(names, args, strict=True))
            return run_steps(*[given[n] if n in given else extra[n] for n in wanted])

        def done(k1: int) -> dict[str, float]:
            fired_at = extra["fired_at"]
            for k, a, b in zip(kernels, plan.pop_offset[:-1], plan.pop_offset[1:],
                               strict=True):
                at = fired_at[a:b]
                k.spike_offsets = (at[at >= 0] + 0.5) * k.h
            if not extra["route"]:
                return {}
            ic = engine.interconnect
            ic.stats.update(zip(_STATS, extra["stats"].tolist(), strict=True))
            counters: dict[str, float] = {}
            for i, label in enumerate(plan.proj_labels):
                if extra["proj_routed"][i]:
                    for what, n in (("dropped", extra["proj_dropped"][i]),
                                    ("shifted", extra["proj_shifted"][i])):
                        counters[f"spikes_{what}/{label}"] = float(n)
                        counters[f"spikes_{what}"] = counters.get(f"spikes_{what}", 0.0) + n
            return counters

        return fast.Loop(run, done)


def _routing(engine: object, plan: fast.Plan) -> dict[str, object]:
    """The routing model's arrays (see the module docstring)."""
    ic = engine.interconnect
    nodes = [*plan.pops, *plan.sources]
    sizes = [engine.network.node(label).size for label in nodes]
    node_offset = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n_proj = len(plan.proj_labels)
    counts = {"proj_routed": np.zeros(n_proj, np.int64),
              "proj_dropped": np.zeros(n_proj, np.int64),
              "proj_shifted": np.zeros(n_proj, np.int64)}
    if not isinstance(ic, RoutingDelays):
        return {"route": False, "node_offset": node_offset,
                "arbiter": np.zeros(node_offset[-1], np.int64),
                "lat_offset": np.zeros(n_proj, np.int64), "latency": np.zeros(0),
                "busy": np.zeros(1), "cycle": 0.0, "dt_ns": 1.0, "max_extra": 0,
                "stats": np.zeros(len(_STATS)), **counts}
    host = ic.spec.cores
    arbiter = np.concatenate([np.where(ic.arbiter[label] >= 0, ic.arbiter[label], host)
                              for label in nodes] or [np.zeros(0)]).astype(np.int64)
    latency = [np.asarray(ic.latency[label], np.float64) for label in plan.proj_labels]
    lat_offset = np.concatenate([[0], np.cumsum([x.size for x in latency])])[:-1]
    return {"route": True, "node_offset": node_offset, "arbiter": arbiter,
            "lat_offset": lat_offset.astype(np.int64),
            "latency": np.concatenate(latency or [np.zeros(0)]), "busy": ic._busy,
            "cycle": float(ic.spec.arbitration_cycle), "dt_ns": float(ic.dt_ns),
            "max_extra": MAX_EXTRA_STEPS, "stats": np.array([ic.stats[s] for s in _STATS]),
            **counts}


LOOP = DPILoop()
