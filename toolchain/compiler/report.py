"""The compile report: a printable text summary, the same as JSON data, and a placement
figure.

All three are rendered from the artifact alone, so ``spikeport report`` on a saved artifact
shows exactly what the compiler printed.  The JSON form (:func:`report_data`) is the same
for every target (schema: ``report.schema.json`` beside this module, described in
docs/formats.md); design-space exploration and the portability matrix read their figures
from it.  A target's own part of the report is a :class:`ReportSection` its passes put in
the artifact; the shared report renders every section it finds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.compiler.artifact import CompiledNetwork, StepEstimate

# Per-core tables longer than this show the busiest cores only.
MAX_CORE_LINES = 40
SCHEMA = Path(__file__).with_name("report.schema.json")
SCHEMA_ID = "spikeport-compile-report/1"


@dataclass(frozen=True)
class Measured:
    """What a run of the compiled network showed, for the report's ``measured`` part.

    ``estimate`` is the target's own cost model at the run's activity (populations at the
    rates they fired at); ``energy_pj_per_step``/``wall_ns_per_step`` are the run's own
    counters where the target's simulator keeps them (the FPGA's cycles, DYNAP-SE's
    events), else None.
    """

    t_stop_ms: float
    steps: int
    synaptic_events_per_step: float
    spikes_per_step: float
    estimate: StepEstimate
    energy_pj_per_step: float | None = None
    wall_ns_per_step: float | None = None


# --------------------------------------------------------------------------- text


def render_report(art: CompiledNetwork) -> str:
    net, cores, pl, est = art.network, art.cores, art.placement, art.estimate
    out: list[str] = []
    add = out.append
    add(f"spikeport compile report: network '{net.label}' on {art.target} ({art.board})")
    add(f"  {net.n_neurons} neurons in {len(net.populations)} populations, "
        f"{net.n_synapses} synapses in {len(net.projections)} projections, dt = {net.dt:g} ms")
    slices = f" ({len(cores)} population slices)" if len(cores) != art.cores_used else ""
    support = (f", {art.support_cores} of them holding no neurons"
               if art.support_cores else "")
    add(f"  cores used: {art.cores_used}{slices}{support}   chips used: {art.chips_used}")
    if art.violations:
        add("")
        add(f"DOES NOT FIT: {len(art.violations)} limit(s) broken")
        for v in art.violations:
            add(f"  - {v.message}")
    if art.fit != "strict" or art.approximations:
        add("")
        _approximations(art, add)

    if len(cores):
        add("")
        _cores_table(art, add)
        add("")
        add("Placement and routing")
        add(f"  method: {pl.method}")
        add(f"  spike messages x hops (all neurons firing once): {pl.cost:.0f}; in-order "
            f"placement: {pl.in_order_cost:.0f}; gain x{pl.gain:.2f}")
        r = art.routes
        if len(r):
            hops = r.hops_x + r.hops_y
            total = int(r.messages.sum())
            add(f"  routes ({r.level} pairs): {len(r)}, messages per all-fire step: {total}, "
                f"mean hops {float((hops * r.messages).sum()) / max(total, 1):.2f}, max hops "
                f"{int(hops.max())}, messages crossing chips "
                f"{int(r.messages[r.chip_crossings > 0].sum())}, from the host "
                f"{int(r.messages[r.src < 0].sum())}")

    add("")
    add("Quantisation per projection (semantic effects)")
    width = max([len("projection"), *(len(p.label) for p in net.projections)])
    add(f"  {'projection':<{width}} {'synapses':>9} {'exp':>4} {'bits':>4} {'lsb':>10} "
        f"{'zeroed':>8} {'saturated':>9} {'max |err|':>10} {'delay steps':>11} {'rounded':>8}")
    for proj, q in zip(net.projections, art.numerics, strict=True):
        add(f"  {proj.label:<{width}} {proj.size:>9} {q.exponent:>4} {q.weight_bits:>4} "
            f"{q.lsb:>10.3g} {q.zeroed:>8} {q.saturated:>9} {q.max_abs_error:>10.3g} "
            f"{f'{q.min_delay_steps}..{q.max_delay_steps}':>11} {q.delays_rounded:>8}")

    add("")
    add(f"Estimated cost per step (physical; the compiler's estimate, "
        f"{_activity_text(est)})")
    if math.isfinite(est.wall_ns):
        add(f"  wall time {est.wall_ns / 1e3:.3f} us = compute {est.compute_ns / 1e3:.3f} us "
            f"(slowest core {est.slowest_core}) + NoC {est.noc_ns / 1e3:.3f} us + barrier "
            f"{est.barrier_ns / 1e3:.3f} us")
    add(f"  events: {est.synaptic_ops:.4g} synaptic ops, {est.neuron_updates:.4g} neuron "
        f"updates, {est.spikes_out:.4g} spike messages, "
        f"{est.hop_messages_x + est.hop_messages_y:.4g} hops")
    if math.isfinite(est.energy_pj):
        add(f"  energy {est.energy_pj / 1e3:.4g} nJ = synops {est.energy_synops_pj / 1e3:.4g} "
            f"+ updates {est.energy_updates_pj / 1e3:.4g} + spikes "
            f"{est.energy_spikes_pj / 1e3:.4g} + NoC {est.energy_noc_pj / 1e3:.4g} nJ")
    else:
        add("  energy and time: not modelled on this target")
    for section in art.sections:
        add("")
        add(section.title)
        out.extend(section.lines)
    return "\n".join(out) + "\n"


def _approximations(art: CompiledNetwork, add) -> None:  # type: ignore[no-untyped-def]
    if not art.approximations:
        add(f"Approximations (fit={art.fit}): none needed, the network fits as written")
        return
    add(f"Approximations applied (fit={art.fit}; they change what the network computes)")
    for a in art.approximations:
        touched = ", ".join(f"{n} {what}" for n, what in ((a.neurons, "neurons"),
                                                           (a.synapses, "synapses")) if n)
        relieved = f", for {a.limit}" if a.limit else ""
        add(f"  - {a.name}: {a.subject}{relieved} ({touched or 'parameters only'}): "
            f"{a.detail}")


def _activity_text(est: StepEstimate) -> str:
    if est.basis == "measured":
        return "populations at the rates of a run"
    return f"populations at a planned {est.rate_hz:g} Hz, sources as defined"


def _cores_table(art: CompiledNetwork, add) -> None:  # type: ignore[no-untyped-def]
    net, cores, pl = art.network, art.cores, art.placement
    limits = art.limits
    add("Per-core utilisation (limits from the target spec"
        + (f": {_limits_text(art)})" if limits is not None else ")"))
    width = max([len("population"), *(len(p.label) for p in net.populations)])
    add(f"  {'core':>5} {'chip':>4} {'x':>3} {'y':>3} {'population':<{width}} {'neurons':>7} "
        f"{'in_ax':>6} {'out_ax':>6} {'synapses':>9} {'syn_bits':>9} {'cfg n/t/s/l':>12}")
    order = np.arange(len(cores))
    if len(cores) > MAX_CORE_LINES:
        order = np.argsort(-cores.synapse_bits, kind="stable")[:MAX_CORE_LINES]
        add(f"  ({len(cores)} cores; the {MAX_CORE_LINES} with most synapse memory are shown)")
    for c in order:
        pop = net.populations[cores.population[c]].label
        cfg = (f"{cores.neuron_configs[c]}/{cores.threshold_configs[c]}/"
               f"{cores.synapse_configs[c]}/{cores.learning_configs[c]}")
        add(f"  {c:>5} {pl.chip[c]:>4} {pl.x[c]:>3} {pl.y[c]:>3} {pop:<{width}} "
            f"{cores.neurons[c]:>7} {cores.input_axons[c]:>6} {cores.output_axons[c]:>6} "
            f"{cores.synapses[c]:>9} {cores.synapse_bits[c]:>9} {cfg:>12}")
    add("  peak use: " + ", ".join(
        f"{name} {int(getattr(cores, name).max())}"
        for name in ("input_axons", "output_axons", "synapse_bits")
    ) + f", neurons {int(cores.neurons.max())}")


def _limits_text(art: CompiledNetwork) -> str:
    lim = art.limits
    assert lim is not None
    parts = [f"{name} {getattr(lim, name)}" for name in
             ("neurons", "input_axons", "output_axons", "synapse_bits")
             if getattr(lim, name) is not None]
    return ", ".join(parts)


# --------------------------------------------------------------------------- JSON


def _num(x: float) -> float | None:
    """A finite number, or None (JSON null) for a figure the target has no model for."""
    return float(x) if math.isfinite(x) else None


def _estimate_data(est: StepEstimate, step_ms: float, source: str) -> dict[str, object]:
    return {
        "source": source,
        "activity": est.basis,
        "planned_rate_hz": _num(est.rate_hz),
        "step_ms": step_ms,
        "synaptic_events_per_step": est.synaptic_ops,
        "neuron_updates_per_step": est.neuron_updates,
        "spikes_per_step": est.spikes_out,
        "hops_per_step": est.hop_messages_x + est.hop_messages_y,
        "energy_nj_per_step": _num(est.energy_pj / 1e3),
        "latency_us_per_step": _num(est.wall_ns / 1e3),
        "compute_us": _num(est.compute_ns / 1e3),
        "noc_us": _num(est.noc_ns / 1e3),
        "barrier_us": _num(est.barrier_ns / 1e3),
        "energy_nj": {
            "synaptic": _num(est.energy_synops_pj / 1e3),
            "neuron_updates": _num(est.energy_updates_pj / 1e3),
            "spikes": _num(est.energy_spikes_pj / 1e3),
            "interconnect": _num(est.energy_noc_pj / 1e3),
        },
    }


def report_data(art: CompiledNetwork, measured: Measured | None = None) -> dict[str, object]:
    """The report as JSON-ready data, the same shape for every target."""
    net, pl, r = art.network, art.placement, art.routes
    step_ms = _step_ms(art)
    hops = r.hops_x + r.hops_y
    total = int(r.messages.sum())
    data: dict[str, object] = {
        "schema": SCHEMA_ID,
        "target": art.target,
        "board": art.board,
        "options": dict(art.options),
        "network": {"label": net.label, "neurons": net.n_neurons, "synapses": net.n_synapses,
                    "populations": len(net.populations), "projections": len(net.projections),
                    "dt_ms": net.dt},
        "fits": art.fits,
        "fit": art.fit,
        "approximations": [{"name": a.name, "element": a.element, "label": a.label,
                            "limit": a.limit, "neurons": a.neurons, "synapses": a.synapses,
                            "detail": a.detail} for a in art.approximations],
        "cores_used": art.cores_used,
        "population_slices": len(art.cores),
        "chips_used": art.chips_used,
        "violations": [{"element": v.element, "label": v.label, "limit": v.limit,
                        "value": v.value, "allowed": v.allowed, "excess": v.excess,
                        "fix": v.fix, "message": v.message} for v in art.violations],
        "limits": None if art.limits is None else {
            name: getattr(art.limits, name) for name in
            ("neurons", "input_axons", "output_axons", "synapse_bits", "neuron_configs",
             "threshold_configs", "synapse_configs", "learning_configs")},
        "peak_use": {name: int(getattr(art.cores, name).max()) if len(art.cores) else 0
                     for name in ("neurons", "input_axons", "output_axons", "synapses",
                                  "synapse_bits")},
        "placement": {"method": pl.method, "cost": pl.cost, "in_order_cost": pl.in_order_cost,
                      "gain": pl.gain},
        "routes": {"level": r.level, "count": len(r), "messages": total,
                   "mean_hops": float((hops * r.messages).sum()) / max(total, 1),
                   "max_hops": int(hops.max()) if len(r) else 0,
                   "messages_crossing_chips": int(r.messages[r.chip_crossings > 0].sum()),
                   "messages_from_host": int(r.messages[r.src < 0].sum())},
        "projections": [{"label": p.label, "synapses": p.size, "weight_bits": q.weight_bits,
                         "lsb": _num(q.lsb), "zeroed": q.zeroed, "saturated": q.saturated,
                         "max_abs_error": q.max_abs_error,
                         "min_delay_steps": q.min_delay_steps,
                         "max_delay_steps": q.max_delay_steps,
                         "delays_rounded": q.delays_rounded,
                         "max_delay_error_ms": q.max_delay_error}
                        for p, q in zip(net.projections, art.numerics, strict=True)],
        "estimate": _estimate_data(art.estimate, step_ms, "compiler"),
        "measured": None if measured is None else _measured_data(measured, step_ms),
        "sections": [{"title": s.title, "lines": list(s.lines), "values": dict(s.values)}
                     for s in art.sections],
    }
    return data


def _measured_data(m: Measured, step_ms: float) -> dict[str, object]:
    model = _estimate_data(m.estimate, step_ms, "run")
    counters = m.energy_pj_per_step is not None
    return {
        "source": "run",
        "t_stop_ms": m.t_stop_ms,
        "steps": m.steps,
        "synaptic_events_per_step": m.synaptic_events_per_step,
        "spikes_per_step": m.spikes_per_step,
        "neuron_updates_per_step": model["neuron_updates_per_step"],
        "energy_nj_per_step": (m.energy_pj_per_step / 1e3 if counters
                               else model["energy_nj_per_step"]),
        "latency_us_per_step": (m.wall_ns_per_step / 1e3 if m.wall_ns_per_step is not None
                                else model["latency_us_per_step"]),
        "energy_from": ("the run's counters" if counters
                        else "the cost model at the run's activity"),
        "model_at_run_activity": model,
    }


def _step_ms(art: CompiledNetwork) -> float:
    """The step the estimate is per: the network's dt, or a target's own (a timer tick)."""
    return art.estimate.step_ms or art.network.dt


def report_json(art: CompiledNetwork, measured: Measured | None = None) -> str:
    return json.dumps(report_data(art, measured), indent=1, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- figure


# a 10 % microcircuit on Loihi has 340k core pairs with traffic: drawing them all took 9 s
# of a 15 s compile and showed a grey cloud
MAX_TRAFFIC_LINES = 2000


def placement_figure(art: CompiledNetwork, path: str | Path) -> Path:
    """The cores on the mesh (coloured by population) with the traffic between them; for a
    build of one chip with a handful of cores (the FPGA core, a DYNAP-SE chip, a single
    tile) the mesh says nothing, so the figure shows each core's use of its limits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if figure_kind(art) == "utilisation":
        fig = _utilisation_figure(art, plt)
    else:
        fig = _mesh_figure(art, plt)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure_kind(art: CompiledNetwork) -> str:
    """"mesh" (cores on the tile mesh with their traffic), or "utilisation" (each core's use
    of its limits) for a build whose cores share one tile, or one chip of a few cores."""
    tiles = np.unique(np.stack([art.placement.x, art.placement.y], axis=1), axis=0) \
        if len(art.placement) else np.zeros((0, 2))
    few = art.chips_used <= 1 and len(art.cores) <= 8
    return "utilisation" if len(tiles) <= 1 or few else "mesh"


