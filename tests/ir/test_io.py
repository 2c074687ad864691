import json
import math
import zipfile

import numpy as np
import pytest

from toolchain.ir import (
    ACSource,
    ArraySource,
    DCSource,
    FormatError,
    GammaSource,
    InhGammaSource,
    MultiQuantal,
    Network,
    NoisyCurrentSource,
    PoissonRefractorySource,
    PoissonSource,
    Population,
    PostSynapticResponse,
    Projection,
    Recording,
    SimpleStochastic,
    STDPRule,
    StepCurrentSource,
    StochasticTsodyksMarkram,
    TsodyksMarkram,
    Vogels2011Rule,
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
        Population("gif", "GIF_cond_exp", 2, parameters={"tau_eta": [2.0, 20.0],
                                                         "a_eta": [[0.1, 0.2], [0.3, 0.4]]}),
        Population("pn", "AdExp", 2, receptors=(
            PostSynapticResponse("AMPA", "cond_alpha", {"tau_syn": [1.0, 2.0]}),
            PostSynapticResponse("GABAB", "cond_beta", {"tau_rise": 1.0, "tau_decay": 50.0,
                                                        "e_syn": -90.0}),
            PostSynapticResponse("NMDA", "cond_exp"),
        ), initial_values={"AMPA.gsyn": 0.01}),
    )
    sources = (
        PoissonSource("p", 2, rate=[5.0, 10.0], start=[0.0, 10.0],
                      duration=[math.inf, 50.0], seed=11),
        ArraySource.from_lists("s", [[1.0, 2.5], [], [0.3]]),
        GammaSource("g", 2, alpha=[2.0, 4.0], beta=[20.0, 40.0], start=0.0,
                    duration=math.inf, seed=3),
        PoissonRefractorySource("r", 1, rate=50.0, tau_refrac=2.0, start=5.0, duration=100.0),
        InhGammaSource("ig", 2, a=[1.0, 2.0, 3.0], b=[0.1, 0.05, 0.2], tbins=[0.0, 50.0, 0.0],
                       offsets=[0, 2, 3], start=0.0, duration=math.inf, seed=9),
    )
    stdp = STDPRule(tau_plus=16.8, tau_minus=33.7, A_plus=0.005, A_minus=0.006, w_min=0.0,
                    w_max=0.04, weight_dependence="multiplicative")
    gutig = STDPRule(weight_dependence="gutig", mu_plus=0.3, mu_minus=0.6,
                     dendritic_delay_fraction=1.0)
    vogels = Vogels2011Rule(tau=15.0, eta=1e-3, rho=5.0, w_max=0.1)
    projections = (
        Projection("p->a", "p", "a", [0, 1], [2, 0], [0.1, 0.2], [1.0, 2.0]),
        Projection("s->b", "s", "b", [0, 2], [1, 1], [0.01, 0.02], [0.5, 0.1],
                   receptor="inhibitory", plasticity=stdp),
        Projection("a->c", "a", "c", [], [], [], []),
        Projection("g->pn", "g", "pn", [0, 1], [1, 0], [0.01, 0.02], [1.0, 1.0],
                   receptor="AMPA", plasticity=gutig),
        Projection("r->pn", "r", "pn", [0], [1], [0.01], [1.0], receptor="GABAB",
                   plasticity=vogels),
        Projection("a->b", "a", "b", [0, 1, 2], [0, 1, 1], [0.01] * 3, [1.0] * 3,
                   dynamics=TsodyksMarkram(U=[0.1, 0.2, 0.3], tau_rec=800.0, tau_facil=0.0)),
        Projection("ig->b", "ig", "b", [0, 1], [0, 0], [0.01] * 2, [1.0] * 2,
                   dynamics=SimpleStochastic(p=0.5)),
        Projection("b->gif", "b", "gif", [0], [1], [0.01], [1.0],
                   dynamics=StochasticTsodyksMarkram(U=0.5, tau_rec=100.0, tau_facil=10.0)),
        Projection("a->gif", "a", "gif", [1], [0], [0.01], [1.0], receptor="inhibitory",
                   dynamics=MultiQuantal(U=0.5, n=[4], tau_rec=800.0, tau_facil=0.0)),
    )
    currents = (
        DCSource("dc", "a", [0, 2], amplitude=0.5, start=10.0, stop=math.inf),
        StepCurrentSource("step", "b", [1], times=[5.0, 10.0], amplitudes=[0.2, -0.1]),
        ACSource("ac", "gif", [0], amplitude=0.2, offset=0.1, frequency=50.0, phase=90.0,
                 start=5.0, stop=20.0),
        NoisyCurrentSource("noise", "pn", [0, 1], mean=0.1, stdev=0.05, dt=1.0, seed=4),
    )
    recordings = (
        Recording("a", "spikes", [0, 1, 2]),
        Recording("b", "gsyn_exc", [1], sampling_interval=1.0),
        Recording("s", "spikes", [0]),
        Recording("pn", "GABAB.gsyn", [0, 1]),
        Recording("ac", "i", [0]),
    )
    return Network(dt=0.1, populations=pops, sources=sources, projections=projections,
                   currents=currents, recordings=recordings, seed=42, label="all-types")


