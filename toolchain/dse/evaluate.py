"""Point functions for sweeps: what one design point measures.

``cosimulate`` compiles a network for a target configured by the point's parameters,
co-simulates it, runs the float reference on the same network, and returns the deviation
metrics of :mod:`toolchain.sim.metrics` together with the target's cost estimates.  With
``synth = true`` on the ``fpga`` target it also synthesises the core for the point's board
and reports LUTs, flip-flops, block RAM and fmax.

Parameter names (flat, so that they are TOML keys and table columns):

``network``
    a PyNN script path (captured at its first ``run()``, see :mod:`toolchain.pynn.capture`)
    with ``args`` (a space-separated string), or ``"package.module:function"`` returning an
    IR ``Network`` and called with the ``net.<name>`` parameters.
``target``
    a registered target name; ``opt.<name>`` parameters are its constructor options.
``core``, ``core.<field>``
    for ``fpga``: a core preset and field overrides (``core.n_neurons = 128``).
``t_stop``
    ms to simulate (default: what the script's run asked for, else 100 ms).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from toolchain.ir import Network
from toolchain.sim.metrics import compare

DEFAULT_T_STOP = 100.0


def cosimulate(params: Mapping[str, Any]) -> dict[str, float]:
    """Deviation from the reference and cost of one (network, target, options) point."""
    from toolchain.portability import REFERENCE, run_target

    network, t_stop = _network(params)
    target = str(params.get("target", REFERENCE))
    options = {k[4:]: v for k, v in params.items() if k.startswith("opt.")}
    if target == "fpga":
        options["build"] = core_spec(params)
    reference = _reference_run(network, t_stop)
    run = run_target(target, network, t_stop, options)
    if run.status != "ok":
        raise RuntimeError(f"{target} {run.status} the network: {run.reason}")
    report = compare(reference.result, run.result, t_stop=t_stop)
    sizes = np.array([p.n_neurons for p in report.populations], dtype=float)

    def weighted(values: list[float]) -> float:
        v = np.array(values, dtype=float)
        ok = np.isfinite(v)
        return float(np.average(v[ok], weights=sizes[ok])) if ok.any() else math.nan

    steps = max(round(t_stop / network.dt), 1)
    metrics = {
        "rate_ref_hz": weighted([p.rate_ref for p in report.populations]),
        "rate_hz": weighted([p.rate for p in report.populations]),
        "rate_error": weighted([abs(p.rate_error) for p in report.populations]),
        "isi_distortion_ms": weighted([p.isi_distortion_ms for p in report.populations]),
        "spike_disorder": weighted([p.spike_disorder for p in report.populations]),
        "van_rossum": weighted([p.van_rossum for p in report.populations]),
        "energy_nj_per_step": run.energy_pj_per_step / 1e3,
        "hw_latency_us_per_step": run.hw_wall_us_per_step,
        "sim_ms_per_step": run.sim_seconds * 1e3 / steps,
        "neurons": float(network.n_neurons),
        "synapses": float(network.n_synapses),
    }
    for key, value in run.result.counters.items():
        aggregate = "/" not in key and "@" not in key  # per-projection detail stays out
        if aggregate and any(w in key for w in ("shifted", "dropped", "late", "deferred")):
            metrics[key] = float(value)
    if target == "fpga" and params.get("synth", False):
        metrics.update(fpga_resources(params))
    return metrics


def core_spec(params: Mapping[str, Any]) -> Any:
    """The FPGA core build a point asks for: a preset with ``core.<field>`` overrides."""
    from toolchain.targets.fpga.spec import CoreSpec, preset

    base = preset(str(params.get("core", "ice40up5k")))
    overrides = {k[5:]: v for k, v in params.items() if k.startswith("core.")}
    names = {f.name for f in dataclasses.fields(CoreSpec)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"core.{unknown[0]} is not a core parameter; parameters are: "
                         f"{', '.join(sorted(names - {'name'}))}")
    if not overrides:
        return base
    return dataclasses.replace(base, name=f"{base.name}-custom", **overrides)


def fpga_resources(params: Mapping[str, Any]) -> dict[str, float]:
    """Synthesise the point's core for its board (``board``, default iCEBreaker)."""
    from hdl.spikecore.board import build_bitstream
    from toolchain.boards import load_boards

    board_name = str(params.get("board", "icebreaker"))
    boards = load_boards()
    if board_name not in boards:
        raise ValueError(f"unknown board '{board_name}'; boards: {', '.join(boards)}")
    spec = core_spec(params)
    key = json.dumps(dataclasses.asdict(spec), sort_keys=True)
    out = Path("build") / "dse-synth" / f"{board_name}-{abs(hash(key)) % 10**10:010d}"
    rep = build_bitstream(boards[board_name], spec=spec, build_dir=out)
    return {"luts": float(rep.logic_cells), "flip_flops": float(rep.flip_flops),
            "block_ram": float(rep.block_ram), "dsp": float(rep.dsp),
            "fmax_mhz": float(rep.fmax_mhz)}


def _network(params: Mapping[str, Any]) -> tuple[Network, float]:
    source = params.get("network")
    if not isinstance(source, str) or not source:
        raise ValueError("parameter 'network' is missing: give a PyNN script path or "
                         "'package.module:function'")
    net_kwargs = {k[4:]: v for k, v in params.items() if k.startswith("net.")}
    if source.endswith(".py") or Path(source).is_file():
        network, t_stop = _captured(source, str(params.get("args", "")))
    else:
        from toolchain.dse.spec import resolve
        from toolchain.portability import record_all_spikes

        network, t_stop = resolve(source)(**net_kwargs), DEFAULT_T_STOP
        if not isinstance(network, Network):
            raise TypeError(f"network '{source}' returned {type(network).__name__}, "
                            "not a toolchain.ir.Network")
        network = record_all_spikes(network)
    return network, float(params.get("t_stop", t_stop))


@functools.lru_cache(maxsize=8)
def _captured(script: str, args: str) -> tuple[Network, float]:
    from toolchain.portability import record_all_spikes
    from toolchain.pynn.capture import capture

    network, t_stop = capture(script, shlex.split(args))
    return record_all_spikes(network), t_stop


# The reference run depends only on the network and duration, not on the target: a worker
# evaluating several targets of one network runs it once.
_REFERENCE_CACHE: dict[tuple[int, float], Any] = {}


def _reference_run(network: Network, t_stop: float) -> Any:
    from toolchain.portability import REFERENCE, run_target

    key = (id(network), t_stop)
    cached = _REFERENCE_CACHE.get(key)
    if cached is not None and cached[0] is network:
        return cached[1]
    run = run_target(REFERENCE, network, t_stop)
    if run.status != "ok":
        raise RuntimeError(f"the reference could not run the network: {run.reason}")
    _REFERENCE_CACHE.clear()
    _REFERENCE_CACHE[key] = (network, run)
    return run
