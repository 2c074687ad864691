"""Small networks the compiler tests share."""

from __future__ import annotations

import numpy as np

from toolchain.ir import Network, PoissonSource, Population, Projection


def random_projection(rng: np.random.Generator, label: str, pre: str, post: str, n_pre: int,
                      n_post: int, p: float, weight: float | np.ndarray, delay: float = 1.0,
                      **kw) -> Projection:
    i, j = np.nonzero(rng.random((n_pre, n_post)) < p)
    w = np.broadcast_to(np.asarray(weight, dtype=float), i.shape) if np.ndim(weight) == 0 \
        else np.asarray(weight)[: i.size]
    return Projection(label, pre, post, i, j, w, np.full(i.size, delay), **kw)


def poisson(label: str, n: int, rate: float = 10.0) -> PoissonSource:
    return PoissonSource(label, n, rate=np.full(n, rate), start=np.zeros(n),
                         duration=np.full(n, np.inf))


def ei_network(n_exc: int = 3000, n_inh: int = 800, seed: int = 0) -> Network:
    """A balanced E/I network with Poisson input, big enough to need tens of cores."""
    rng = np.random.default_rng(seed)
    return Network(
        dt=0.1,
        populations=(Population("exc", "IF_curr_exp", n_exc),
                     Population("inh", "IF_curr_exp", n_inh)),
        sources=(poisson("noise", 200),),
        projections=(
            random_projection(rng, "ee", "exc", "exc", n_exc, n_exc, 0.02, 0.1),
            random_projection(rng, "ei", "exc", "inh", n_exc, n_inh, 0.05, 0.2),
            random_projection(rng, "ie", "inh", "exc", n_inh, n_exc, 0.05, -0.5, delay=0.75),
            random_projection(rng, "noise_e", "noise", "exc", 200, n_exc, 0.1, 0.3),
        ),
        label="ei",
    )


def chain_network(n_pops: int = 6, size: int = 300, seed: int = 1) -> Network:
    """Populations connected in a ring, listed in a scrambled order: placement should find
    the ring and beat in-order placement."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_pops)
    labels = [f"p{k}" for k in range(n_pops)]
    pops = tuple(Population(labels[k], "IF_curr_exp", size) for k in order)
    projs = tuple(
        random_projection(rng, f"{labels[k]}_to_{labels[(k + 1) % n_pops]}", labels[k],
                          labels[(k + 1) % n_pops], size, size, 0.5, 0.1)
        for k in range(n_pops)
    )
    return Network(dt=0.1, populations=pops, projections=projs, label="ring")
