"""Point functions for sweeps: what one design point measures.

``cosimulate`` compiles a network for a target configured by the point's parameters,
co-simulates it, runs the float reference on the same network, and returns the deviation
metrics of :mod:`toolchain.sim.metrics` together with the target's cost estimates.  With
``synth = true`` on the ``fpga`` target it also synthesises the core for the point's board
and reports LUTs, flip-flops, block RAM and fmax.

Parameter names (flat, so that they are TOML keys and table columns):

``network``
    a PyNN script path (captured at its first ``run()``, see :mod:`toolchain.pynn.capture`)
    with ``args`` (its command line, a space-separated string; default ``"spikeport"``, the
    simulator name PyNN's example scripts expect), or ``"package.module:function"``
    returning an IR ``Network`` and called with the ``net.<name>`` parameters.
``target``
    a registered target name; ``opt.<name>`` parameters are its constructor options.
``core``, ``core.<field>``
    for ``fpga``: a core preset and field overrides (``core.n_neurons = 128``).
``t_stop``
    ms to simulate (default: what the script's run asked for, else 100 ms).
``synth``, ``board``
    for ``fpga``: also synthesise the core for ``board`` (default iCEBreaker).

A sweep is checked against these before its first point runs (:func:`check`): a parameter
cosimulate does not take, an unknown target, preset, board, core field or target option,
a missing script, or an objective that is not one of the metrics (:func:`metrics`).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from toolchain.dse.spec import point_function
from toolchain.ir import Network
from toolchain.sim.metrics import compare

DEFAULT_T_STOP = 100.0
DEFAULT_ARGS = "spikeport"  # what PyNN scripts take as the simulator's name

PARAMETERS = ("network", "args", "target", "t_stop", "core", "synth", "board")
PREFIXES = {"opt.": "a target option", "core.": "a core field", "net.": "an argument of a "
            "network function"}
# Reported for every point; the synthesis and target-specific ones only where they apply
# (tests/dse/test_evaluate.py runs every target to keep these lists true).
METRICS = ("rate_ref_hz", "rate_hz", "rate_error", "isi_distortion_ms", "spike_disorder",
           "van_rossum", "energy_nj_per_step", "energy_nj_per_step_estimate",
           "hw_latency_us_per_step", "synaptic_events_per_step", "sim_ms_per_step",
           "neurons", "synapses")
SYNTH_METRICS = ("luts", "flip_flops", "block_ram", "dsp", "fmax_mhz")
TARGET_METRICS = {
    "spinnaker2": ("physical.latency_ns_mean", "physical.latency_ns_p99",
                   "semantic.deferred_packets", "semantic.dropped_packets",
                   "semantic.dropped_synaptic_events", "semantic.late_packets",
                   "semantic.shifted_synaptic_events"),
    "dynapse": ("route_latency_ns_max", "route_latency_ns_mean", "spikes_dropped",
                "spikes_shifted"),
}


def check(params: Mapping[str, Any]) -> None:
    """Refuse, without running anything, the parameters :func:`cosimulate` would refuse."""
    from toolchain.dse.spec import SweepError
    from toolchain.targets import TARGETS

    takes = (f"{', '.join(PARAMETERS)}, and "
             + ", ".join(f"{p}<name> ({what})" for p, what in PREFIXES.items()))
    for key in params:
        if key not in PARAMETERS and not key.startswith(tuple(PREFIXES)):
            raise SweepError(f"is not a parameter of cosimulate; it takes {takes}",
                             parameter=key)
    target = params.get("target", "reference")
    if target not in TARGETS:
        raise SweepError(f"is not a target; targets: {', '.join(TARGETS)}",
                         parameter="target", of_value=True)
    _check_network(params)
    _check_options(str(target), {k[4:] for k in params if k.startswith("opt.")})
    t_stop = params.get("t_stop", DEFAULT_T_STOP)
    if isinstance(t_stop, bool) or not isinstance(t_stop, (int, float)) or t_stop <= 0:
        raise SweepError("must be a positive number of ms", parameter="t_stop", of_value=True)
    _check_core(params)
    if "board" in params:
        from toolchain.boards import load_boards

        boards = load_boards()
        if params["board"] not in boards:
            raise SweepError(f"is not a board; boards: {', '.join(boards)}",
                             parameter="board", of_value=True)


def _check_network(params: Mapping[str, Any]) -> None:
    from toolchain.dse.spec import SweepError, resolve

    source = params.get("network")
    if not isinstance(source, str) or not source:
        raise SweepError("parameter 'network' is missing: give a PyNN script path or "
                         "'package.module:function' returning a toolchain.ir.Network")
    if source.endswith(".py") or Path(source).is_file():
        if not Path(source).is_file():
            raise SweepError("names no file (a PyNN script path, or "
                             "'package.module:function')", parameter="network", of_value=True)
        extra = next((k for k in params if k.startswith("net.")), None)
        if extra is not None:
            raise SweepError("is for a network function; a script takes 'args' (its command "
                             "line)", parameter=extra)
        return
    if "args" in params:
        raise SweepError(f"is for a PyNN script; network '{source}' is a function, called "
                         "with the net.<name> parameters", parameter="args")
    func = resolve(source, what="network")
    signature = inspect.signature(func)
    if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        for key in (k for k in params if k.startswith("net.")):
            if key[4:] not in signature.parameters:
                raise SweepError(f"is not an argument of {source}; it takes "
                                 f"{', '.join(signature.parameters) or 'none'}", parameter=key)


def _check_core(params: Mapping[str, Any]) -> None:
    from toolchain.dse.spec import SweepError
    from toolchain.targets.fpga.spec import PRESETS, CoreSpec, SpecError

    if "core" in params and params["core"] not in PRESETS:
        raise SweepError(f"is not a core preset; presets: {', '.join(PRESETS)}",
                         parameter="core", of_value=True)
    fields = sorted(f.name for f in dataclasses.fields(CoreSpec) if f.name != "name")
    overrides = [k for k in params if k.startswith("core.")]
    for key in overrides:
        if key[5:] not in fields:
            raise SweepError(f"is not a core field; fields: "
                             f"{', '.join(f'core.{f}' for f in fields)}", parameter=key)
    try:
        core_spec(params)
    except (SpecError, TypeError, ValueError) as e:  # a value the core cannot be built with
        raise SweepError(f"gives no valid core: {e}", parameter=overrides[0] if overrides
                         else "core", of_value=True) from None


def _check_options(target: str, names: set[str]) -> None:
    from toolchain.dse.spec import SweepError
    from toolchain.targets import target_class

    declared = set(target_class(target).OPTIONS.names())  # the target's declared options
    takes = sorted(declared)
    for name in sorted(names - declared):
        raise SweepError(f"is not an option of target '{target}'; it takes "
                         f"{', '.join(f'opt.{t}' for t in takes) or 'none'}",
                         parameter=f"opt.{name}")


def metrics(params: Mapping[str, Any]) -> set[str]:
    """The metrics :func:`cosimulate` reports for ``params``."""
    target = str(params.get("target", "reference"))
    names = {*METRICS, *TARGET_METRICS.get(target, ())}
    if target == "fpga" and params.get("synth", False):
        names |= set(SYNTH_METRICS)
    return names


@point_function(check=check, metrics=metrics)
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
        # cost figures from the target's JSON compile report, the run measured into it
        "energy_nj_per_step": run.figure("measured", "energy_nj_per_step"),
        "energy_nj_per_step_estimate": run.figure("estimate", "energy_nj_per_step"),
        "hw_latency_us_per_step": run.figure("measured", "latency_us_per_step"),
        "synaptic_events_per_step": run.figure("measured", "synaptic_events_per_step"),
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
    """The FPGA core build a point asks for: a preset with ``core.<field>`` overrides.
    Without ``core`` the preset is the point's board's (so a sweep over ``board`` sizes
    each board's own core), without either the iCEBreaker's."""
    from toolchain.boards import load_boards
    from toolchain.targets.fpga.spec import CoreSpec, preset

    name = params.get("core")
    if name is None:
        board = load_boards().get(str(params.get("board", "icebreaker")))
        name = board.core if board else "ice40up5k"
    base = preset(str(name))
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
    from hdl.board import DoesNotFit, build_bitstream
    from toolchain.boards import load_boards

    board_name = str(params.get("board", "icebreaker"))
    boards = load_boards()
    if board_name not in boards:
        raise ValueError(f"unknown board '{board_name}'; boards: {', '.join(boards)}")
    spec = core_spec(params)
    key = json.dumps(dataclasses.asdict(spec), sort_keys=True)
    out = Path("build") / "dse-synth" / f"{board_name}-{abs(hash(key)) % 10**10:010d}"
    try:
        rep = build_bitstream(boards[board_name], spec=spec, build_dir=out)
    except DoesNotFit as e:
        # a sweep's knobs are its parameters: say which ones make the point fit
        others = ", ".join(b for b in boards if b != board_name)
        raise DoesNotFit(e.board, e.spec, f"{e.reason}; make the point's core smaller "
                         f"(core.n_neurons, core.n_synapses, core.w_bits, ...)"
                         + (f" or choose another board (board: {others})" if others else "")
                         ) from None
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
        network, t_stop = _captured(source, str(params.get("args", DEFAULT_ARGS)))
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
