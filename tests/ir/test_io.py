import json
import math
import zipfile

import numpy as np
import pytest

from toolchain.ir import (
    ArraySource,
    DCSource,
    FormatError,
    Network,
    PoissonSource,
    Population,
    Projection,
    Recording,
    STDPRule,
    StepCurrentSource,
    load,
    save,
)
from toolchain.ir.network import NODE_TYPES


def every_node_type() -> Network:
    """A network that holds at least one instance of every IR node type."""
    pops = (
        Population("a", "IF_curr_exp", 3, parameters={"tau_m": [5.0, 10.0, 15.0]},
                   initial_values={"v": [-70.0, -65.0, -60.0]}),
        Population("b", "IF_cond_exp", 2),
        Population("c", "IF_curr_alpha", 1),
    )
    sources = (
        PoissonSource("p", 2, rate=[5.0, 10.0], start=[0.0, 10.0],
                      duration=[math.inf, 50.0], seed=11),
        ArraySource.from_lists("s", [[1.0, 2.5], [], [0.3]]),
    )
    stdp = STDPRule(tau_plus=16.8, tau_minus=33.7, A_plus=0.005, A_minus=0.006, w_min=0.0,
                    w_max=0.04, weight_dependence="multiplicative")
    projections = (
        Projection("p->a", "p", "a", [0, 1], [2, 0], [0.1, 0.2], [1.0, 2.0]),
        Projection("s->b", "s", "b", [0, 2], [1, 1], [0.01, 0.02], [0.5, 0.1],
                   receptor="inhibitory", plasticity=stdp),
        Projection("a->c", "a", "c", [], [], [], []),
    )
    currents = (
        DCSource("dc", "a", [0, 2], amplitude=0.5, start=10.0, stop=math.inf),
        StepCurrentSource("step", "b", [1], times=[5.0, 10.0], amplitudes=[0.2, -0.1]),
    )
    recordings = (
        Recording("a", "spikes", [0, 1, 2]),
        Recording("b", "gsyn_exc", [1], sampling_interval=1.0),
        Recording("s", "spikes", [0]),
    )
    return Network(dt=0.1, populations=pops, sources=sources, projections=projections,
                   currents=currents, recordings=recordings, seed=42, label="all-types")


def test_fixture_covers_every_node_type():
    net = every_node_type()
    seen = {type(net)}
    for group in (net.populations, net.sources, net.projections, net.currents, net.recordings):
        seen.update(type(x) for x in group)
    seen.update(type(p.plasticity) for p in net.projections if p.plasticity)
    assert seen == set(NODE_TYPES)


@pytest.mark.parametrize("pick", [
    lambda n: n,
    lambda n: n.populations[0],
    lambda n: n.sources[0],
    lambda n: n.sources[1],
    lambda n: n.projections[1],
    lambda n: n.projections[1].plasticity,
    lambda n: n.currents[0],
    lambda n: n.currents[1],
    lambda n: n.recordings[1],
])
def test_round_trip_every_node_type(tmp_path, pick):
    value = pick(every_node_type())
    path = save(value, tmp_path / "x.spnet")
    back = load(path)
    assert type(back) is type(value)
    assert back == value


def test_file_is_a_zip_with_json_manifest_and_npy_members(tmp_path):
    path = save(every_node_type(), tmp_path / "n.spnet")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["format"] == "spikeport" and manifest["version"] == 1
        assert all(n == "manifest.json" or n.startswith("arrays/") for n in zf.namelist())


def _rewrite_manifest(path, edit):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    edit(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_refuses_other_versions_unknown_kinds_and_invalid_values(tmp_path):
    path = save(every_node_type(), tmp_path / "n.spnet")
    _rewrite_manifest(path, lambda m: m.update(version=99))
    with pytest.raises(FormatError, match="format version 99 is not supported"):
        load(path)
    path = save(every_node_type(), tmp_path / "n.spnet")
    _rewrite_manifest(path, lambda m: m["root"].update({"__kind__": "os.system"}))
    with pytest.raises(FormatError, match="unknown object kind 'os.system'"):
        load(path)
    path = save(every_node_type(), tmp_path / "n.spnet")
    _rewrite_manifest(path, lambda m: m["root"].update(dt=-1.0))
    with pytest.raises(FormatError, match="invalid network: Network dt.* is outside"):
        load(path)


def test_never_unpickles(tmp_path):
    path = save(every_node_type(), tmp_path / "n.spnet")
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    import io as _io

    buf = _io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    members["arrays/0.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(FormatError, match="arrays/0.npy is damaged"):
        load(path)


def test_not_a_spikeport_file(tmp_path):
    p = tmp_path / "junk.spnet"
    p.write_bytes(b"hello")
    with pytest.raises(FormatError, match="not a spikeport file"):
        load(p)


def test_expect_type(tmp_path):
    path = save(every_node_type().populations[0], tmp_path / "p.spnet")
    with pytest.raises(FormatError, match="holds a Population, expected Network"):
        load(path, expect=Network)
