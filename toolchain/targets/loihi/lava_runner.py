"""Host side of the lava-nc reference: write a network of Loihi integers, run
``lava_reference.py`` in the Python 3.10 lava environment, read the spikes back.

lava-nc 0.10 needs Python < 3.11, so it lives in its own virtual environment
(``.venv-lava``, made by ``make setup``) and is reached through a subprocess; the file
format in between is plain ``.npz`` (see ``lava_reference.py`` for the keys).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.targets.loihi.fixed import LifParameters, SignMode

REPO_ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("lava_reference.py")
#: overrides the interpreter of the lava environment
PYTHON_ENV_VAR = "SPIKEPORT_LAVA_PYTHON"


class LavaUnavailableError(RuntimeError):
    """The lava-nc environment is missing, or lava failed."""


def lava_python() -> Path | None:
    """The lava environment's interpreter, or None when it has not been set up."""
    override = os.environ.get(PYTHON_ENV_VAR)
    candidate = Path(override) if override else REPO_ROOT / ".venv-lava" / "bin" / "python"
    return candidate if candidate.exists() else None


def unavailable_reason() -> str | None:
    """Why lava cannot run here (for a skip message), or None if it can."""
    if lava_python() is None:
        return ("no python3.10 lava-nc environment (.venv-lava) is set up: run "
                "`make setup` on a machine with a python3.10 interpreter")
    return None


@dataclass
class LavaPopulation:
    """One lava ``LIF`` process: du, dv and vth must be uniform (lava keeps one each)."""

    params: LifParameters
    u0: np.ndarray
    v0: np.ndarray
    # a host's bias schedule: steps (m,), and the bias mantissas and exponents (m, size)
    # that take effect at the start of each (params' bias before the first)
    bias_steps: np.ndarray | None = None
    bias_mant_at: np.ndarray | None = None
    bias_exp_at: np.ndarray | None = None


@dataclass
class LavaProjection:
    """One lava ``Dense`` (``delays`` None) or ``DelayDense`` process."""

    pre: int  # population index, or -1 - i for input i
    post: int
    weights: np.ndarray  # (n_post, n_pre) mantissas as given to lava (it clips/truncates)
    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: SignMode | None = None  # None: lava derives it from the weights
    delays: np.ndarray | None = None  # (n_post, n_pre) extra steps for DelayDense


@dataclass
class LavaResult:
    rasters: list[np.ndarray]  # per population: (n_steps, size), 1 where it spiked
    build_seconds: float  # compiling the process graph and starting its runtime
    run_seconds: float  # the steps alone


def _uniform(arr: np.ndarray, name: str, label: str) -> int:
    if not np.all(arr == arr[0]):
        raise ValueError(f"Population '{label}': lava's LIF has one {name} per process; "
                         f"got {np.unique(arr).size} different values")
    return int(arr[0])


def write_network(path: Path, n_steps: int, populations: list[LavaPopulation],
                  projections: list[LavaProjection],
                  inputs: list[np.ndarray] | None = None) -> None:
    """Save a network in the format ``lava_reference.py`` reads.  ``inputs`` are spike
    rasters of shape (size, n_steps)."""
    data: dict[str, object] = {
        "n_steps": n_steps, "n_populations": len(populations),
        "n_projections": len(projections), "n_inputs": len(inputs or []),
    }
    for k, pop in enumerate(populations):
        p = pop.params
        if np.any(p.refractory):
            raise ValueError(f"Population '{p.label}': lava's bit-accurate LIF has no "
                             "refractory period; use refractory = 0 to compare with it")
        data[f"pop{k}_du"] = _uniform(p.du, "du", p.label)
        data[f"pop{k}_dv"] = _uniform(p.dv, "dv", p.label)
        data[f"pop{k}_vth"] = _uniform(p.vth, "vth", p.label)
        data[f"pop{k}_bias_mant"] = p.bias_mant
        data[f"pop{k}_bias_exp"] = p.bias_exp
        data[f"pop{k}_u"] = np.asarray(pop.u0, dtype=np.int64)
        data[f"pop{k}_v"] = np.asarray(pop.v0, dtype=np.int64)
        if pop.bias_steps is not None:
            data[f"pop{k}_bias_steps"] = np.asarray(pop.bias_steps, dtype=np.int64)
            data[f"pop{k}_bias_mant_at"] = np.asarray(pop.bias_mant_at, dtype=np.int64)
            data[f"pop{k}_bias_exp_at"] = np.asarray(pop.bias_exp_at, dtype=np.int64)
    for i, raster in enumerate(inputs or []):
        data[f"input{i}_spikes"] = np.asarray(raster, dtype=np.uint8)
    for j, proj in enumerate(projections):
        data[f"proj{j}_pre"] = proj.pre
        data[f"proj{j}_post"] = proj.post
        data[f"proj{j}_weights"] = np.asarray(proj.weights, dtype=np.int64)
        data[f"proj{j}_weight_exp"] = proj.weight_exp
        data[f"proj{j}_num_weight_bits"] = proj.num_weight_bits
        data[f"proj{j}_sign_mode"] = 0 if proj.sign_mode is None else int(proj.sign_mode)
        if proj.delays is not None:
            data[f"proj{j}_delays"] = np.asarray(proj.delays, dtype=np.int64)
    np.savez(path, **data)  # type: ignore[arg-type]


def run(n_steps: int, populations: list[LavaPopulation], projections: list[LavaProjection],
        inputs: list[np.ndarray] | None = None, *, timeout: float = 600.0) -> LavaResult:
    """Run the network in lava-nc (fixed-point models) and return its spikes."""
    python = lava_python()
    if python is None:
        raise LavaUnavailableError(unavailable_reason())
    with tempfile.TemporaryDirectory(prefix="spikeport-lava-") as tmp:
        net_path, out_path = Path(tmp) / "network.npz", Path(tmp) / "spikes.npz"
        write_network(net_path, n_steps, populations, projections, inputs)
        proc = subprocess.run([str(python), str(SCRIPT), str(net_path), str(out_path)],
                              capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0 or not out_path.exists():
            raise LavaUnavailableError(
                f"lava_reference.py failed with exit code {proc.returncode}:\n"
                f"{proc.stderr[-4000:]}"
            )
        with np.load(out_path) as out:
            rasters = [out[f"pop{k}_spikes"] for k in range(len(populations))]
            return LavaResult(rasters, float(out["build_seconds"]), float(out["run_seconds"]))
