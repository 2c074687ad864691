"""Motion detection with heterogeneous synaptic delays (Grimaldi & Perrinet, "Learning
heterogeneous delays in a layer of spiking neurons for fast motion detection", Biol.
Cybern. 2023, arXiv:2307.14077), on a synthetic event camera, in plain PyNN.

A retina of S x S pixels with ON and OFF polarities sees bars (or dots) moving in one of K
directions at one of several speeds.  A layer of detector neurons, one per motion (a
direction and a speed) at each position of a grid, sees a P x P patch of both polarities
through synapses that each carry their own delay (1 .. D ms): a motion is a slanted line in
(position, time), and the delays bring its events together at the detector.  As in the
paper, the kernel of a motion (a weight per polarity, patch offset and delay, shared by
all positions) is fitted offline as a time-invariant logistic regression on labelled event
streams (numpy only), then written into a PyNN network as ``FromListConnector`` (weight,
delay) pairs; the direction read out is the one whose detectors, all speeds together, fire
most.  Pruning keeps
the largest |weights| of the kernel: accuracy against the fraction of synapses kept is the
paper's pruning figure.

    python examples/motion_delays.py brian2 [--size 16] [--keep 1 0.1 0.02]
    spikeport pynn examples/motion_delays.py spikeport --keep 0.1
    python examples/motion_delays.py spikeport --targets     # every target, per fraction
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DT = 1.0  # ms
ON, OFF = 0, 1


@dataclass(frozen=True)
class Task:
    """The stimuli, the detector layout and the readout, all seeded."""

    size: int = 16  # retina S x S pixels
    directions: int = 4  # evenly spaced from 0 degrees (rightwards), counter-clockwise
    speeds: tuple[float, ...] = (0.25, 0.5, 1.0)  # px/ms
    stimulus: str = "texture"  # "texture", "edges", "bars" (2 px wide) or "dots"
    duration: int = 24  # ms of motion per stimulus
    noise_hz: float = 1.0  # background events per pixel and polarity
    patch: int = 7  # P: detector receptive field, P x P pixels
    stride: int = 3  # detector grid spacing (px)
    max_delay: int = 20  # D: delays 1 .. D ms
    n_train: int = 96
    n_test: int = 24
    seed: int = 1

    @property
    def gap(self) -> int:
        """Silence after a stimulus, so the next starts with no delayed input in flight."""
        return self.max_delay + 4

    @property
    def centres(self) -> list[tuple[int, int]]:
        r = self.patch // 2
        axis = range(r, self.size - r, self.stride)
        return [(y, x) for y in axis for x in axis]

    @property
    def n_inputs(self) -> int:
        return 2 * self.size * self.size

    @property
    def motions(self) -> int:
        """Detector kinds: every (direction, speed); motion m = direction * speeds + speed."""
        return self.directions * len(self.speeds)

    def direction(self, motion: np.ndarray) -> np.ndarray:
        return np.asarray(motion) // len(self.speeds)


# --------------------------------------------------------------------------- event streams


def events(task: Task, direction: int, speed: float, rng: np.random.Generator) -> np.ndarray:
    """One stimulus as a binary (time, polarity, y, x) array, 1 ms bins.

    An ON (OFF) event is a pixel that became brighter (darker) since the last ms.  A texture
    (stripes of random width and shade, like a patch of natural image) and an edge (its
    bright side behind or ahead of it at random) look the same in one instant whichever
    way they move: only the order of events in time tells the direction.  A bar or a dot
    has its ON events ahead of its OFF events, which gives the direction away at once.
    """
    s, t_len = task.size, task.duration
    theta = 2 * np.pi * direction / task.directions
    u = np.array([np.cos(theta), np.sin(theta)])
    yy, xx = np.mgrid[0:s, 0:s].astype(float)
    along = xx * u[0] + yy * u[1]  # position along the motion axis
    across = -xx * u[1] + yy * u[0]
    span = np.ptp(along)
    # the pattern's position at the middle of the stimulus is anywhere over the retina
    start = along.min() + rng.uniform(0, span) - speed * t_len / 2
    if task.stimulus == "texture":
        # stripes of 2 to 6 px, bright or dark at random, across the motion axis
        reach = span + speed * t_len + 2 * s
        runs = rng.integers(2, 7, size=int(reach))
        bounds = along.min() - speed * t_len - s + np.cumsum(runs)
        shade = rng.random(bounds.size + 1) < 0.5

        def lum(t: float) -> np.ndarray:
            return shade[np.searchsorted(bounds, along - speed * (t - t_len / 2))].astype(float)
    elif task.stimulus == "edges":
        bright_behind = rng.random() < 0.5

        def lum(t: float) -> np.ndarray:
            behind = along < start + speed * t
            return (behind == bright_behind).astype(float)
    elif task.stimulus == "bars":
        def lum(t: float) -> np.ndarray:
            phase = along - (start + speed * t)
            return (np.abs(phase) < 1.0).astype(float)
    elif task.stimulus == "dots":
        n = max(4, s * s // 24)
        da = rng.uniform(along.min() - speed * t_len, along.max() + speed * t_len, n)
        dc = rng.uniform(across.min(), across.max(), n)
        centre = start - along.min() - (span - speed * t_len) / 2

        def lum(t: float) -> np.ndarray:
            a = along[..., None] - (da + centre + speed * t - start)
            return (np.min(a**2 + (across[..., None] - dc) ** 2, axis=-1) < 1.0).astype(float)
    else:
        raise ValueError(f"stimulus '{task.stimulus}': use 'texture', 'edges', 'bars' or "
                         "'dots'")
    out = np.zeros((t_len, 2, s, s), dtype=np.uint8)
    before = lum(-1.0)
    for t in range(t_len):
        now = lum(float(t))
        out[t, ON] = now > before
        out[t, OFF] = now < before
        before = now
    noise = rng.random(out.shape) < task.noise_hz * DT / 1000.0
    return np.maximum(out, noise.astype(np.uint8))


def stimuli(task: Task, n: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` stimuli with balanced motions (the labels) at random positions."""
    labels = rng.permutation(np.arange(n) % task.motions)
    n_s = len(task.speeds)
    streams = [events(task, int(m // n_s), float(task.speeds[m % n_s]), rng) for m in labels]
    return streams, labels


# --------------------------------------------------------------------------- the fit


def patch_features(task: Task, stream: np.ndarray) -> np.ndarray:
    """Features of every (time, centre): the patch's events over the last D ms, as
    (samples, 2 * P * P * D) with delay fastest, then x, y, polarity.  A detector at time
    t sees the event of time t - d through its synapse of delay d."""
    p, d_max = task.patch, task.max_delay
    r = p // 2
    t_len = stream.shape[0]
    padded = np.concatenate([np.zeros((d_max, *stream.shape[1:]), np.uint8), stream,
                             np.zeros((d_max, *stream.shape[1:]), np.uint8)])
    rows = []
    for t in range(1, t_len + d_max + 1):  # detector times, shifted by the padding
        window = padded[t + d_max - d_max:t + d_max][::-1]  # delay 1 .. D (newest first)
        for (y, x) in task.centres:
            cut = window[:, :, y - r:y + r + 1, x - r:x + r + 1]  # (D, 2, P, P)
            rows.append(cut.transpose(1, 2, 3, 0).reshape(-1))
    return np.asarray(rows, dtype=np.float32)


def kernel_shape(task: Task) -> tuple[int, int, int, int]:
    return (2, task.patch, task.patch, task.max_delay)


def training_samples(task: Task, features: Sequence[np.ndarray], labels: np.ndarray, *,
                     max_samples: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    """The (time, centre) samples the fit learns from: those whose patch holds an event
    in the last 2 ms and at least 3 in all (a patch the pattern is not passing says
    nothing about motion), at most ``max_samples``, drawn evenly from every stimulus."""
    xs, ys = [], []
    per_stream = max(1, max_samples // len(features))
    recent = np.zeros(kernel_shape(task), bool)
    recent[..., :2] = True
    recent = recent.ravel()
    rng = np.random.default_rng(task.seed)
    for f, k in zip(features, labels, strict=True):
        keep = np.flatnonzero((f[:, recent].sum(axis=1) >= 1) & (f.sum(axis=1) >= 3))
        if keep.size > per_stream:
            keep = rng.choice(keep, per_stream, replace=False)
        xs.append(f[keep])
        ys.append(np.full(keep.size, k))
    return np.concatenate(xs), np.concatenate(ys)


def fit(task: Task, x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, steps: int = 150,
        lr: float = 0.1) -> np.ndarray:
    """Multinomial logistic regression of the motion on patch features (the paper's
    time-invariant logistic regression, one kernel per motion), by Adam on the mean
    cross-entropy with an L2 penalty.  Returns the kernels (motions, 2, P, P, D)."""
    k_dirs = task.motions
    w = np.zeros((x.shape[1], k_dirs), dtype=np.float32)
    m, v = np.zeros_like(w), np.zeros_like(w)
    onehot = np.eye(k_dirs, dtype=np.float32)[y]
    for i in range(1, steps + 1):
        z = x @ w
        z -= z.max(axis=1, keepdims=True)
        prob = np.exp(z)
        prob /= prob.sum(axis=1, keepdims=True)
        grad = x.T @ (prob - onehot) / len(x) + l2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= lr * (m / (1 - 0.9**i)) / (np.sqrt(v / (1 - 0.999**i)) + 1e-8)
    return w.T.reshape(k_dirs, *kernel_shape(task))


def readout_accuracy(task: Task, kernels: np.ndarray, threshold: float,
                     features: Sequence[np.ndarray], labels: np.ndarray) -> float:
    """The fitted model read out like the network: per motion, how many (time, centre)
    samples exceed the threshold; the direction with most, over its speeds, wins."""
    return _readouts(task, kernels, [threshold], features, labels)[0]


def _readouts(task: Task, kernels: np.ndarray, thresholds: Sequence[float],
              features: Sequence[np.ndarray], labels: np.ndarray) -> list[float]:
    w = kernels.reshape(task.motions, -1)
    logits = [membrane(task, f @ w.T) for f in features]
    return [accuracy(task, np.array([(z > t).sum(axis=(0, 1)) for z in logits]), labels)
            for t in thresholds]


def membrane(task: Task, logits: np.ndarray) -> np.ndarray:
    """Logits (time x centre, motion) as the detectors' membranes sum them: filtered in
    time by the PSP's shape (in units of its first step), reset ignored.  The fit
    treats a detector's input as instantaneous; the membrane keeps each step's input for
    a few steps, so sustained evidence adds up, and the threshold has to know it."""
    z = logits.reshape(-1, len(task.centres), logits.shape[-1])
    h = psp_shape()
    out = np.zeros_like(z)
    for j, hj in enumerate(h):
        out[j:] += hj * z[:len(z) - j]
    return out


def calibrate(task: Task, kernels: np.ndarray, x: np.ndarray, y: np.ndarray,
              features: Sequence[np.ndarray], labels: np.ndarray) -> float:
    """The logit threshold that reads the training stimuli best, among fractions of the
    80th percentile of the true motion's logit over the training samples; refitted for
    every pruned kernel, whose logits are smaller."""
    w = kernels.reshape(task.motions, -1)
    top = float(np.percentile((x @ w.T)[np.arange(len(x)), y], 80))
    if top <= 0:
        return 1.0
    candidates = [top * f for f in (0.2, 0.3, 0.45, 0.6, 0.8, 1.0)]
    scores = _readouts(task, kernels, candidates, features, labels)
    return candidates[int(np.argmax(scores))]


def prune(kernels: np.ndarray, keep: float) -> np.ndarray:
    """Keep the fraction ``keep`` of kernel weights with the largest |w| (all motions
    together, as the paper prunes), zero the rest; ties at the cut go to the first."""
    flat = kernels.ravel()
    n = max(1, int(round(keep * flat.size)))
    out = np.zeros_like(flat)
    top = np.argsort(-np.abs(flat), kind="stable")[:n]
    out[top] = flat[top]
    return out.reshape(kernels.shape)


# --------------------------------------------------------------------------- the network

# Detector cells: the membrane is short so that it sums what arrives together, the
# synapse one step long (both time constants >= dt, which every target accepts).
DETECTOR = {"cm": 0.25, "tau_m": 2.0, "tau_syn_E": 1.0, "tau_syn_I": 1.0, "tau_refrac": 1.0,
            "v_rest": -65.0, "v_reset": -65.0, "v_thresh": -55.0, "i_offset": 0.0}


def psp_peak_mv_per_na() -> float:
    """The jump of v one step after a 1 nA spike arrives (exact solution)."""
    return _psp(1)


def _psp(steps: int) -> float:
    tm, ts = DETECTOR["tau_m"], DETECTOR["tau_syn_E"]
    r = tm / DETECTOR["cm"]
    return r * ts / (tm - ts) * (math.exp(-steps * DT / tm) - math.exp(-steps * DT / ts))


def psp_shape(length: int = 8) -> np.ndarray:
    """v at the end of each step after a spike, relative to the first step."""
    return np.array([_psp(j + 1) for j in range(length)]) / _psp(1)


def synapses(task: Task, kernels: np.ndarray, threshold: float
             ) -> tuple[list[tuple[int, int, float, float]], list[tuple[int, int, float, float]]]:
    """(pre, post, weight nA, delay ms) lists, excitatory and inhibitory: the kernel of
    each motion copied to every grid position, scaled so that the logit threshold is the
    firing threshold.  Input cell = polarity * S^2 + y * S + x; detector = motion *
    n_centres + centre."""
    s, r = task.size, task.patch // 2
    gain = (DETECTOR["v_thresh"] - DETECTOR["v_rest"]) / (threshold * psp_peak_mv_per_na())
    pol, dy, dx, dl = np.nonzero(np.ones(kernel_shape(task), bool))
    exc, inh = [], []
    for k in range(task.motions):
        w = kernels[k, pol, dy, dx, dl] * gain
        nz = w != 0
        for c, (y, x) in enumerate(task.centres):
            pre = pol[nz] * s * s + (y - r + dy[nz]) * s + (x - r + dx[nz])
            post = k * len(task.centres) + c
            for i, wi, d in zip(pre, w[nz], dl[nz] + 1, strict=True):
                (exc if wi > 0 else inh).append((int(i), post, float(wi), float(d)))
    return exc, inh


def schedule(task: Task, streams: Sequence[np.ndarray]) -> tuple[list[list[float]], float]:
    """The test stimuli one after another, ``gap`` ms apart: spike times per input cell."""
    times: list[list[float]] = [[] for _ in range(task.n_inputs)]
    period = task.duration + task.gap
    for n, stream in enumerate(streams):
        t, pol, y, x = np.nonzero(stream)
        for ti, cell in zip(t, pol * task.size**2 + y * task.size + x, strict=True):
            times[int(cell)].append(float(n * period + ti + 1))  # +1: no spike at t = 0
    return times, len(streams) * period


def build_and_run(sim, task: Task, kernels: np.ndarray, threshold: float,
                  streams: Sequence[np.ndarray]) -> np.ndarray:
    """The detector on PyNN backend ``sim``; returns spike counts (stimulus, motion)."""
    sim.setup(timestep=DT, min_delay=DT)
    times, t_stop = schedule(task, streams)
    retina = sim.Population(task.n_inputs, sim.SpikeSourceArray(spike_times=times),
                            label="retina")
    n_det = task.motions * len(task.centres)
    detectors = sim.Population(n_det, sim.IF_curr_exp(**DETECTOR), label="detectors")
    detectors.initialize(v=DETECTOR["v_rest"])
    exc, inh = synapses(task, kernels, threshold)
    for conns, receptor in ((exc, "excitatory"), (inh, "inhibitory")):
        if conns:
            sim.Projection(retina, detectors,
                           sim.FromListConnector(conns, column_names=["weight", "delay"]),
                           sim.StaticSynapse(), receptor_type=receptor,
                           label=f"retina->detectors ({receptor})")
    detectors.record("spikes")
    sim.run(t_stop)
    trains = detectors.get_data().segments[0].spiketrains
    spikes = {i: np.asarray(st.rescale("ms").magnitude) for i, st in enumerate(trains)}
    sim.end()
    return spike_counts(task, spikes, len(streams))


def spike_counts(task: Task, spikes: dict[int, np.ndarray], n_stimuli: int) -> np.ndarray:
    """Detector spikes per (stimulus, motion): a stimulus owns its duration plus the
    longest delay after its start."""
    period = task.duration + task.gap
    counts = np.zeros((n_stimuli, task.motions), dtype=np.int64)
    n_c = len(task.centres)
    for cell, t in spikes.items():
        stim = (np.asarray(t) // period).astype(int)
        stim = stim[(stim >= 0) & (stim < n_stimuli)]
        np.add.at(counts[:, cell // n_c], stim, 1)
    return counts


def accuracy(task: Task, counts: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of stimuli whose direction has the most detector spikes, all its speeds
    together (a tie or silence is wrong); ``counts`` per (stimulus, motion)."""
    counts = np.asarray(counts).reshape(len(counts), task.directions, -1).sum(axis=2)
    best = counts.max(axis=1)
    unique = (counts == best[:, None]).sum(axis=1) == 1
    right = np.argmax(counts, axis=1) == task.direction(labels)
    return float(np.mean(unique & (best > 0) & right))


# --------------------------------------------------------------------------- every target


def configurations(task: Task) -> list[tuple[str, str, dict]]:
    """(row label, target, options): every target as it comes, plus the FPGA core's larger
    preset (the iCE40's holds 128 inputs) and DYNAP-SE accepting delays it cannot make
    (they run with its routing latency instead: the approximation the delays lose to)."""
    from toolchain.targets import TARGETS

    rows = [(t, t, {}) for t in TARGETS if t != "reference"]
    return rows + [("fpga (ecp5-85f)", "fpga", {"build": "ecp5-85f"}),
                   ("dynapse (delays dropped)", "dynapse",
                    {"delay_tolerance": float(task.max_delay)})]


def study(args: argparse.Namespace, task: Task) -> list[dict]:
    """Accuracy against the fraction of synapses kept, on every target configuration;
    writes ``motion_targets.md``/``.csv`` and ``motion_accuracy.png``."""
    from workloads import fmt, markdown_table, on_configs, outcome_columns, pct, write_csv

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    detector, test, labels = prepare(task)
    test_features = [patch_features(task, s) for s in test]
    base = _task_args(args)
    rows = []
    for keep in args.keep:
        kernels, threshold = detector.pruned(keep)
        exc, inh = synapses(task, kernels, threshold)
        offline = readout_accuracy(task, kernels, threshold, test_features, labels)
        saved = out / f"detector_keep{keep:g}.npz"  # every target runs this one kernel
        np.savez(saved, kernels=kernels, threshold=threshold)
        for o in on_configs(__file__, [*base, "--detector", str(saved)],
                            configurations(task)):
            acc = math.nan
            if o.result is not None:
                counts = spike_counts(task, o.spikes("detectors", task.motions
                                                     * len(task.centres)), len(test))
                acc = accuracy(task, counts, labels)
            rows.append({"keep": keep, "synapses": len(exc) + len(inh), **outcome_columns(o),
                         "accuracy": acc, "offline": offline})
    write_csv(out / "motion_targets.csv", rows)
    table = markdown_table(
        ["kept", "synapses", "target", "runs / refused because", "accuracy",
         "offline model", "weight error (max)", "energy (nJ/step)", "latency (us/step)"],
        [[f"{r['keep']:g}", r["synapses"], r["target"], r["status"], fmt(r["accuracy"], 2),
          fmt(r["offline"], 2), pct(r["weight_error"]), fmt(r["energy_nj_per_step"]),
          fmt(r["latency_us_per_step"])] for r in rows])
    (out / "motion_targets.md").write_text(table)
    print(f"motion detection, {task.size}x{task.size} retina, {task.directions} directions, "
          f"{task.n_test} test stimuli (chance {1 / task.directions:.2f})")
    print(table)
    _accuracy_figure(out / "motion_accuracy.png", rows, task)
    return rows


def _task_args(args: argparse.Namespace) -> list[str]:
    return ["--size", str(args.size), "--directions", str(args.directions), "--stimulus",
            args.stimulus, "--max-delay", str(args.max_delay), "--train", str(args.train),
            "--test", str(args.test), "--seed", str(args.seed)]


def _accuracy_figure(path: Path, rows: Sequence[dict], task: Task) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    offline = sorted({(r["synapses"], r["offline"]) for r in rows})
    ax.plot(*zip(*offline, strict=True), "k--", lw=1, label="fitted model (offline)")
    for target in dict.fromkeys(r["target"] for r in rows):
        pts = sorted((r["synapses"], r["accuracy"]) for r in rows
                     if r["target"] == target and math.isfinite(r["accuracy"]))
        if pts:
            ax.plot(*zip(*pts, strict=True), "o-", ms=4, label=target)
    ax.axhline(1 / task.directions, color="0.6", lw=0.8, ls=":", label="chance")
    ax.set_xscale("log")
    ax.set_xlabel("synapses kept")
    ax.set_ylabel("direction accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{task.size}x{task.size} retina, {task.directions} directions, delays "
                 f"1..{task.max_delay} ms", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- command line


@dataclass
class Detector:
    """A fitted detector: the kernels, and what calibrating a pruned kernel needs."""

    task: Task
    kernels: np.ndarray
    x: np.ndarray  # training samples
    y: np.ndarray
    calibration: list[np.ndarray]  # patch features of the calibration stimuli
    calibration_labels: np.ndarray

    def pruned(self, keep: float) -> tuple[np.ndarray, float]:
        """The kernel keeping ``keep`` of its synapses, and its calibrated threshold."""
        kernels = prune(self.kernels, keep)
        return kernels, calibrate(self.task, kernels, self.x, self.y, self.calibration,
                                  self.calibration_labels)


def datasets(task: Task) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """The seeded training and test stimuli with their labels (motions)."""
    rng = np.random.default_rng(task.seed)
    train, train_labels = stimuli(task, task.n_train, rng)
    test, test_labels = stimuli(task, task.n_test, rng)
    return train, train_labels, test, test_labels


@functools.lru_cache(maxsize=4)
def prepare(task: Task) -> tuple[Detector, list[np.ndarray], np.ndarray]:
    """Fit on seeded training stimuli; return the detector and the test stimuli (kept:
    a study and a run of the same task fit once)."""
    train, train_labels, test, test_labels = datasets(task)
    features = [patch_features(task, s) for s in train]
    x, y = training_samples(task, features, train_labels)
    n_cal = min(len(train), 48)
    detector = Detector(task, fit(task, x, y), x, y, features[:n_cal], train_labels[:n_cal])
    return detector, test, test_labels


def options(argv: Sequence[str] | None = None) -> tuple[str, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("simulator", help="PyNN backend: brian2, nest, spikeport, ...")
    d = Task()
    parser.add_argument("--size", type=int, default=d.size, help="retina S (pixels)")
    parser.add_argument("--directions", type=int, default=d.directions)
    parser.add_argument("--stimulus", choices=["texture", "edges", "bars", "dots"],
                        default=d.stimulus)
    parser.add_argument("--max-delay", type=int, default=d.max_delay, help="D (ms)")
    parser.add_argument("--train", type=int, default=d.n_train, help="training stimuli")
    parser.add_argument("--test", type=int, default=d.n_test, help="test stimuli")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--keep", type=float, nargs="+", default=[1.0],
                        help="fractions of the kernel's synapses to keep (pruning)")
    parser.add_argument("--targets", nargs="*", metavar="TARGET",
                        help="with spikeport: run each --keep on these targets (none named: "
                             "all) and tabulate accuracy, refusals and cost per step")
    parser.add_argument("--out", type=Path, default=Path("build/motion_delays"))
    parser.add_argument("--detector", type=Path, help="run a fitted, pruned kernel saved "
                        "by --targets (.npz: kernels, threshold) instead of fitting")
    args = parser.parse_args(argv)
    return args.simulator, args


def task_of(args: argparse.Namespace) -> Task:
    return Task(size=args.size, directions=args.directions, stimulus=args.stimulus,
                max_delay=args.max_delay, n_train=args.train, n_test=args.test,
                seed=args.seed)


def main(argv: Sequence[str] | None = None) -> int:
    import importlib

    name, args = options(argv)
    if name == "spikeport":
        import toolchain.pynn  # noqa: F401  (registers pyNN.spikeport)
    task = task_of(args)
    if args.targets is not None:
        if name != "spikeport":
            raise SystemExit("--targets runs the detector on spikeport's targets: give "
                             "'spikeport' as the simulator")
        study(args, task)
        return 0
    sim = importlib.import_module(f"pyNN.{name}")
    if args.detector is not None:  # the kernel as fitted and pruned elsewhere
        saved = np.load(args.detector)
        test, labels = datasets(task)[2:]
        counts = build_and_run(sim, task, saved["kernels"], float(saved["threshold"]), test)
        print(f"accuracy {accuracy(task, counts, labels):.2f}")
        return 0
    detector, test, labels = prepare(task)
    test_features = [patch_features(task, s) for s in test]
    print(f"motion detection on pyNN.{name}: {task.size}x{task.size} retina, "
          f"{task.directions} directions, speeds {task.speeds} px/ms, delays 1..{task.max_delay}"
          f" ms, {len(task.centres)} positions; chance {1 / task.directions:.2f}")
    print(f"{'kept':>6s} {'synapses':>9s} {'offline':>8s} {'network':>8s}")
    for keep in args.keep:
        kernels, threshold = detector.pruned(keep)
        exc, inh = synapses(task, kernels, threshold)
        counts = build_and_run(sim, task, kernels, threshold, test)
        print(f"{keep:6.3f} {len(exc) + len(inh):9d} "
              f"{readout_accuracy(task, kernels, threshold, test_features, labels):8.2f} "
              f"{accuracy(task, counts, labels):8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
