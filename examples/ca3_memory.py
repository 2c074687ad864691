"""CA3 content-addressable memory: the oscillatory model of Casanueva-Morato et al. (IJCNN
2022, "Spike-based computational models of bio-inspired memories in the hippocampal CA3
region on SpiNNaker"), ported from its sPyNNaker script to plain PyNN.

15 dentate-gyrus (DG) spike sources drive 15 CA3 pyramidal cells (PC) one to one; PC->PC is
all-to-all (no self-connections) twice: excitatory pair STDP that stores patterns, and
static inhibition.  A pattern is learnt by making all its cells fire for 5 ms; it is
recalled by making a fragment of it (the cue) fire for 5 ms: the cells left out of the cue
should fire too.  The script prints, per pattern, the fraction of uncued cells that fire in
the recall window and the cells outside the pattern that fire there (stray firings).

    python examples/ca3_memory.py brian2 [--experiment orthogonal|non-orthogonal|forget]
    spikeport pynn examples/ca3_memory.py spikeport [--plot raster.png]
    spikeport pynn --target spinnaker2 examples/ca3_memory.py spikeport --memory stored

``--memory stored`` replaces learning by the memory it is meant to produce: PC->PC static
weights of w_max between the cells of every pattern, 0 elsewhere, and the DG presents only
the cues; it runs on targets that cannot learn.  ``--weights W.npy`` loads any (15 x 15,
pre x post) matrix the same way, e.g. one saved with ``--save-weights``.

Porting from sPyNNaker (see docs/workloads.md): the inhibitory weight is +1.5 nA there and
-1.5 nA here (PyNN's sign for current-based inhibition); sPyNNaker treats every synaptic
delay as dendritic for STDP, pyNN.brian2 only as axonal; spikeport's reference runs both
(``--dendritic-delay-fraction 1`` is sPyNNaker's, default 0 pyNN.brian2's), and with the
dendritic pairing the published protocol recalls; dt = 1 ms is longer than tau_syn = 0.3 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

N_CELLS = 15
DT = 1.0  # ms, as published
PRESENTATION = 5  # consecutive DG spikes (1 ms apart) per learning or cue presentation
# The recall window opens with the cue and closes 5 ms after it: an uncued cell is two
# synapses (DG->PC->PC, 1 ms each) behind the DG spike, and each synapse takes one step
# of integration before the threshold is checked (two steps per hop in Brian2's schedule).
RECALL_TAIL = 5.0  # ms after the last cue spike

# The published parameters [src: the authors' CA3_oscilatory.py, dancasmor/Spike-based-
# computational-models-of-bio-inspired-memories-in-the-hippocampal-CA3-region-in-SpiNNaker]
PC_CELL = {"cm": 0.27, "i_offset": 0.0, "tau_m": 3.0, "tau_refrac": 1.0, "tau_syn_E": 0.3,
           "tau_syn_I": 0.3, "v_reset": -60.0, "v_rest": -60.0, "v_thresh": -55.0}
V_INIT = -60.0
W_DG = 6.0 * (N_CELLS - 1)  # nA: 84, "6 x (network size - 1)" in the published script
STDP = {"tau_plus": 3.0, "tau_minus": 2.0, "A_plus": 6.0, "A_minus": 3.0}
W_MIN, W_MAX = 0.0, 12.0  # nA
W_INH = -1.5  # nA; +1.5 on sPyNNaker, whose inhibitory weights are magnitudes
DELAY = 1.0  # ms, every projection


@dataclass(frozen=True)
class Pattern:
    """One memory: its cells, when it is learnt, and the fragment that recalls it."""

    name: str
    cells: tuple[int, ...]
    learn_at: int  # ms of the first of PRESENTATION learning spikes
    cue: tuple[int, ...]
    recall_at: int  # ms of the first of PRESENTATION cue spikes

    @property
    def uncued(self) -> tuple[int, ...]:
        return tuple(c for c in self.cells if c not in self.cue)

    @property
    def window(self) -> tuple[float, float]:
        return float(self.recall_at), self.recall_at + PRESENTATION - 1 + RECALL_TAIL


@dataclass(frozen=True)
class Experiment:
    patterns: tuple[Pattern, ...]
    t_stop: float
    about: str


def _p(name: str, cells: Sequence[int], learn_at: int, cue: Sequence[int],
       recall_at: int) -> Pattern:
    return Pattern(name, tuple(cells), learn_at, tuple(cue), recall_at)


EXPERIMENTS: dict[str, Experiment] = {
    # The published protocols (DG spike times of CA3_oscilatory.py).
    "orthogonal": Experiment((
        _p("A", range(0, 5), 1, range(1, 5), 43),
        _p("B", range(5, 10), 29, range(5, 9), 71),
        _p("C", range(10, 15), 15, range(10, 14), 57),
    ), 85.0, "three orthogonal patterns of 5 cells, each recalled from 4 of them"),
    "non-orthogonal": Experiment((
        _p("A", (0, 1, 2, 3, 4, 7), 1, range(1, 5), 41),
        _p("B", (7, 10, 11, 12, 13, 14), 21, range(10, 14), 61),
    ), 75.0, "two patterns sharing cell 7, each recalled from 4 of its cells"),
    # Not in the published script: learning new content for a cue already in use, the
    # authors' later models' notion of forgetting.  Cell 0 firing in the second recall
    # window is a stray firing: the old content was not forgotten.
    "forget": Experiment((
        _p("A", range(0, 5), 1, range(1, 5), 15),
        _p("A'", range(1, 6), 29, range(1, 5), 43),
    ), 57.0, "pattern A, then A' = the same cue with new content (cell 5 for cell 0)"),
}


def stored_memory(patterns: Sequence[Pattern]) -> np.ndarray:
    """The PC->PC weights (pre x post, nA) that learning a set of patterns is meant to leave:
    w_max between every two cells of a pattern, 0 elsewhere."""
    w = np.zeros((N_CELLS, N_CELLS))
    for p in patterns:
        cells = np.asarray(p.cells)
        w[np.ix_(cells, cells)] = W_MAX
    np.fill_diagonal(w, 0.0)
    return w


def dg_spike_times(patterns: Sequence[Pattern], *, learning: bool = True) -> list[list[float]]:
    """Each DG cell's spike times: learning presentations (all cells of a pattern) and cue
    presentations (the cue's cells), PRESENTATION spikes 1 ms apart each."""
    times: list[set[float]] = [set() for _ in range(N_CELLS)]
    for p in patterns:
        if learning:
            for c in p.cells:
                times[c].update(float(p.learn_at + k) for k in range(PRESENTATION))
        for c in p.cue:
            times[c].update(float(p.recall_at + k) for k in range(PRESENTATION))
    return [sorted(t) for t in times]


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Recall:
    pattern: str
    uncued: tuple[int, ...]
    recalled: tuple[int, ...]  # uncued cells that fired in the window
    stray: tuple[int, ...]  # cells outside the pattern that the cue set firing
    stray_spikes: int
    ongoing: tuple[int, ...]  # cells outside the pattern that were firing before the cue

    @property
    def fraction(self) -> float:
        return len(self.recalled) / len(self.uncued) if self.uncued else 1.0


def score(spikes: Mapping[int, np.ndarray], patterns: Sequence[Pattern]) -> list[Recall]:
    """Recall of each pattern from PC spike times (``{cell: times in ms}``).

    A cell outside the pattern that fires in the window is a stray firing if it was silent
    in the ``PRESENTATION`` ms before the cue, and ongoing activity otherwise: the model
    keeps a recalled pattern oscillating, so the cells of an earlier recall are still
    firing when the next cue comes.
    """
    out = []
    for p in patterns:
        lo, hi = p.window
        fired = {c: int(np.count_nonzero((t >= lo) & (t <= hi))) for c, t in spikes.items()}
        before = {c for c, t in spikes.items()
                  if np.any((t >= lo - PRESENTATION) & (t < lo))}
        outside = [c for c, n in sorted(fired.items()) if n and c not in p.cells]
        stray = tuple(c for c in outside if c not in before)
        out.append(Recall(
            p.name, p.uncued, tuple(c for c in p.uncued if fired.get(c, 0)), stray,
            sum(fired[c] for c in stray), tuple(c for c in outside if c in before)))
    return out


def recall_score(recalls: Sequence[Recall]) -> float:
    """The fraction of uncued pattern cells, over all patterns, that fire in their window."""
    total = sum(len(r.uncued) for r in recalls)
    return sum(len(r.recalled) for r in recalls) / total if total else 1.0


def format_recalls(recalls: Sequence[Recall]) -> str:
    lines = [f"{'pattern':8s} {'uncued':>8s} {'recalled':>9s} {'stray cells':>22s} "
             f"{'ongoing cells':>22s}"]
    for r in recalls:
        lines.append(f"{r.pattern:8s} {','.join(map(str, r.uncued)):>8s} "
                     f"{f'{len(r.recalled)}/{len(r.uncued)}':>9s} "
                     f"{(','.join(map(str, r.stray)) or '-'):>22s} "
                     f"{(','.join(map(str, r.ongoing)) or '-'):>22s}")
    lines.append(f"recall score {recall_score(recalls):.2f} (fraction of uncued cells that "
                 f"fire in their recall window); stray firings: "
                 f"{sum(r.stray_spikes for r in recalls)} spikes of "
                 f"{sum(len(r.stray) for r in recalls)} cells set off by a cue outside its "
                 f"pattern")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the network


def build(sim, experiment: Experiment, *, dendritic_delay_fraction: float = 0.0,
          weights: np.ndarray | None = None) -> dict:
    """Build the model on PyNN backend ``sim`` (``setup`` already called).  With
    ``weights`` the PC->PC excitation is static and the DG presents only the cues."""
    dg = sim.Population(N_CELLS, sim.SpikeSourceArray(
        spike_times=dg_spike_times(experiment.patterns, learning=weights is None)), label="DG")
    pc = sim.Population(N_CELLS, sim.IF_curr_exp(**PC_CELL), label="PC")
    pc.initialize(v=V_INIT)
    sim.Projection(dg, pc, sim.OneToOneConnector(),
                   sim.StaticSynapse(weight=W_DG, delay=DELAY), receptor_type="excitatory",
                   label="DG->PC")
    others = sim.AllToAllConnector(allow_self_connections=False)
    if weights is None:
        synapse = sim.STDPMechanism(
            timing_dependence=sim.SpikePairRule(**STDP),
            weight_dependence=sim.AdditiveWeightDependence(w_min=W_MIN, w_max=W_MAX),
            weight=0.0, delay=DELAY, dendritic_delay_fraction=dendritic_delay_fraction)
        recurrent = sim.Projection(pc, pc, others, synapse, receptor_type="excitatory",
                                   label="PC->PC")
    else:
        pre, post = np.nonzero(~np.eye(N_CELLS, dtype=bool))
        conns = [(int(i), int(j), float(weights[i, j]), DELAY)
                 for i, j in zip(pre, post, strict=True)]
        recurrent = sim.Projection(
            pc, pc, sim.FromListConnector(conns, column_names=["weight", "delay"]),
            sim.StaticSynapse(), receptor_type="excitatory", label="PC->PC")
    sim.Projection(pc, pc, others, sim.StaticSynapse(weight=W_INH, delay=DELAY),
                   receptor_type="inhibitory", label="PC-|PC")
    return {"dg": dg, "pc": pc, "recurrent": recurrent}


def run(sim, experiment: Experiment, *, record_v: bool = False,
        setup_options: Mapping[str, object] | None = None, **build_options) -> dict:
    """Build, run and read back: PC spike times per cell, the PC->PC weights at the end
    (pre x post), and the membrane potential if asked for.  ``setup_options`` go to
    ``setup()`` (spikeport: ``target=``)."""
    sim.setup(timestep=DT, min_delay=DELAY, **(setup_options or {}))
    net = build(sim, experiment, **build_options)
    net["pc"].record(["spikes", "v"] if record_v else "spikes")
    sim.run(experiment.t_stop)
    segment = net["pc"].get_data().segments[0]
    out = {
        "spikes": {i: np.asarray(st.rescale("ms").magnitude, dtype=float)
                   for i, st in enumerate(segment.spiketrains)},
        "weights": np.nan_to_num(np.asarray(net["recurrent"].get("weight", format="array"),
                                            dtype=float)),
    }
    if record_v:
        v = segment.filter(name="v")[0]
        out["v"] = (np.asarray(v.times.rescale("ms")), np.asarray(v.magnitude))
    sim.end()
    return out


# --------------------------------------------------------------------------- figures


def raster(ax, spikes: Mapping[int, np.ndarray], experiment: Experiment, title: str = "",
           *, stored: bool = False) -> None:
    """PC spikes with each pattern's learning (light) and recall (dark) windows."""
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    for k, p in enumerate(experiment.patterns):
        colour = colours[k % len(colours)]
        cells = np.asarray(p.cells)
        for c in cells:  # pattern membership as a band behind its cells
            if not stored:
                ax.add_patch(_rect(p.learn_at - 0.5, c - 0.4, PRESENTATION, 0.8, colour, 0.15))
        lo, hi = p.window
        ax.axvspan(lo - 0.5, hi + 0.5, color=colour, alpha=0.12, lw=0)
        ax.text(lo, N_CELLS - 0.3, f"recall {p.name}", fontsize=6, color=colour)
        for c in p.uncued:
            ax.plot([lo - 0.5, hi + 0.5], [c, c], color=colour, lw=0.6, ls=":")
    for c, t in spikes.items():
        ax.plot(t, np.full(len(t), c), "|", color="k", ms=4)
    ax.set_ylim(-0.8, N_CELLS)
    ax.set_xlim(0, experiment.t_stop)
    ax.set_yticks(range(0, N_CELLS, 2))
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("PC cell")
    if title:
        ax.set_title(title, fontsize=8)


def _rect(x: float, y: float, w: float, h: float, colour: str, alpha: float):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, color=colour, alpha=alpha, lw=0)


def save_raster(path: Path, spikes: Mapping[int, np.ndarray], experiment: Experiment,
                title: str, *, stored: bool = False) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    raster(ax, spikes, experiment, title, stored=stored)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- every target

# (name, script arguments): the published protocols with learning, in PyNN's axonal STDP
# delay convention (pyNN.brian2's) and in sPyNNaker's dendritic one, and the same cues
# with the memory stored as static weights (for targets without plasticity).
VARIANTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("orthogonal, STDP", ("--experiment", "orthogonal")),
    ("non-orthogonal, STDP", ("--experiment", "non-orthogonal")),
    ("forget, STDP", ("--experiment", "forget")),
    ("orthogonal, STDP, dendritic delay", ("--experiment", "orthogonal",
                                           "--dendritic-delay-fraction", "1")),
    ("non-orthogonal, STDP, dendritic delay", ("--experiment", "non-orthogonal",
                                               "--dendritic-delay-fraction", "1")),
    ("forget, STDP, dendritic delay", ("--experiment", "forget",
                                       "--dendritic-delay-fraction", "1")),
    ("orthogonal, stored memory", ("--experiment", "orthogonal", "--memory", "stored")),
    ("non-orthogonal, stored memory", ("--experiment", "non-orthogonal", "--memory", "stored")),
)


def _experiment_of(args: Sequence[str]) -> tuple[Experiment, bool]:
    _, ns = options(["spikeport", *args])
    return EXPERIMENTS[ns.experiment], ns.memory == "stored" or ns.weights is not None


def study(out: Path, targets: Sequence[str] | None = None) -> list[dict]:
    """Every variant on every target: recall score, stray firings, refusals, cost per step.
    Writes ``ca3_targets.md``/``.csv`` and one raster per variant (a panel per target)."""
    from workloads import fmt, markdown_table, on_targets, outcome_columns, pct, write_csv

    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for name, args in VARIANTS:
        experiment, stored = _experiment_of(args)
        outcomes = on_targets(__file__, args, targets=targets)
        ran = []
        for o in outcomes:
            row = {"variant": name, **outcome_columns(o), "recall": math.nan,
                   "stray_cells": math.nan}
            if o.result is not None:
                spikes = o.spikes("PC", N_CELLS)
                recalls = score(spikes, experiment.patterns)
                row["recall"] = recall_score(recalls)
                row["stray_cells"] = sum(len(r.stray) for r in recalls)
                ran.append((o.target, spikes))
            rows.append(row)
        _save_rasters(out / f"ca3_{_slug(name)}.png", ran, experiment, name, stored)
    write_csv(out / "ca3_targets.csv", rows)
    table = markdown_table(
        ["variant", "target", "runs / refused because", "recall", "stray cells",
         "weight error (max)", "energy (nJ/step)", "latency (us/step)"],
        [[r["variant"], r["target"], r["status"], fmt(r["recall"], 2), fmt(r["stray_cells"]),
          pct(r["weight_error"]), fmt(r["energy_nj_per_step"]),
          fmt(r["latency_us_per_step"])] for r in rows])
    (out / "ca3_targets.md").write_text(table)
    print(table)
    explain(out)
    return rows


def explain(out: Path) -> None:
    """The numbers behind the result: one spike exactly and in sPyNNaker's update, and the
    weights the published protocol leaves on the reference."""
    import toolchain.pynn as spikeport

    print("one spike, first step after it arrives (exact vs sPyNNaker's update):")
    for r in psp_study(out, ["reference", "spinnaker2"]):
        print(f"  {r['weight_na']:5.1f} nA on {r['target']:10s}: dv {r['dv_mv']:6.2f} mV "
              f"(exact {r['dv_first_step_exact_mv']:.2f}, sPyNNaker "
              f"{r['dv_first_step_spinnaker_mv']:.2f}); charge in the step "
              f"{r['charge_first_step_exact_pc']:.2f} pC exact, "
              f"{r['charge_first_step_spinnaker_pc']:.2f} pC sPyNNaker, "
              f"{r['charge_total_pc']:.2f} pC in all")
    experiment = EXPERIMENTS["orthogonal"]
    # the weights learning leaves, read before the first cue (recall spikes learn too)
    learning = dataclasses.replace(
        experiment, t_stop=float(min(p.recall_at for p in experiment.patterns)))
    learnt = run(spikeport, learning)["weights"]
    save_weights_figure(out / "ca3_weights.png", learnt, stored_memory(experiment.patterns))
    within = np.zeros_like(learnt, dtype=bool)
    for p in experiment.patterns:
        within[np.ix_(p.cells, p.cells)] = True
    np.fill_diagonal(within, False)
    across = ~within & ~np.eye(N_CELLS, dtype=bool)
    print(f"PC->PC weights after learning ({learning.t_stop:g} ms) on the reference: within "
          f"patterns mean {learnt[within].mean():.2f} nA (max {learnt[within].max():.2f}), across "
          f"patterns mean {learnt[across].mean():.2f} nA ({int((learnt[across] >= W_MAX).sum())}"
          f" of {int(across.sum())} at w_max)")


def save_weights_figure(path: Path, learnt: np.ndarray, stored: np.ndarray) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
    for ax, w, title in ((axes[0], learnt, "learnt by the published protocol\n(reference, "
                          "PyNN's STDP)"), (axes[1], stored, "the memory it is meant to store")):
        im = ax.imshow(w, vmin=0, vmax=W_MAX, cmap="viridis")
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("post (PC cell)")
        ax.set_ylabel("pre (PC cell)")
    fig.colorbar(im, ax=axes, label="weight (nA)", shrink=0.8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").replace("__", "_")


def _save_rasters(path: Path, ran: Sequence[tuple[str, Mapping[int, np.ndarray]]],
                  experiment: Experiment, title: str, stored: bool) -> None:
    if not ran:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(ran), 1, figsize=(7, 2.2 * len(ran)), sharex=True,
                             squeeze=False)
    for ax, (target, spikes) in zip(axes[:, 0], ran, strict=True):
        raster(ax, spikes, experiment, f"{title}: {target}", stored=stored)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- one spike


def one_spike(sim, weight: float, t_spike: float = 5.0, t_stop: float = 12.0,
              **setup_options) -> dict:
    """One PC cell receiving one spike of ``weight`` nA at ``t_spike`` (+ the 1 ms delay),
    with the threshold out of reach (1 V above rest) so the whole PSP shows: v and the
    excitatory current as the simulator samples them, one value per step."""
    sim.setup(timestep=DT, min_delay=DELAY, **setup_options)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[t_spike]), label="in")
    out_of_reach = {**PC_CELL, "v_thresh": PC_CELL["v_rest"] + 1000.0}
    cell = sim.Population(1, sim.IF_curr_exp(**out_of_reach), label="PC")
    cell.initialize(v=V_INIT)
    sim.Projection(src, cell, sim.OneToOneConnector(),
                   sim.StaticSynapse(weight=weight, delay=DELAY), receptor_type="excitatory")
    cell.record(["v", "isyn_exc"])
    sim.run(t_stop)
    seg = cell.get_data().segments[0]
    v, i = seg.filter(name="v")[0], seg.filter(name="isyn_exc")[0]
    out = {"t": np.asarray(v.times.rescale("ms")), "v": np.asarray(v.magnitude).ravel(),
           "i": np.asarray(i.magnitude).ravel()}
    sim.end()
    return out


def charge_per_spike(weight: float) -> dict[str, float]:
    """What one spike of ``weight`` nA does in the first step after it arrives (the step
    that decides whether the cell fires), exactly and in sPyNNaker's update.

    Exact: the current w e^(-t/tau_syn) delivers w tau_syn (1 - e^(-dt/tau_syn)) pC in the
    step, and the membrane ends the step at w R tau_syn/(tau_m - tau_syn) (e^(-dt/tau_m) -
    e^(-dt/tau_syn)) above rest.  sPyNNaker [src: synapse_types_exponential_impl.h,
    exp_synapse_utils.h, neuron_model_lif_impl.h]: the ring-buffer input enters the
    synaptic state scaled by init = tau_syn/dt (1 - e^(-dt/tau_syn)); the membrane is then
    solved exactly with that current held for the whole tick, v = a - e^(-dt/tau_m) (a - v),
    a = v_rest + R I; then the state decays by e^(-dt/tau_syn).
    """
    tau_s, tau_m, r = PC_CELL["tau_syn_E"], PC_CELL["tau_m"], PC_CELL["tau_m"] / PC_CELL["cm"]
    decay = math.exp(-DT / tau_s)
    init = tau_s / DT * (1 - decay)
    return {
        "charge_total_pc": weight * tau_s,
        "charge_first_step_exact_pc": weight * tau_s * (1 - decay),
        "charge_first_step_spinnaker_pc": weight * init * DT,
        "held_current_na": weight * init,
        "dv_first_step_exact_mv": weight * r * tau_s / (tau_m - tau_s)
        * (math.exp(-DT / tau_m) - decay),
        "dv_first_step_spinnaker_mv": weight * init * r * (1 - math.exp(-DT / tau_m)),
    }


def psp_study(out: Path, targets: Sequence[str], weights: Sequence[float] = (12.0, W_DG)
              ) -> list[dict]:
    """One spike on every target that takes it: the measured jump of v in the step after
    arrival, next to the exact and sPyNNaker values; writes ``ca3_one_spike.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import toolchain.pynn as spikeport

    rows, traces = [], {}
    for w in weights:
        calc = charge_per_spike(w)
        for target in targets:
            try:
                trace = one_spike(spikeport, w, target=target)
            except Exception as e:  # a refusal is a finding, shown in the table
                rows.append({"weight_na": w, "target": target, "dv_mv": math.nan,
                             "status": " ".join(f"{type(e).__name__}: {e}".split())})
                continue
            traces[(w, target)] = trace
            arrive = int(np.argmax(np.abs(trace["v"] - V_INIT) > 1e-9))
            rows.append({"weight_na": w, "target": target, "status": "runs",
                         "dv_mv": float(trace["v"][arrive] - V_INIT), **calc})
    fig, axes = plt.subplots(2, len(weights), figsize=(4 * len(weights), 5), sharex=True,
                             squeeze=False)
    t_fine = np.linspace(0.0, 6.0, 601)
    for k, w in enumerate(weights):
        ax_v, ax_i = axes[0, k], axes[1, k]
        tau_s, tau_m = PC_CELL["tau_syn_E"], PC_CELL["tau_m"]
        r = tau_m / PC_CELL["cm"]
        # exact continuous solution from the moment the spike acts
        exact_v = w * r * tau_s / (tau_m - tau_s) * (np.exp(-t_fine / tau_m)
                                                     - np.exp(-t_fine / tau_s))
        ax_v.plot(t_fine, exact_v, color="0.6", lw=1, label="exact (continuous)")
        ax_i.plot(t_fine, w * np.exp(-t_fine / tau_s), color="0.6", lw=1,
                  label="exact (continuous)")
        calc = charge_per_spike(w)
        held = calc["held_current_na"] * np.exp(-np.floor(t_fine / DT) * DT / tau_s)
        ax_i.step(t_fine, held, where="post", color="tab:red", lw=1,
                  label="sPyNNaker: held over each tick")
        for (ww, target), tr in traces.items():
            if ww != w:
                continue
            arrive = int(np.argmax(np.abs(tr["v"] - V_INIT) > 1e-9))
            t0 = tr["t"][arrive] - DT  # the step the current acts in starts here
            ax_v.plot(tr["t"] - t0, tr["v"] - V_INIT, "o-", ms=3, lw=0.8, label=target)
        ax_v.axhline(PC_CELL["v_thresh"] - PC_CELL["v_rest"], color="k", ls=":", lw=0.8)
        ax_v.set_title(f"one spike of {w:g} nA (tau_syn 0.3 ms, tau_m 3 ms, dt 1 ms)",
                       fontsize=8)
        ax_v.set_ylabel("v - v_rest (mV)")
        ax_i.set_ylabel("synaptic current (nA)")
        ax_i.set_xlabel("time since the spike acts (ms)")
        ax_v.legend(fontsize=6)
        ax_i.legend(fontsize=6)
        ax_v.set_xlim(0, 6)
    fig.tight_layout()
    fig.savefig(out / "ca3_one_spike.png", dpi=120)
    plt.close(fig)
    return rows


# --------------------------------------------------------------------------- command line


def options(argv: Sequence[str] | None = None) -> tuple[str, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("simulator", help="PyNN backend: brian2, nest, spikeport, ...")
    parser.add_argument("--experiment", choices=sorted(EXPERIMENTS), default="orthogonal")
    parser.add_argument("--memory", choices=["learn", "stored"], default="learn",
                        help="learn with STDP (published), or load the stored memory as "
                             "static weights and present only the cues")
    parser.add_argument("--weights", type=Path, help="static PC->PC weights (.npy, 15x15 "
                        "pre x post, nA) instead of learning; only the cues are presented")
    parser.add_argument("--dendritic-delay-fraction", type=float, default=0.0,
                        help="STDPMechanism's dendritic_delay_fraction (sPyNNaker: 1; "
                             "pyNN.brian2 and spikeport: 0)")
    parser.add_argument("--save-weights", type=Path, help="write the final PC->PC weights")
    parser.add_argument("--plot", type=Path, help="write the raster with recall windows")
    parser.add_argument("--targets", nargs="*", metavar="TARGET",
                        help="with spikeport: run every variant on these targets (none "
                             "named: all) and tabulate recall, refusals and cost per step")
    parser.add_argument("--out", type=Path, default=Path("build/ca3_memory"),
                        help="where --targets writes its table and figures")
    args = parser.parse_args(argv)
    return args.simulator, args


def main(argv: Sequence[str] | None = None) -> int:
    import importlib

    name, args = options(argv)
    if name == "spikeport":
        import toolchain.pynn  # noqa: F401  (registers pyNN.spikeport)
    if args.targets is not None:
        if name != "spikeport":
            raise SystemExit("--targets runs the model on spikeport's targets: give "
                             "'spikeport' as the simulator")
        study(args.out, args.targets or None)
        return 0
    sim = importlib.import_module(f"pyNN.{name}")
    experiment = EXPERIMENTS[args.experiment]
    weights = None
    if args.weights is not None:
        weights = np.load(args.weights)
        if weights.shape != (N_CELLS, N_CELLS):
            raise SystemExit(f"--weights {args.weights}: shape {weights.shape}, expected "
                             f"({N_CELLS}, {N_CELLS}) (pre x post)")
    elif args.memory == "stored":
        weights = stored_memory(experiment.patterns)
    out = run(sim, experiment, weights=weights,
              dendritic_delay_fraction=args.dendritic_delay_fraction)
    recalls = score(out["spikes"], experiment.patterns)
    how = "stored memory, cues only" if weights is not None else "learning with STDP"
    print(f"CA3 oscillatory model on pyNN.{name}: {args.experiment} ({experiment.about}); "
          f"{how}")
    print(format_recalls(recalls))
    if args.save_weights:
        np.save(args.save_weights, out["weights"])
    if args.plot:
        save_raster(args.plot, out["spikes"], experiment,
                    f"{args.experiment} on pyNN.{name} ({how})", stored=weights is not None)
        print(f"raster: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