def _utilisation_figure(art: CompiledNetwork, plt):  # type: ignore[no-untyped-def]
    """Bars: per core (population slice), the share of each per-core limit it uses."""
    cores, lim = art.cores, art.limits
    names = [n for n in ("neurons", "input_axons", "output_axons", "synapse_bits")
             if lim is not None and getattr(lim, n)]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    labels = [f"{c}: {art.network.populations[cores.population[c]].label}"
              for c in range(len(cores))]
    width = 0.8 / max(len(names), 1)
    for k, name in enumerate(names):
        used = getattr(cores, name).astype(float) / float(getattr(lim, name))
        ax.bar(np.arange(len(cores)) + (k - (len(names) - 1) / 2) * width, 100 * used,
               width, label=f"{name} (limit {getattr(lim, name)})")
    ax.axhline(100, color="0.3", lw=1, ls="--")
    ax.set_xticks(np.arange(len(cores)), labels, rotation=20 if len(cores) > 3 else 0,
                  ha="right" if len(cores) > 3 else "center")
    ax.set_ylabel("use of the per-core limit (%)")
    if not names:
        ax.text(0.5, 0.5, "no per-core limits on this target", transform=ax.transAxes,
                ha="center")
    ax.set_title(f"{art.network.label} on {art.target} ({art.board}): {art.cores_used} "
                 f"core(s), {len(cores)} population slice(s)")
    if names:
        ax.legend(fontsize=8)
    return fig


