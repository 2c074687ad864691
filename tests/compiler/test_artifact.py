import json
import zipfile

import numpy as np
import pytest

from tests.compiler.nets import ei_network
from toolchain.compiler import CompiledNetwork, Cores, Placement
from toolchain.compiler.report import render_report
from toolchain.ir import FormatError, load, save
from toolchain.targets.loihi import LoihiTarget


@pytest.fixture(scope="module")
def art():
    return LoihiTarget(board="loihi1").compile(ei_network(n_exc=600, n_inh=150))


def test_artifact_round_trips_through_the_versioned_format(art, tmp_path):
    path = save(art, tmp_path / "net.spz")
    back = load(path, expect=CompiledNetwork)
    assert back == art
    assert render_report(back) == render_report(art)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["root"]["__kind__"] == "compiled_network"
    assert all(n == "manifest.json" or n.endswith(".npy") for n in names)


def test_tampered_artifact_is_refused_with_the_reason(art, tmp_path):
    path = save(art, tmp_path / "net.spz")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        members = {n: zf.read(n) for n in zf.namelist()}
    # point the placement's chip column at an array of another length (the first one saved)
    manifest["root"]["placement"]["chip"] = {"__array__": 0}
    bad = tmp_path / "bad.spz"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, json.dumps(manifest) if n == "manifest.json" else data)
    with pytest.raises(FormatError, match="invalid placement: Placement: columns differ"):
        load(bad)


def test_core_table_columns_must_agree_in_length():
    with pytest.raises(ValueError, match=r"Cores: columns differ in length \[1, 2\]"):
        Cores(population=[0, 0], start=[0, 5], stop=[5, 10], input_axons=[1],
              output_axons=[1, 1], synapses=[1, 1], synapse_bits=[1, 1], neuron_configs=[1, 1],
              threshold_configs=[1, 1], synapse_configs=[1, 1], learning_configs=[1, 1])


def test_artifact_arrays_are_read_only(art):
    with pytest.raises(ValueError):
        art.cores.input_axons[0] = 0
    assert isinstance(art.placement, Placement)


def test_core_of_neuron_covers_each_population(art):
    for pop in art.network.populations:
        cores = art.core_of_neuron(pop.label)
        assert cores.min() >= 0
        assert np.all(np.diff(cores) >= 0)
