"""Round trips with the NIR frameworks themselves: a network built and run in snnTorch
(or Norse), exported by it to NIR, imported here and run on the reference, gives the
same spikes.  torch is an optional dependency (the `nir-frameworks` extra, part of the
default set-up): without it these tests skip and say why."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed: pip install -e '.[nir-frameworks]'")
snn = pytest.importorskip(
    "snntorch", reason="snnTorch is not installed: pip install -e '.[nir-frameworks]'")

import nir  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.utils import reset  # noqa: E402

from toolchain import nir as tn  # noqa: E402
from toolchain.nir.run import run_graph  # noqa: E402

STEPS = 400


def _snntorch_net(seed: int, sizes: tuple[int, ...], beta: float) -> torch.nn.Sequential:
    """Linear -> Leaky layers (reset to zero, the reset NIR's LIF has), one beta and
    threshold per neuron so that snnTorch's export gives every node its shape."""
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:], strict=False):
        fc = torch.nn.Linear(n_in, n_out, bias=False)
        with torch.no_grad():
            fc.weight.mul_(2.0)
        layers += [fc, snn.Leaky(beta=torch.full((n_out,), beta), threshold=torch.ones(n_out),
                                 init_hidden=True, reset_mechanism="zero")]
    return torch.nn.Sequential(*layers)


def _run_snntorch(net: torch.nn.Sequential, x: torch.Tensor) -> dict[int, np.ndarray]:
    """Spikes of every Leaky layer (by its index in the Sequential), (steps, n)."""
    reset(net)  # the export ran the network once on its sample
    spikes: dict[int, list[np.ndarray]] = {}
    for i, layer in enumerate(net):
        if isinstance(layer, snn.Leaky):
            layer.register_forward_hook(
                lambda _m, _in, out, i=i: spikes.setdefault(i, []).append(out[0].numpy()))
    with torch.no_grad():
        for t in range(x.shape[0]):
            net(x[t])
    return {i: np.array(s).astype(np.int64) for i, s in spikes.items()}


@pytest.mark.parametrize("seed,beta", [(0, 0.9), (1, 0.95), (2, 0.99)])
def test_snntorch_export_runs_with_the_same_spikes(tmp_path, seed, beta):
    """snnTorch's Leaky is forward Euler of NIR's LIF (beta = 1 - dt/tau): imported with
    scheme 'euler' every spike of every layer is the same; with NIR's exact solution the
    graph is a different (continuous-time) network and some spikes move."""
    net = _snntorch_net(seed, (10, 16, 6), beta)
    x = (torch.rand(STEPS, 1, 10, generator=torch.Generator().manual_seed(seed)) < 0.25
         ).float()
    graph = export_to_nir(net, x[0], ignore_dims=[0])
    expected = _run_snntorch(net, x)
    path = tmp_path / "snntorch.nir"
    nir.write(str(path), graph)  # through a file, as a user hands it over
    counts = {"input": x[:, 0].numpy().astype(np.int64)}
    got = run_graph(tn.load(path, dt=0.1, scheme="euler"), counts, "reference")
    for i, spikes in expected.items():
        assert spikes.sum() > 30, i  # every layer is driven
        np.testing.assert_array_equal(got.spikes[str(i)], spikes, err_msg=f"layer {i}")
    exact = run_graph(tn.load(path, dt=0.1), counts, "reference")
    assert any(not np.array_equal(exact.spikes[str(i)], s) for i, s in expected.items())
