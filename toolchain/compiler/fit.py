"""Fit policies: what a compile does with a network that breaks one of a target's limits.

``strict`` (the default) refuses it, naming the limit (a :class:`Violation`); ``approximate``
lets the target apply the approximations it documents, each of which changes what the
network computes in a known, bounded way, and records every one it applied as an
:class:`~toolchain.compiler.artifact.Approximation` in the artifact (the compile report,
its JSON and the portability table list them, with how many neurons and synapses each
touched).  Nothing is approximated unless asked for.

The approximations more than one target needs are written here once:

* :func:`keep_strongest`: a neuron whose fan-in exceeds what its core stores keeps its
  strongest synapses (DYNAP-SE's 64 CAM words per neuron);
* :func:`merge_close`: parameters a target shares between neurons (per-core biases, one
  decay register per compartment group) that differ by less than :data:`MERGE_RTOL` become
  their mean;
* :func:`shorten_delays`: delays beyond the longest a target stores become that longest
  delay.

A compile that approximates returns an artifact whose ``network`` is the network as the
target runs it (merged parameters, shortened delays), so every simulator runs what the
hardware would; ``artifact.approximations`` says what changed from the network it was
given.  (DYNAP-SE's fan-in pruning is the exception that keeps the synapse arrays as they
are: a dropped synapse is one the chip realises with weight 0, so weights read back in the
network's synapse order.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from toolchain.compiler.artifact import Approximation
from toolchain.ir import Network, Population

STRICT = "strict"
APPROXIMATE = "approximate"
FIT_POLICIES = (STRICT, APPROXIMATE)
#: how the user asks for the approximations, for fix hints (the option and its flag)
FIT_HINT = "fit='approximate' (--fit approximate, -O fit=approximate)"

# Parameters that differ by less than this (relative to their mean) are merged into one
# shared value under fit=approximate.  10 % is below DYNAP-SE's own device mismatch of
# time constants (10-20 %, FACTS.md), so a merged network is no further from the float
# reference than the chip itself is from its nominal parameters.
MERGE_RTOL = 0.10


def fit_hint(what: str) -> str:
    """The part of a fix that names the approximation a target would apply: ``"let the
    compiler <what>: fit='approximate' (...)"``."""
    return f"let the compiler {what}: {FIT_HINT}"


def check_policy(fit: str, what: str = "fit") -> str:
    """``fit`` if it names a policy, else a clear error listing them."""
    if fit not in FIT_POLICIES:
        raise ValueError(f"{what} = {fit!r} is not a fit policy; use one of: "
                         f"{', '.join(FIT_POLICIES)}")
    return fit


# --------------------------------------------------------------------------- fan-in


@dataclass(frozen=True)
class Kept:
    """Which synapses of each incoming projection survive :func:`keep_strongest`."""

    keep: dict[str, np.ndarray]  # projection label -> bool per synapse (IR order)
    neurons: int  # post neurons that lost synapses
    synapses: int  # synapses dropped
    weight_dropped: float  # sum of |w| dropped, relative to the sum of |w| into those neurons

    @property
    def applied(self) -> bool:
        return self.synapses > 0


def keep_strongest(post_size: int, projections: Sequence[tuple[str, np.ndarray, np.ndarray]],
                   limit: int, cost: Sequence[np.ndarray] | None = None) -> Kept:
    """Per post neuron, keep the strongest synapses that fit in ``limit`` units of fan-in.

    ``projections`` are (label, post_index, weight) of every projection into one
    population; ``cost`` the fan-in units each synapse takes (default 1; DYNAP-SE1 spends
    one CAM word per unit of weight).  Synapses are kept by decreasing |weight| while the
    neuron's units fit (ties: the projection listed first, then the lower synapse index),
    so a neuron under the limit keeps everything.
    """
    if not projections:
        return Kept({}, 0, 0, 0.0)
    sizes = [p[1].size for p in projections]
    post = np.concatenate([p[1] for p in projections]).astype(np.int64)
    w = np.abs(np.concatenate([p[2] for p in projections]).astype(np.float64))
    units = (np.concatenate([np.asarray(c, np.float64) for c in cost]) if cost is not None
             else np.ones(post.size))
    # strongest first within each neuron: sort by neuron, then by decreasing |w|
    order = np.lexsort((np.arange(post.size), -w, post))
    cum = np.cumsum(units[order])
    start = np.searchsorted(post[order], np.arange(post_size))
    before = np.concatenate([[0.0], cum])[start]  # units of earlier neurons
    used = cum - before[post[order]]
    keep = np.zeros(post.size, dtype=bool)
    keep[order] = used <= limit + 1e-9
    dropped = ~keep
    touched = np.unique(post[dropped])
    into = np.bincount(post, weights=w, minlength=post_size)
    lost = np.bincount(post[dropped], weights=w[dropped], minlength=post_size)
    share = float(lost[touched].sum() / into[touched].sum()) if touched.size else 0.0
    out, a = {}, 0
    for (label, _, _), n in zip(projections, sizes, strict=True):
        out[label] = keep[a:a + n]
        a += n
    return Kept(out, int(touched.size), int(dropped.sum()), share)


