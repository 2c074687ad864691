"""Vectorised connection building for PyNN's connectors.

PyNN's generic connectors call ``Projection._convergent_connect`` once per target neuron;
at the scale of a cortical microcircuit (77k neurons, 0.3 billion synapses) that loop,
not the simulation, is what costs the time (FACTS.md, "Peer figures": 125 of 130 s of
VAbenchmarks on pyNN.brian2 are network building).  Here each standard connector draws
all of its synapses with numpy, block by block so that no dense pre x post matrix is ever
built, and returns int32 index arrays ordered by target then source (PyNN's order;
FixedTotalNumberConnector's by source, see there).

A connector without a builder here still works: the projection falls back to PyNN's own
``connector.connect`` and collects its per-target calls.  Random connectivity is drawn
from streams seeded by the connector's RNG but not in PyNN's order (the statistics are the
same); random weights and delays are drawn from the distribution's own RNG in PyNN's order,
so with deterministic connectivity (all-to-all, one-to-one, lists, arrays) a seeded script
gets exactly the values other PyNN backends get (each parameter from an RNG of its own,
and no clipped value redrawn: PyNN draws target by target, weight then delay).  A
distribution sharing the RNG of a random connector draws from a stream of its own
(:func:`own_stream`, Projection._synapse_values).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import numpy as np
from pyNN import connectors as pc
from pyNN.parameters import LazyArray
from pyNN.random import AbstractRNG, NumpyRNG, RandomDistribution

from toolchain.ir.network import INDEX_DTYPE, SYNAPSE_DTYPE

# Elements (pre x post block entries, or synapses) handled per numpy call: large enough to
# amortise Python overhead, small enough (32 MB of float64) to keep peak memory flat.
BLOCK = 1 << 22

Pairs = tuple[np.ndarray, np.ndarray]


class ConnectorError(ValueError):
    """A connector that cannot make the connections it was asked for."""


# --------------------------------------------------------------------------- helpers


def cell_ids(cells: object) -> np.ndarray:
    """Global cell IDs of a Population, PopulationView or Assembly, as int64."""
    return np.fromiter((int(c) for c in cells.all_cells), dtype=np.int64,
                       count=len(cells.all_cells))


def _same_cells(projection: object) -> tuple[np.ndarray, np.ndarray] | None:
    """The pre and post ID arrays when the two sides share cells (else None)."""
    pre, post = cell_ids(projection.pre), cell_ids(projection.post)
    if np.intersect1d(pre, post).size == 0:
        return None
    return pre, post


def _post_blocks(n_pre: int, n_post: int) -> Iterator[tuple[int, int]]:
    width = max(1, BLOCK // max(n_pre, 1))
    for j0 in range(0, n_post, width):
        yield j0, min(n_post, j0 + width)


def _uniform(rng: AbstractRNG, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    if n == 0:
        return np.zeros(shape)
    return np.asarray(rng.next(n, "uniform", {"low": 0.0, "high": 1.0})).reshape(shape)


def derived_seed(rng: AbstractRNG) -> int:
    """A seed drawn from a PyNN RNG (one draw), so that streams derived from it keep a
    seeded script reproducible."""
    inner = getattr(rng, "rng", None)
    if isinstance(inner, np.random.Generator):  # spikeport's NativeRNG
        return int(inner.integers(0, 2**31 - 1))
    if isinstance(rng, NumpyRNG):
        return int(rng.rng.randint(0, 2**31 - 1))
    return int(rng.next(1, "uniform_int", {"low": 0, "high": 2**31 - 1})[0])


def numpy_generator(rng: AbstractRNG) -> np.random.Generator:
    """A fast numpy Generator seeded from a PyNN RNG, for bulk draws: PCG64 with ziggurat
    normals is several times faster than the legacy RandomState behind NumpyRNG, which
    matters at 10^8 synapses."""
    return np.random.default_rng(derived_seed(rng))


def _randint(gen: np.random.Generator, high: int, size: int) -> np.ndarray:
    out = np.empty(size, dtype=INDEX_DTYPE)
    for k in range(0, size, BLOCK):
        n = min(BLOCK, size - k)
        out[k:k + n] = gen.integers(0, high, size=n, dtype=INDEX_DTYPE)
    return out


def _redraw(values: np.ndarray, idx: np.ndarray, gen: np.random.Generator, high: int,
            bad: Callable[[np.ndarray], np.ndarray]) -> None:
    """Redraw, in place, ``values[idx]`` (positions found bad) from [0, high), and again
    those that ``bad(positions)`` still marks, until none is marked."""
    while idx.size:
        values[idx] = _randint(gen, high, idx.size)
        idx = idx[bad(idx)]


def _from_mask(mask_by_post: np.ndarray, j0: int) -> Pairs:
    """Pairs from a (posts x pres) boolean block, in target-then-source order."""
    post, pre = np.nonzero(mask_by_post)
    return pre.astype(INDEX_DTYPE), (post + j0).astype(INDEX_DTYPE)


def _concat(parts: list[Pairs]) -> Pairs:
    if not parts:
        return np.zeros(0, INDEX_DTYPE), np.zeros(0, INDEX_DTYPE)
    return (np.concatenate([p for p, _ in parts]).astype(INDEX_DTYPE, copy=False),
            np.concatenate([q for _, q in parts]).astype(INDEX_DTYPE, copy=False))


def _by_post(pre: np.ndarray, post: np.ndarray) -> Pairs:
    order = np.lexsort((pre, post))
    return pre[order], post[order]


def _self_filter(projection: object, allow: bool | str) -> Callable | None:
    """A function (pre, post, j0) -> keep mask for the self-connection option, or None."""
    if allow is True:
        return None
    same = _same_cells(projection)
    if same is None:
        return None
    pre_ids, post_ids = same
    if allow == "NoMutual":
        if projection.pre is not projection.post:
            raise ConnectorError(
                f"Projection '{projection.label}': allow_self_connections='NoMutual' needs the "
                "same Population on both sides"
            )
        return lambda pre, post: pre > post
    return lambda pre, post: pre_ids[pre] != post_ids[post]


def _block_filter(keep: Callable | None, n_pre: int, j0: int, j1: int) -> np.ndarray | None:
    if keep is None:
        return None
    pre = np.arange(n_pre)[None, :]
    post = np.arange(j0, j1)[:, None]
    return keep(pre, post)


# --------------------------------------------------------------------------- builders


def _masked(projection: object, allow: bool | str, mask: Callable) -> Pairs:
    """Pairs from ``mask(j0, j1)``, a (posts x pres) boolean block per block of targets,
    less the self-connections ``allow`` forbids."""
    n_pre, n_post = projection.pre.size, projection.post.size
    keep = _self_filter(projection, allow)
    parts = []
    for j0, j1 in _post_blocks(n_pre, n_post):
        block = mask(j0, j1)
        allowed = _block_filter(keep, n_pre, j0, j1)
        if allowed is not None:
            block &= allowed
        parts.append(_from_mask(block, j0))
    return _concat(parts)


def all_to_all(projection: object, c: pc.AllToAllConnector) -> Pairs:
    n_pre = projection.pre.size
    return _masked(projection, c.allow_self_connections,
                   lambda j0, j1: np.ones((j1 - j0, n_pre), dtype=bool))


def one_to_one(projection: object, c: pc.OneToOneConnector) -> Pairs:
    n = min(projection.pre.size, projection.post.size)
    idx = np.arange(n, dtype=INDEX_DTYPE)
    return idx, idx.copy()


def _probabilistic(projection: object, c: object, probability: Callable) -> Pairs:
    """Connect each pair with the probability ``probability(j0, j1)`` gives per block."""
    n_pre = projection.pre.size
    return _masked(projection, c.allow_self_connections,
                   lambda j0, j1: _uniform(c.rng, (j1 - j0, n_pre)) < probability(j0, j1))


def fixed_probability(projection: object, c: pc.FixedProbabilityConnector) -> Pairs:
    n_pre, n_post = projection.pre.size, projection.post.size
    p = c.p_connect
    if c.allow_self_connections == "NoMutual" or p * 4 > 1 or n_pre * n_post <= BLOCK:
        return _probabilistic(projection, c, lambda j0, j1: p)
    # Large and sparse: a Bernoulli trial per pair is a binomial count per target plus a
    # uniform choice of that many distinct sources; O(synapses), not O(pre x post).
    forbidden = _forbidden(projection, c.allow_self_connections, rows_are_post=True)
    allowed = np.full(n_post, n_pre, dtype=np.int64)
    if forbidden is not None:
        pre_ids, post_ids = _same_cells(projection)
        allowed -= np.isin(post_ids, pre_ids)
    counts = numpy_generator(c.rng).binomial(allowed, min(p, 1.0))
    pre, post = _choose(n_pre, counts, False, c.rng, forbidden,
                        f"Projection '{projection.label}' FixedProbabilityConnector")
    return _by_post(pre, post)


def distance_map(projection: object) -> LazyArray:
    generators = (projection.pre.position_generator, projection.post.position_generator)
    return LazyArray(projection.space.distance_generator(*generators), shape=projection.shape)


def distance_dependent(projection: object,
                       c: pc.DistanceDependentProbabilityConnector) -> Pairs:
    distances = distance_map(projection)

    def probability(j0: int, j1: int) -> np.ndarray:
        d = np.asarray(distances[:, j0:j1], dtype=float).reshape(projection.pre.size, j1 - j0)
        return np.asarray(c.distance_function(d), dtype=float).T

    return _probabilistic(projection, c, probability)


def index_based(projection: object, c: pc.IndexBasedProbabilityConnector) -> Pairs:
    expression = _bound(c.index_expression, projection)
    n_pre = projection.pre.size

    def probability(j0: int, j1: int) -> np.ndarray:
        i = np.tile(np.arange(n_pre), j1 - j0)
        j = np.repeat(np.arange(j0, j1), n_pre)
        return np.asarray(expression(i, j), dtype=float).reshape(j1 - j0, n_pre)

    return _probabilistic(projection, c, probability)


def _bound(expression: object, projection: object) -> object:
    from copy import copy

    bound = copy(expression)
    bound.projection = projection
    return bound


def _counts(n: int | RandomDistribution, size: int, what: str) -> np.ndarray:
    counts = np.full(size, n, dtype=np.int64) if isinstance(n, (int, np.integer)) \
        else np.asarray(n.next(size), dtype=np.int64).reshape(size)
    if counts.size and counts.min() < 0:
        raise ConnectorError(f"{what}: the number of connections must be >= 0, "
                             f"got {int(counts.min())}")
    return counts


def _choose(n_from: int, counts: np.ndarray, with_replacement: bool, rng: AbstractRNG,
            forbidden: Callable | None, what: str) -> Pairs:
    """For each row r, ``counts[r]`` sources out of ``n_from``: (source, row) pairs.

    Without replacement, as PyNN: every allowed source once per full round, then a random
    subset for the remainder.  ``forbidden(src, rows)`` marks disallowed (self) pairs.
    """
    n_rows = counts.size
    # Few sources per row out of many: draw with replacement and redraw the repeats,
    # O(synapses) instead of a random key for every (row, source) pair.
    sparse = counts.size and int(counts.max()) * 4 <= n_from - 1
    if with_replacement or sparse:
        total = int(counts.sum())
        gen = numpy_generator(rng)
        src = _randint(gen, n_from, total)
        rows = np.repeat(np.arange(n_rows, dtype=INDEX_DTYPE), counts)
        if forbidden is not None:
            if n_from < 2 and total:
                raise ConnectorError(f"{what}: cannot avoid self-connections with one cell")
            _redraw(src, np.flatnonzero(forbidden(src, rows)), gen, n_from,
                    lambda i: forbidden(src[i], rows[i]))
        if not with_replacement:
            _redraw_repeats(src, rows, gen, n_from, forbidden)
        return src, rows
    parts = []
    for r0, r1 in _post_blocks(n_from, n_rows):
        keys = _uniform(rng, (r1 - r0, n_from))
        allowed = None
        if forbidden is not None:
            allowed = ~forbidden(np.arange(n_from)[None, :], np.arange(r0, r1)[:, None])
            keys[~allowed] = np.inf
        n_allowed = np.full(r1 - r0, n_from) if allowed is None else allowed.sum(axis=1)
        want = counts[r0:r1]
        if np.any((n_allowed == 0) & (want > 0)):
            raise ConnectorError(f"{what}: no cell is allowed to connect "
                                 "(allow_self_connections=False with one cell)")
        full, rest = np.divmod(want, np.maximum(n_allowed, 1))
        order = np.argsort(keys, axis=1, kind="stable")
        mask = np.arange(n_from)[None, :] < rest[:, None]
        rows, pos = np.nonzero(mask)
        parts.append((order[rows, pos], rows + r0))
        for r in np.flatnonzero(full):  # n > population size: rare, whole rounds first
            everyone = np.arange(n_from) if allowed is None else np.flatnonzero(allowed[r])
            parts.append((np.tile(everyone, full[r]), np.full(everyone.size * full[r], r + r0)))
    src, rows = _concat(parts)
    return src, rows


def _redraw_repeats(src: np.ndarray, rows: np.ndarray, gen: np.random.Generator, n_from: int,
                    forbidden: Callable | None) -> None:
    """Redraw, in place, every source that repeats within its row (rows sorted)."""
    while True:
        order = np.lexsort((src, rows))
        s, r = src[order], rows[order]
        repeat = order[1:][(s[1:] == s[:-1]) & (r[1:] == r[:-1])]
        if repeat.size == 0:
            return
        src[repeat] = _randint(gen, n_from, repeat.size)
        if forbidden is not None:
            _redraw(src, repeat[forbidden(src[repeat], rows[repeat])], gen, n_from,
                    lambda i: forbidden(src[i], rows[i]))


def _forbidden(projection: object, allow: bool | str, rows_are_post: bool) -> Callable | None:
    if allow is True:
        return None
    same = _same_cells(projection)
    if same is None:
        return None
    pre_ids, post_ids = same
    if rows_are_post:
        return lambda src, rows: pre_ids[src] == post_ids[rows]
    return lambda src, rows: post_ids[src] == pre_ids[rows]


def fixed_number_pre(projection: object, c: pc.FixedNumberPreConnector) -> Pairs:
    what = f"Projection '{projection.label}' FixedNumberPreConnector"
    counts = _counts(c.n, projection.post.size, what)
    forbidden = _forbidden(projection, c.allow_self_connections, rows_are_post=True)
    pre, post = _choose(projection.pre.size, counts, c.with_replacement, c.rng,
                        forbidden, what)
    return _by_post(pre, post)


def fixed_number_post(projection: object, c: pc.FixedNumberPostConnector) -> Pairs:
    what = f"Projection '{projection.label}' FixedNumberPostConnector"
    counts = _counts(c.n, projection.pre.size, what)
    forbidden = _forbidden(projection, c.allow_self_connections, rows_are_post=False)
    post, pre = _choose(projection.post.size, counts, c.with_replacement, c.rng,
                        forbidden, what)
    return _by_post(pre.astype(INDEX_DTYPE), post.astype(INDEX_DTYPE))


def fixed_total_number(projection: object, c: pc.FixedTotalNumberConnector) -> Pairs:
    """``n`` synapses over the whole pre x post matrix, in source order (the order of the
    engine's rows by pre neuron, and the order pyNN.nest lists connections in).

    PyNN's own connector draws one source and one target per synapse; the pairs here are
    distributed alike (each synapse's source and target uniform and independent, or
    distinct pairs without replacement), drawn in bulk.  Source order lets every
    simulator take the IR's arrays as its rows without sorting 10^8 synapses again."""
    n_pre, n_post = projection.pre.size, projection.post.size
    what = f"Projection '{projection.label}' FixedTotalNumberConnector"
    n = int(_counts(c.n, 1, what)[0])
    gen = numpy_generator(c.rng)
    keep = _self_filter(projection, c.allow_self_connections)
    if c.with_replacement:
        # Each synapse picks its source uniformly: the per-source counts are multinomial,
        # which gives the synapses already sorted by source.
        counts = gen.multinomial(n, np.full(n_pre, 1.0 / n_pre))
        pre = np.repeat(np.arange(n_pre, dtype=INDEX_DTYPE), counts)
        post = _randint(gen, n_post, n)
        if keep is not None:
            if n_post < 2 and n:
                raise ConnectorError(f"{what}: cannot avoid self-connections with one cell")
            _redraw(post, np.flatnonzero(~keep(pre, post)), gen, n_post,
                    lambda i: ~keep(pre[i], post[i]))
        return pre, post
    n_cells = n_pre * n_post
    if n > n_cells:
        raise ConnectorError(
            f"{what}: n = {n} synapses without replacement exceeds the {n_cells} possible "
            "pairs; lower n or pass with_replacement=True"
        )
    flat = np.sort(gen.choice(n_cells, size=n, replace=False))
    pre, post = np.divmod(flat, n_post)
    pre, post = pre.astype(INDEX_DTYPE), post.astype(INDEX_DTYPE)
    if keep is not None:
        ok = keep(pre, post)
        pre, post = pre[ok], post[ok]
    return pre, post


def array_connector(projection: object, c: pc.ArrayConnector) -> Pairs:
    array = np.asarray(c.array, dtype=bool)
    if array.shape != projection.shape:
        raise ConnectorError(
            f"Projection '{projection.label}' ArrayConnector: array has shape {array.shape}, "
            f"the projection has shape {projection.shape} (pre size, post size)"
        )
    return _from_mask(array.T, 0)


def small_world(projection: object, c: pc.SmallWorldConnector) -> Pairs:
    """Watts-Strogatz: link cells closer than ``degree``, then rewire each link's target
    with probability ``rewiring`` to a uniformly chosen cell.  With ``n_connections``,
    each source keeps that many of its local links (chosen at random) before rewiring."""
    degree = float(c.d_expression.split("<")[1])
    distances = distance_map(projection)
    local = _probabilistic(
        projection, c,
        lambda j0, j1: (np.asarray(distances[:, j0:j1], dtype=float)
                        .reshape(projection.pre.size, j1 - j0) < degree).T.astype(float),
    )
    pre, post = local
    if c.n_connections is not None:
        keys = _uniform(c.rng, (pre.size,))
        order = np.lexsort((keys, pre))
        pre, post = pre[order], post[order]
        starts = np.searchsorted(pre, pre, side="left")
        rank = np.arange(pre.size) - starts
        chosen = rank < int(c.n_connections)
        pre, post = pre[chosen], post[chosen]
    rewire = np.flatnonzero(_uniform(c.rng, (pre.size,)) < c.rewiring)
    gen = numpy_generator(c.rng)
    post = post.copy()
    post[rewire] = _randint(gen, projection.post.size, rewire.size)
    keep = _self_filter(projection, c.allow_self_connections)
    if keep is not None:
        _redraw(post, rewire[~keep(pre[rewire], post[rewire])], gen, projection.post.size,
                lambda i: ~keep(pre[i], post[i]))
    return _by_post(pre.astype(INDEX_DTYPE), post.astype(INDEX_DTYPE))


def clone(projection: object, c: pc.CloneConnector) -> Pairs:
    ref = c.reference_projection
    if ref.pre != projection.pre or ref.post != projection.post:
        raise ConnectorError(
            f"Projection '{projection.label}' CloneConnector: the reference projection "
            f"'{ref.label}' connects other populations; pre and post must be the same"
        )
    return ref._pre_index.copy(), ref._post_index.copy()


BUILDERS: dict[type, Callable[[object, object], Pairs]] = {
    pc.AllToAllConnector: all_to_all,
    pc.OneToOneConnector: one_to_one,
    pc.FixedProbabilityConnector: fixed_probability,
    pc.DistanceDependentProbabilityConnector: distance_dependent,
    pc.IndexBasedProbabilityConnector: index_based,
    pc.DisplacementDependentProbabilityConnector: index_based,
    pc.FixedNumberPreConnector: fixed_number_pre,
    pc.FixedNumberPostConnector: fixed_number_post,
    pc.FixedTotalNumberConnector: fixed_total_number,
    pc.ArrayConnector: array_connector,
    pc.SmallWorldConnector: small_world,
    pc.CloneConnector: clone,
}


# --------------------------------------------------------------------------- values


def _draw(distribution: RandomDistribution, n: int, out: np.ndarray, operations: Callable[
        [np.ndarray], np.ndarray], plain: bool) -> None:
    """``n`` values from the distribution's own PyNN RNG, in synapse order (target, then
    source), block by block.  That is the order in which PyNN's own backends draw a
    projection's values, so a seeded script gets the very same weights and delays on
    spikeport as on pyNN.brian2 (the legacy RandomState behind NumpyRNG costs about
    1.7x a PCG64 Generator per value).  A spikeport NativeRNG fills float32 blocks in
    place (NativeRNG.fill) where it can; ``plain``: no operations to apply after."""
    from toolchain.pynn.random import NativeRNG

    rng = distribution.rng
    fills = isinstance(rng, NativeRNG) and distribution.name in NativeRNG.FILLS \
        and out.dtype == np.float32
    for k in range(0, n, BLOCK):
        m = min(BLOCK, n - k)
        if fills:
            rng.fill(distribution.name, distribution.parameters, out[k:k + m])
            if not plain:
                out[k:k + m] = operations(out[k:k + m].astype(float))
        else:
            out[k:k + m] = operations(np.asarray(distribution.next(m), dtype=float))


def own_stream(distribution: RandomDistribution, key: str) -> RandomDistribution:
    """The same distribution drawn by a spikeport ``NativeRNG`` (PCG64) seeded from the
    distribution's RNG and ``key`` (the parameter's name), for values that PyNN's stream
    would not make PyNN's anyway (Projection._shares_connector_rng).  About twice as fast
    as NumpyRNG's legacy Mersenne Twister normals; and PyNN hands every parameter its own
    copy of the script's RNG, so without the key a weight and a delay drawn from one RNG
    would be drawn from one sequence (correlated, synapse by synapse)."""
    from toolchain.pynn.random import NativeRNG

    seed = np.random.SeedSequence([derived_seed(distribution.rng), zlib.crc32(key.encode())])
    native = NativeRNG(seed=int(seed.generate_state(1, dtype=np.uint32)[0]))
    return RandomDistribution(distribution.name, rng=native, **distribution.parameters)


def values_at(values: LazyArray, pre: np.ndarray, post: np.ndarray,
              dtype: type = SYNAPSE_DTYPE, fast_stream: str | None = None) -> np.ndarray:
    """Evaluate a (pre x post) lazy parameter map at the given synapses, without ever
    materialising the whole map: constants fill, random distributions draw one value per
    synapse (through :func:`own_stream` keyed ``fast_stream``, if given), arrays are indexed, and
    anything else (distance or index expressions) is evaluated block by block of targets.
    ``post`` must be sorted for the last case."""
    n = pre.size
    out = np.empty(n, dtype=dtype)
    if n == 0:
        return out
    if values.is_homogeneous:
        out[:] = values.evaluate(simplify=True)
        return out
    base = values.base_value
    plain_ops = all(not isinstance(arg, LazyArray) for _, arg in values.operations)
    if isinstance(base, RandomDistribution) and plain_ops:
        if fast_stream is not None:
            base = own_stream(base, fast_stream)
        _draw(base, n, out, values._apply_operations, not values.operations)
        return out
    if isinstance(base, np.ndarray) and base.ndim == 2 and plain_ops:
        for k in range(0, n, BLOCK):
            m = min(BLOCK, n - k)
            out[k:k + m] = values._apply_operations(base[pre[k:k + m], post[k:k + m]])
        return out
    if n > 1 and np.any(np.diff(post) < 0):
        order = np.argsort(post, kind="stable")
        out[order] = values_at(values, pre[order], post[order], dtype, fast_stream)
        return out
    n_pre = values.shape[0]
    bounds = np.searchsorted(post, [j0 for j0, _ in _post_blocks(n_pre, int(post[-1]) + 1)])
    bounds = np.append(bounds, n)
    for k0, k1 in zip(bounds[:-1], bounds[1:], strict=True):
        if k0 == k1:
            continue
        j0, j1 = int(post[k0]), int(post[k1 - 1]) + 1
        # a distance or index function may give one value for the whole block
        block = np.broadcast_to(np.asarray(values[:, j0:j1], dtype=float), (n_pre, j1 - j0))
        out[k0:k1] = block[pre[k0:k1], post[k0:k1] - j0]
    return out
