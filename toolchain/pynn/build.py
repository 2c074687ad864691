"""From what a PyNN script built to one ``toolchain.ir.Network``.

PyNN lets projections, current sources and recordings address views and assemblies; the
IR knows only whole populations.  Every such address is resolved here into
(population, index) pairs, and a projection spanning several populations becomes one IR
projection per (pre population, post population) pair.  ``Built`` keeps the way back:
the IR label of every population and which synapses of a PyNN projection each IR
projection holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyNN import common

from toolchain import ir
from toolchain.ir.network import INDEX_DTYPE
from toolchain.pynn import standardmodels as sm

# IR labels the parts of a projection between assemblies as "<label>[<pre>-><post>]".
_Part = tuple[object, int, np.ndarray | None]  # (population, offset, index map or None)


@dataclass
class Built:
    network: ir.Network
    labels: dict[int, str] = field(default_factory=dict)  # id(Population) -> IR label
    # id(Projection) -> [(IR projection label, synapse selector or None for all)]
    parts: dict[int, list[tuple[str, np.ndarray | None]]] = field(default_factory=dict)
    # id(current source) -> IR labels of its parts (one per population it feeds)
    currents: dict[int, list[str]] = field(default_factory=dict)


class BuildError(ValueError):
    """A PyNN construct the IR cannot describe."""


def parts(cells: object) -> list[_Part]:
    """(population, first index within ``cells``, index map into the population)."""
    if isinstance(cells, common.Assembly):
        out, offset = [], 0
        for member in cells.populations:
            population, _, index = parts(member)[0]
            out.append((population, offset, index))
            offset += member.size
        return out
    if isinstance(cells, common.PopulationView):
        index = np.asarray(cells.index_in_grandparent(np.arange(cells.size)), dtype=INDEX_DTYPE)
        return [(cells.grandparent, 0, index)]
    return [(cells, 0, None)]


def _unique(label: str, taken: set[str]) -> str:
    out, k = label, 2
    while out in taken:
        out, k = f"{label}#{k}", k + 1
    taken.add(out)
    return out


def build_network(state: object, network_label: str = "pynn") -> Built:
    """The IR network of everything the script created since ``setup()``;
    ``network_label`` names it in reports (capture uses the script's name)."""
    built = Built(network=ir.Network())
    taken: set[str] = set()
    populations, sources = [], []
    for k, pop in enumerate(state.populations):
        label = _unique(pop.label or f"population{k}", taken)
        built.labels[id(pop)] = label
        node = _node(pop, label, seed=_seed(state.seed, k))
        (populations if isinstance(node, ir.Population) else sources).append(node)
    projections = []
    for proj in state.projections:
        projections.extend(_projections(proj, built, taken))
    currents, k = [], 0
    for source in state.current_sources:
        for cells in source._targets:
            parts_ = _current(source, cells, k, built, taken, _noise_seed(source, state.seed, k))
            built.currents.setdefault(id(source), []).extend(c.label for c in parts_)
            currents.append(parts_)
            k += 1
    recordings = []
    for pop in state.populations:
        recordings.extend(_recordings(pop, built.labels[id(pop)], state.dt))
    for source in state.current_sources:
        labels = built.currents.get(id(source))
        if source._recorded and labels:  # one trace: every part injects the same current
            recordings.append(ir.Recording(labels[0], ir.network.CURRENT_VARIABLE, [0]))
    built.network = ir.Network(
        dt=state.dt, populations=tuple(populations), sources=tuple(sources),
        projections=tuple(projections), currents=tuple(c for group in currents for c in group),
        recordings=tuple(recordings), seed=state.seed, label=network_label,
    )
    return built


def _seed(seed: int, k: int) -> int:
    # one independent, reproducible stream per source population
    return int(np.random.SeedSequence([seed, k]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _node(pop: object, label: str, seed: int) -> ir.Population | ir.network.SpikeSource:
    """The IR node of a PyNN population (a neuron population or a spike source)."""
    params = pop._parameters
    celltype = pop.celltype
    if isinstance(celltype, sm.SpikeSourcePoisson):
        return ir.PoissonSource(label=label, size=pop.size, rate=params["rate"],
                                start=params["start"], duration=params["duration"], seed=seed)
    if isinstance(celltype, sm.SpikeSourcePoissonRefractory):
        return ir.PoissonRefractorySource(
            label=label, size=pop.size, rate=params["rate"], tau_refrac=params["tau_refrac"],
            start=params["start"], duration=params["duration"], seed=seed)
    if isinstance(celltype, sm.SpikeSourceGamma):
        return ir.GammaSource(label=label, size=pop.size, alpha=params["alpha"],
                              beta=params["beta"], start=params["start"],
                              duration=params["duration"], seed=seed)
    if isinstance(celltype, sm.SpikeSourceInhGamma):
        flat = {name: _sequences(params[name], pop.size) for name in ("a", "b", "tbins")}
        return ir.InhGammaSource(label=label, size=pop.size, a=flat["a"][0], b=flat["b"][0],
                                 tbins=flat["tbins"][0], offsets=flat["tbins"][1],
                                 start=params["start"], duration=params["duration"], seed=seed)
    if isinstance(celltype, sm.SpikeSourceArray):
        times, offsets = _sequences(params["spike_times"], pop.size)
        return ir.ArraySource(label=label, size=pop.size, times=times, offsets=offsets)
    receptors: tuple[ir.PostSynapticResponse, ...] = ()
    if isinstance(celltype, sm.PointNeuron):
        cell_type = ir.CellType(type(celltype.neuron).__name__)
        receptors = tuple(
            ir.PostSynapticResponse(name, psr.shape, {
                key: params[f"{name}.{key}"] for key in psr.default_parameters
                if key != "locations"})
            for name, psr in sorted(celltype.post_synaptic_receptors.items()))
    else:
        cell_type = ir.CellType(type(celltype).__name__)
    variables = (*cell_type.state_variables, *(r.state_variable for r in receptors))
    initial = {name: values for name, values in pop._initial.items() if name in variables}
    return ir.Population(label=label, cell_type=cell_type, size=pop.size,
                         parameters={name: _vector(params[name]) for name in
                                     cell_type.parameters},
                         initial_values=initial, receptors=receptors)


def _sequences(values: object, size: int) -> tuple[np.ndarray, np.ndarray]:
    """PyNN Sequences, one per neuron, as the IR's flat values and offsets."""
    values = np.broadcast_to(np.asarray(values, dtype=object), (size,))
    trains = [np.asarray(getattr(v, "value", v), dtype=float).ravel() for v in values]
    offsets = np.concatenate([[0], np.cumsum([t.size for t in trains])]).astype(np.int64)
    flat = np.concatenate(trains) if trains else np.zeros(0)
    return flat, offsets


def _vector(values: np.ndarray) -> np.ndarray:
    """Per-neuron values; ArrayParameters (GIF_cond_exp's kernels) as a (size, k) array."""
    values = np.asarray(values)
    if values.dtype == object:
        return np.vstack([np.asarray(getattr(v, "value", v), dtype=float) for v in values])
    return values


def _rule(proj: object) -> ir.STDPRule | ir.Vogels2011Rule | None:
    p = proj.plasticity
    if p is None:
        return None
    if p["timing_dependence"] == "Vogels2011Rule":
        return ir.Vogels2011Rule(tau=p["tau"], eta=p["eta"], rho=p["rho"], w_min=p["w_min"],
                                 w_max=p["w_max"],
                                 dendritic_delay_fraction=p["dendritic_delay_fraction"])
    dependence = {cls.__name__: name for cls, name in sm.WEIGHT_DEPENDENCES.items()}[
        p["weight_dependence"]]
    gutig = dependence == "gutig"
    return ir.STDPRule(tau_plus=p["tau_plus"], tau_minus=p["tau_minus"], A_plus=p["A_plus"],
                       A_minus=p["A_minus"], w_min=p["w_min"], w_max=p["w_max"],
                       weight_dependence=dependence,
                       mu_plus=p["mu_plus"] if gutig else None,
                       mu_minus=p["mu_minus"] if gutig else None,
                       dendritic_delay_fraction=p["dendritic_delay_fraction"])


def _dynamics(proj: object, selector: np.ndarray | None) -> ir.network.SynapseDynamics | None:
    kind = sm.DYNAMIC_SYNAPSES.get(type(proj.synapse_type))
    if kind is None:
        return None
    values = {}
    for name, v in (*proj._dynamics.items(), *proj._dynamics_initial.items()):
        values[name] = v if selector is None or v.size == 1 else v[selector]
    return getattr(ir, kind[0])(**values)


def _mapped(index: np.ndarray, part: _Part) -> np.ndarray:
    _, offset, index_map = part
    local = index - offset if offset else index
    return local if index_map is None else index_map[local]


def _projections(proj: object, built: Built, taken: set[str]) -> list[ir.Projection]:
    pre_parts, post_parts = parts(proj.pre), parts(proj.post)
    receptor = proj.receptor_type
    rule = _rule(proj)
    label = proj.label or "projection"
    out, entries = [], []
    if len(pre_parts) == 1 and len(post_parts) == 1:
        groups = [(pre_parts[0], post_parts[0], None)]
    else:
        pre_seg = np.searchsorted([p[1] for p in pre_parts], proj._pre_index, "right") - 1
        post_seg = np.searchsorted([p[1] for p in post_parts], proj._post_index, "right") - 1
        key = pre_seg * len(post_parts) + post_seg
        groups = []
        for k in np.unique(key):
            a, b = divmod(int(k), len(post_parts))
            groups.append((pre_parts[a], post_parts[b], np.flatnonzero(key == k)))
    for pre_part, post_part, selector in groups:
        pre, post = proj._pre_index, proj._post_index
        weight, delay = proj._weight, proj._delay
        if selector is not None:
            pre, post, weight, delay = pre[selector], post[selector], weight[selector], \
                delay[selector]
        name = label if selector is None else \
            f"{label}[{built.labels[id(pre_part[0])]}->{built.labels[id(post_part[0])]}]"
        name = _unique(name, taken)
        out.append(ir.Projection(
            label=name, pre=built.labels[id(pre_part[0])], post=built.labels[id(post_part[0])],
            pre_index=_mapped(pre, pre_part), post_index=_mapped(post, post_part),
            weight=weight, delay=delay, receptor=receptor, plasticity=rule,
            dynamics=_dynamics(proj, selector),
        ))
        entries.append((name, selector))
    built.parts[id(proj)] = entries
    return out


def _cells(cells: object) -> list[tuple[object, np.ndarray]]:
    """(population, indices) for anything PyNN lets a current source be injected into."""
    if isinstance(cells, (common.BasePopulation, common.Assembly)):
        out = []
        for population, _, index_map in parts(cells):
            out.append((population, np.arange(population.size) if index_map is None
                        else index_map))
        return out
    by_population: dict[int, tuple[object, list[int]]] = {}
    for cell in cells:
        population = cell.parent
        entry = by_population.setdefault(id(population), (population, []))
        entry[1].append(population.id_to_index(cell))
    return [(pop, np.asarray(sorted(idx))) for pop, idx in by_population.values()]


def _current(source: object, cells: object, k: int, built: Built, taken: set[str],
             seed: int) -> list[ir.network.CurrentSource]:
    values = source._parameters
    out = []
    for population, indices in _cells(cells):
        target = built.labels[id(population)]
        label = _unique(f"{type(source).__name__}{k}", taken)
        common_args = dict(label=label, target=target, indices=indices)
        if isinstance(source, sm.DCSource):
            out.append(ir.DCSource(**common_args, amplitude=float(values["amplitude"]),
                                   start=float(values["start"]), stop=float(values["stop"])))
        elif isinstance(source, sm.StepCurrentSource):
            out.append(ir.StepCurrentSource(**common_args, times=values["times"],
                                            amplitudes=values["amplitudes"]))
        elif isinstance(source, sm.ACSource):
            out.append(ir.ACSource(**common_args, **{
                name: float(values[name]) for name in
                ("amplitude", "offset", "frequency", "phase", "start", "stop")}))
        elif isinstance(source, sm.NoisyCurrentSource):
            out.append(ir.NoisyCurrentSource(**common_args, seed=seed, **{
                name: float(values[name]) for name in ("mean", "stdev", "dt", "start", "stop")}))
        else:
            names = ", ".join(c.__name__ for c in sm.CURRENT_SOURCES)
            raise BuildError(f"current source {type(source).__name__} is not supported; "
                             f"use one of: {names}")
    return out


def _noise_seed(source: object, network_seed: int, k: int) -> int:
    """A NoisyCurrentSource's seed: its rng's, if seeded, else the script's and its place."""
    rng_seed = getattr(vars(source).get("rng"), "seed", None)
    if rng_seed is not None:
        return int(rng_seed) % 2**63
    return _seed(network_seed, 10_000 + k)


def _recordings(pop: object, label: str, dt: float) -> list[ir.Recording]:
    out = []
    recorder = pop.recorder
    first = int(pop.first_id)
    for variable, ids in recorder.recorded.items():
        if not ids:
            continue
        indices = np.sort(np.fromiter((int(i) - first for i in ids), dtype=np.int64))
        interval = recorder.sampling_interval
        out.append(ir.Recording(
            target=label, variable=variable.name, indices=indices,
            sampling_interval=None if variable.name == "spikes" or
            abs(interval - dt) < 1e-12 else float(interval),
        ))
    return out