# --------------------------------------------------------------------------- parameters


def spread(values: np.ndarray) -> float:
    """(max - min) / |mean| of ``values`` (0 for equal values; inf around a zero mean)."""
    v = np.asarray(values, np.float64)
    if v.size == 0 or v.max() == v.min():
        return 0.0
    mean = abs(float(v.mean()))
    return float(v.max() - v.min()) / mean if mean > 0 else np.inf


def merge_close(values: np.ndarray, rtol: float = MERGE_RTOL) -> np.ndarray | None:
    """``values`` replaced by their mean when their :func:`spread` is within ``rtol``,
    else None (they are too far apart to share one value)."""
    v = np.asarray(values, np.float64)
    if spread(v) > rtol:
        return None
    return np.full(v.shape, float(v.mean()))


@dataclass(frozen=True)
class Merged:
    """A population with some of its parameters merged to one value each."""

    population: Population
    merged: dict[str, tuple[float, float, float]]  # name -> (min, max, merged value)
    too_far: dict[str, float]  # name -> spread, for parameters too far apart to merge
    changed: int = 0  # neurons whose parameters changed

    def approximation(self, target_shares: str) -> Approximation | None:
        """The record of what was merged (None if nothing was)."""
        if not self.merged:
            return None
        parts = ", ".join(f"{k} {lo:g}..{hi:g} -> {value:.6g}"
                          for k, (lo, hi, value) in self.merged.items())
        return approximation(
            "parameters_merged", "population", self.population.label, neurons=self.changed,
            detail=f"{target_shares}, so parameters within {MERGE_RTOL:.0%} of each other "
                   f"were merged to their mean: {parts}")


def merge_parameters(population: Population, names: Iterable[str],
                     rtol: float = MERGE_RTOL) -> Merged:
    """``population`` with each of ``names`` that varies (but within ``rtol``) set to its
    mean; the ones that vary more are listed in ``too_far`` and left as they are."""
    params = dict(population.parameters)
    merged, too_far = {}, {}
    for name in names:
        values = population.parameters[name]
        if values.size == 0 or values.min() == values.max():
            continue
        mean = merge_close(values, rtol)
        if mean is None:
            too_far[name] = spread(values)
            continue
        merged[name] = (float(values.min()), float(values.max()), float(mean[0]))
        params[name] = mean
    if not merged:
        return Merged(population, {}, too_far)
    changed = int(np.count_nonzero(np.any([population.parameters[k] != params[k]
                                           for k in merged], axis=0)))
    return Merged(dataclasses.replace(population, parameters=params), merged, too_far,
                  changed)


# --------------------------------------------------------------------------- delays


def shorten_delays(network: Network, step_ms: float, longest: int, target: str,
                   limit: str = "delay_steps") -> tuple[Network, list[Approximation]]:
    """``network`` with every delay beyond ``longest`` steps of ``step_ms`` set to that
    longest delay, and one record per projection it changed (relieving ``limit``)."""
    projections, applied = [], []
    limit_ms = longest * step_ms
    for proj in network.projections:
        steps = np.rint(proj.delay.astype(np.float64) / step_ms)
        over = steps > longest
        if not over.any():
            projections.append(proj)
            continue
        most = float(proj.delay[over].max())
        projections.append(dataclasses.replace(
            proj, delay=np.where(over, np.float32(limit_ms), proj.delay).astype(np.float32)))
        applied.append(approximation(
            "delays_shortened", "projection", proj.label, synapses=int(over.sum()),
            limit=limit,
            detail=f"{int(over.sum())} delays up to {most:g} ms became {limit_ms:g} ms "
                   f"({longest} steps of {step_ms:g} ms, the longest {target} stores)"))
    if not applied:
        return network, []
    return network.replace(projections=tuple(projections)), applied


def approximation(name: str, element: str, label: str, *, neurons: int = 0, synapses: int = 0,
                  limit: str = "", detail: str) -> Approximation:
    """One applied approximation, for the artifact and the report."""
    return Approximation(name=name, element=element, label=label, limit=limit,
                         neurons=int(neurons), synapses=int(synapses), detail=detail)