def test_fixture_covers_every_node_type():
    net = every_node_type()
    seen = {type(net)}
    for group in (net.populations, net.sources, net.projections, net.currents, net.recordings):
        seen.update(type(x) for x in group)
    seen.update(type(p.plasticity) for p in net.projections if p.plasticity)
    seen.update(type(p.dynamics) for p in net.projections if p.dynamics)
    seen.update(type(r) for p in net.populations for r in p.receptors)
    assert seen == set(NODE_TYPES)


def _every_value(net: Network) -> list:
    """The network and every value inside it, one of each type at least."""
    values = [net, *net.populations, *net.sources, *net.projections, *net.currents,
              *net.recordings]
    values += [p.plasticity for p in net.projections if p.plasticity]
    values += [p.dynamics for p in net.projections if p.dynamics]
    values += [r for p in net.populations for r in p.receptors]
    return values


@pytest.mark.parametrize("k", range(len(_every_value(every_node_type()))))
def test_round_trip_every_node_type(tmp_path, k):
    value = _every_value(every_node_type())[k]
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


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write_members(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def _rewrite_manifest(path, edit):
    members = _members(path)
    manifest = json.loads(members["manifest.json"])
    edit(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    _write_members(path, members)


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
    members = _members(path)
    import io as _io

    buf = _io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    members["arrays/0.npy"] = buf.getvalue()
    _write_members(path, members)
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


# --------------------------------------------------------------- damaged files
# A file changed or cut short after it was written (a bad disk, a broken download, an edit)
# must be refused by name, never loaded as a different value and never surface as a raw
# zipfile/zlib/numpy exception.


def _small_network() -> Network:
    return Network(
        dt=0.1, populations=(Population("a", "IF_curr_exp", 2),),
        sources=(PoissonSource("p", 1, rate=[5.0], start=[0.0], duration=[100.0]),),
        projections=(Projection("p->a", "p", "a", [0], [1], [0.5], [1.0]),),
        recordings=(Recording("a", "spikes", [0, 1]),), label="small")


def _layout(data: bytes) -> tuple[list[tuple[str, int, int, int]], int, int]:
    """(name, local header start, data start, data end) per member, the central
    directory's start and the end-of-directory record's start, read from the bytes."""
    import io as _io

    with zipfile.ZipFile(_io.BytesIO(data)) as zf:
        infos = zf.infolist()
    rows = []
    for info in infos:
        h = info.header_offset
        n, m = int.from_bytes(data[h + 26:h + 28], "little"), int.from_bytes(
            data[h + 28:h + 30], "little")
        start = h + 30 + n + m
        rows.append((info.filename, h, start, start + info.compress_size))
    eocd = data.rindex(b"PK\x05\x06")
    cd = int.from_bytes(data[eocd + 16:eocd + 20], "little")
    return rows, cd, eocd


def _outcome(path, original: dict[str, bytes], tmp_path) -> str:
    """'same' if the file still loads to the original value, else the FormatError text."""
    try:
        value = load(path)
    except FormatError as e:
        return str(e)
    again = save(value, tmp_path / "again.spnet")
    assert _members(again) == original, "a damaged file loaded as a different value"
    return "same"


def test_a_flipped_byte_in_any_member_names_that_member(tmp_path):
    path = save(_small_network(), tmp_path / "n.spnet")
    data, original = path.read_bytes(), _members(path)
    rows, _, _ = _layout(data)
    assert len(rows) > 10  # the manifest and every array
    bad = tmp_path / "bad.spnet"
    for k, (name, _, start, end) in enumerate(rows):
        # the first bytes of a deflate stream always matter (its last may be padding)
        for i in (start, start + (end - start) // 3, start + 2 * (end - start) // 3):
            flipped = bytearray(data)
            flipped[i] ^= 0xFF
            bad.write_bytes(bytes(flipped))
            with pytest.raises(FormatError) as e:
                load(bad)
            assert str(e.value).startswith(f"{bad}: member {name} is damaged"), (i, e.value)
        for i in range(start, end) if k < 4 else ():  # any byte: refused by name, or no change
            flipped = bytearray(data)
            flipped[i] ^= 0x10
            bad.write_bytes(bytes(flipped))
            outcome = _outcome(bad, original, tmp_path)
            assert outcome == "same" or f"member {name} is damaged" in outcome, (i, outcome)


def test_flipped_bytes_in_headers_and_directory_are_refused_or_harmless(tmp_path):
    path = save(_small_network(), tmp_path / "n.spnet")
    data, original = path.read_bytes(), _members(path)
    rows, cd, eocd = _layout(data)
    where = [i for _, h, start, _ in rows[:4] for i in range(h, start)]  # local headers
    where += range(cd, cd + 46 + len("manifest.json"))  # the first directory entry
    where += range(eocd, len(data))  # the end-of-directory record
    bad = tmp_path / "bad.spnet"
    refused = set()
    for i in where:
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        outcome = _outcome(bad, original, tmp_path)  # times, attributes and such: harmless
        if outcome != "same":
            refused.add(i)
            assert outcome.startswith(f"{bad}: "), (i, outcome)
    signatures = {h for _, h, _, _ in rows[:4]} | {cd, eocd}
    assert signatures <= refused


def test_a_truncated_file_is_refused_at_every_kind_of_offset(tmp_path):
    path = save(_small_network(), tmp_path / "n.spnet")
    data = path.read_bytes()
    rows, cd, eocd = _layout(data)
    cuts = {0, 1, 4, 29, cd, cd + 1, (cd + eocd) // 2, eocd, eocd + 10, len(data) - 1}
    cuts |= {x for _, h, start, end in rows[:3] for x in (h + 10, start, (start + end) // 2)}
    bad = tmp_path / "cut.spnet"
    for n in sorted(cuts):
        bad.write_bytes(data[:n])
        with pytest.raises(FormatError, match=f"^{bad}: "):
            load(bad)


def test_an_array_header_that_does_not_match_its_bytes_is_refused(tmp_path):
    import io as _io

    path = save(_small_network(), tmp_path / "n.spnet")
    members = _members(path)
    buf = _io.BytesIO()
    # claims a billion elements over 24 bytes: refused from the header, nothing is allocated
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)})
    members["arrays/0.npy"] = buf.getvalue() + bytes(24)
    _write_members(path, members)
    with pytest.raises(FormatError, match="arrays/0.npy is damaged"):
        load(path)


def test_a_damaged_manifest_tree_is_refused_by_name(tmp_path):
    for change, message in [
        (lambda m: m.update(root={"__array__": "x"}), "array reference 'x'"),
        (lambda m: m.update(root={"__map__": [1]}), "a map that is not an object"),
        (lambda m: m.update(root={"__kind__": ["network"]}), "unknown object kind"),
        (lambda m: m["root"].update(populations=5), "invalid network"),
    ]:
        path = save(_small_network(), tmp_path / "n.spnet")
        _rewrite_manifest(path, change)
        with pytest.raises(FormatError, match=message):
            load(path)
    path = tmp_path / "list.spnet"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", "[1, 2]")
    with pytest.raises(FormatError, match="not a spikeport file"):
        load(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(FormatError, match="manifest.json is damaged"):
        load(path)
