"""The compile report: a printable text summary and a placement figure.

Both are rendered from the artifact alone, so ``spikeport report`` on a saved artifact
shows exactly what the compiler printed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolchain.compiler.artifact import CompiledNetwork

# Per-core tables longer than this show the busiest cores only.
MAX_CORE_LINES = 40


def render_report(art: CompiledNetwork) -> str:
    net, cores, pl, est = art.network, art.cores, art.placement, art.estimate
    out: list[str] = []
    add = out.append
    add(f"spikeport compile report: network '{net.label}' on {art.target} ({art.board})")
    add(f"  {net.n_neurons} neurons in {len(net.populations)} populations, "
        f"{net.n_synapses} synapses in {len(net.projections)} projections, dt = {net.dt:g} ms")
    add(f"  cores used: {len(cores)}   chips used: {art.chips_used}")
    if art.violations:
        add("")
        add(f"DOES NOT FIT: {len(art.violations)} limit(s) broken")
        for v in art.violations:
            add(f"  - {v}")

    add("")
    add("Per-core utilisation (limits from the target spec)")
    header = (f"  {'core':>5} {'chip':>4} {'x':>3} {'y':>3} {'population':<14} {'neurons':>7} "
              f"{'in_ax':>6} {'out_ax':>6} {'synapses':>9} {'syn_bits':>9} {'cfg n/t/s/l':>12}")
    add(header)
    order = np.arange(len(cores))
    if len(cores) > MAX_CORE_LINES:
        order = np.argsort(-cores.synapse_bits, kind="stable")[:MAX_CORE_LINES]
        add(f"  ({len(cores)} cores; the {MAX_CORE_LINES} with most synapse memory are shown)")
    for c in order:
        pop = net.populations[cores.population[c]].label
        cfg = (f"{cores.neuron_configs[c]}/{cores.threshold_configs[c]}/"
               f"{cores.synapse_configs[c]}/{cores.learning_configs[c]}")
        add(f"  {c:>5} {pl.chip[c]:>4} {pl.x[c]:>3} {pl.y[c]:>3} {pop[:14]:<14} "
            f"{cores.neurons[c]:>7} {cores.input_axons[c]:>6} {cores.output_axons[c]:>6} "
            f"{cores.synapses[c]:>9} {cores.synapse_bits[c]:>9} {cfg:>12}")
    if len(cores):
        add("  peak use: " + ", ".join(
            f"{name} {int(getattr(cores, name).max())}"
            for name in ("input_axons", "output_axons", "synapse_bits")
        ) + f", neurons {int(cores.neurons.max())}")

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
    add(f"  {'projection':<20} {'synapses':>9} {'exp':>4} {'bits':>4} {'lsb':>10} "
        f"{'zeroed':>8} {'saturated':>9} {'max |err|':>10} {'delay steps':>11} {'rounded':>8}")
    for proj, q in zip(net.projections, art.numerics, strict=True):
        add(f"  {proj.label[:20]:<20} {proj.size:>9} {q.exponent:>4} {q.weight_bits:>4} "
            f"{q.lsb:>10.3g} {q.zeroed:>8} {q.saturated:>9} {q.max_abs_error:>10.3g} "
            f"{f'{q.min_delay_steps}..{q.max_delay_steps}':>11} {q.delays_rounded:>8}")

    add("")
    add(f"Estimated cost per step (physical; assumes populations fire at {est.rate_hz:g} Hz)")
    add(f"  wall time {est.wall_ns / 1e3:.3f} us = compute {est.compute_ns / 1e3:.3f} us "
        f"(slowest core {est.slowest_core}) + NoC {est.noc_ns / 1e3:.3f} us + barrier "
        f"{est.barrier_ns / 1e3:.3f} us")
    add(f"  events: {est.synaptic_ops:.4g} synaptic ops, {est.neuron_updates:.4g} neuron "
        f"updates, {est.spikes_out:.4g} spike messages, "
        f"{est.hop_messages_x + est.hop_messages_y:.4g} hops")
    add(f"  energy {est.energy_pj / 1e3:.4g} nJ = synops {est.energy_synops_pj / 1e3:.4g} + "
        f"updates {est.energy_updates_pj / 1e3:.4g} + spikes {est.energy_spikes_pj / 1e3:.4g} "
        f"+ NoC {est.energy_noc_pj / 1e3:.4g} nJ")
    return "\n".join(out) + "\n"


def placement_figure(art: CompiledNetwork, path: str | Path) -> Path:
    """Draw the cores on the mesh (coloured by population) and the traffic between them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    path = Path(path)
    pl, cores, routes = art.placement, art.cores, art.routes
    # cores of one tile sit in a 2x2 pattern inside the tile's unit square
    ox = np.array([-0.2, 0.2, -0.2, 0.2])
    oy = np.array([-0.2, -0.2, 0.2, 0.2])
    cx = pl.x + ox[pl.slot % 4]
    cy = pl.y + oy[pl.slot % 4]
    fig, ax = plt.subplots(figsize=(9, 5.5))
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
    if w.size:
        ax.add_collection(LineCollection(segs, linewidths=0.3 + 3.0 * w / w.max(),
                                         colors="0.4", alpha=0.35, zorder=1))
    cmap = plt.get_cmap("tab20")
    for k, pop in enumerate(art.network.populations):
        sel = cores.population == k
        if sel.any():
            ax.scatter(cx[sel], cy[sel], s=18, color=cmap(k % 20), label=pop.label, zorder=2)
    if len(pl):
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
    ax.set_xlabel("tile x")
    ax.set_ylabel("tile y")
    ax.set_aspect("equal")
    ax.set_title(f"{art.network.label} on {art.target} ({art.board}): {len(cores)} cores, "
                 f"traffic x hops {pl.cost:.0f} (in order {pl.in_order_cost:.0f})")
    if len(art.network.populations) <= 20:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