def traffic_lines(art: CompiledNetwork, cx: np.ndarray, cy: np.ndarray,
                  most: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """The placement figure's traffic: (segments, messages, a note for the title).  Core
    pairs beyond ``most`` (MAX_TRAFFIC_LINES) are summed per tile pair, and only the
    heaviest ``most`` pairs are drawn, the note saying what share of the traffic they
    carry: thousands of lines read as a grey cloud and take seconds to draw."""
    most = MAX_TRAFFIC_LINES if most is None else most
    pl, routes = art.placement, art.routes
    segs = np.zeros((0, 2, 2))
    w = np.zeros(0)
    if len(routes) and routes.level == "core":
        keep = (routes.src >= 0) & (routes.src != routes.dst)
        src, dst, w = routes.src[keep], routes.dst[keep], routes.messages[keep]
        segs = np.stack([np.stack([cx[src], cy[src]], 1), np.stack([cx[dst], cy[dst]], 1)], 1)
    elif len(routes):  # chip pairs: lines between chip centres
        keep = (routes.src >= 0) & (routes.src != routes.dst)
        src, dst, w = routes.src[keep], routes.dst[keep], routes.messages[keep]
        chip_y, chip_x = np.divmod(np.stack([src, dst], 1), pl.chips_x)
        segs = np.stack([(chip_x + 0.5) * pl.tiles_x - 0.5, (chip_y + 0.5) * pl.tiles_y - 0.5],
                        axis=2)
    shown = ""
    if w.size > most and len(routes) and routes.level == "core":
        # so many core pairs read as a grey cloud: sum them per tile pair, drawn centre to
        # centre, so the lines show where the traffic goes
        width = int(pl.x.max()) + 1
        tile = pl.y * width + pl.x
        pairs, inverse = np.unique(np.stack([tile[src], tile[dst]], 1), axis=0,
                                   return_inverse=True)
        w = np.bincount(inverse.ravel(), weights=w, minlength=len(pairs))
        keep = pairs[:, 0] != pairs[:, 1]
        pairs, w = pairs[keep], w[keep]
        y, x = np.divmod(pairs, width)  # a tile's centre, from its number
        segs = np.stack([x, y], axis=2).astype(float)
        shown = f"\nlines: traffic between tiles ({src.size:,} core pairs)"
    if w.size > most:  # the heaviest: more lines only blur (and take seconds)
        top = np.argpartition(w, -most)[-most:]
        shown += (f"{'; ' if shown else chr(10) + 'lines: '}heaviest {most:,} "
                  f"of {w.size:,} pairs, {w[top].sum() / w.sum():.0%} of the traffic")
        segs, w = segs[top], w[top]
    return segs, w, shown


def _mesh_figure(art: CompiledNetwork, plt):  # type: ignore[no-untyped-def]
    from matplotlib.collections import LineCollection

    pl, cores = art.placement, art.cores
    # cores of one tile sit in a 2x2 pattern inside the tile's unit square
    ox = np.array([-0.2, 0.2, -0.2, 0.2])
    oy = np.array([-0.2, -0.2, 0.2, 0.2])
    cx = pl.x + ox[pl.slot % 4]
    cy = pl.y + oy[pl.slot % 4]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    segs, w, shown = traffic_lines(art, cx, cy)
    if w.size:
        ax.add_collection(LineCollection(segs, linewidths=0.3 + 3.0 * w / w.max(),
                                         colors="0.4", alpha=0.35, zorder=1))
    cmap = plt.get_cmap("tab20")
    for k, pop in enumerate(art.network.populations):
        sel = cores.population == k
        if sel.any():
            ax.scatter(cx[sel], cy[sel], s=18, color=cmap(k % 20), label=pop.label, zorder=2)
    chips_x = int(pl.x.max()) // pl.tiles_x + 1
    chips_y = int(pl.y.max()) // pl.tiles_y + 1
    width, height = chips_x * pl.tiles_x, chips_y * pl.tiles_y
    for gx in range(width + 1):  # tiles thin, chips bold
        ax.axvline(gx - 0.5, color="0.85" if gx % pl.tiles_x else "0.3",
                   lw=0.4 if gx % pl.tiles_x else 1.2, zorder=0)
    for gy in range(height + 1):
        ax.axhline(gy - 0.5, color="0.85" if gy % pl.tiles_y else "0.3",
                   lw=0.4 if gy % pl.tiles_y else 1.2, zorder=0)
    ax.set_xlim(-0.6, width - 0.4)
    ax.set_ylim(-0.6, height - 0.4)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("tile x")
    ax.set_ylabel("tile y")
    ax.set_aspect("equal")
    ax.set_title(f"{art.network.label} on {art.target} ({art.board}): {art.cores_used} cores, "
                 f"traffic x hops {pl.cost:.0f} (in order {pl.in_order_cost:.0f}){shown}",
                 fontsize=10 if shown else None)
    if len(art.network.populations) <= 20:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig
