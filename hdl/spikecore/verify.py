"""Bit-exact verification of the core's Verilog with cocotb on Icarus Verilog and Verilator.

``verify(spec, simulator, ...)`` generates the Verilog for one ``CoreSpec``, builds it
with ``cocotb_tools.runner`` in its own directory (one per simulator and parameter set),
and runs ``hdl/spikecore/tb/spikecore_tb.py``.  Used by the test suite and by
``spikeport hdl verify``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from hdl.spikecore.tb import spikecore_tb
from hdl.spikecore.tools import (
    BUILD_ROOT,
    TIMESCALE,
    TOP_NAME,
    VERILATOR_WARNINGS,
    ToolNotFoundError,
    environment,
    generate_verilog,
    spram_model,
    verilator_env,
)
from toolchain.targets.fpga.spec import TINY, CoreSpec

SIMULATORS = ("icarus", "verilator")

# Parameter sets the verification covers: odd sizes (non-power-of-two neuron and input
# counts), narrow and wide formats, shallow and deeper delay rings, one synaptic current
# (tiny, small) and two with fractional current bits (odd).
SMALL = CoreSpec(n_neurons=8, n_inputs=4, n_synapses=48, v_bits=10, i_bits=10, w_bits=6,
                 acc_bits=11, trace_bits=6, ref_bits=2, delay_bits=2, name="small")
ODD = CoreSpec(n_neurons=13, n_inputs=5, n_synapses=100, v_bits=16, i_bits=17, w_bits=8,
               acc_bits=14, trace_bits=7, ref_bits=3, delay_bits=3, receptors=2, i_frac=3,
               name="odd")
VERIFY_SPECS: dict[str, CoreSpec] = {"tiny": TINY, "small": SMALL, "odd": ODD}


@dataclass(frozen=True)
class VerifyResult:
    simulator: str
    spec: str
    passed: bool
    build_seconds: float
    test_seconds: float
    results_xml: Path


def simulator_available(simulator: str) -> str | None:
    """None if ``simulator`` can run here, else the reason it cannot."""
    if simulator == "icarus":
        found = shutil.which("iverilog")
        return None if found else "iverilog is not on PATH (apt install iverilog)"
    if simulator == "verilator":
        try:
            verilator_env()
        except ToolNotFoundError as e:
            return str(e)
        return None if shutil.which("perl") else "verilator needs perl"
    return f"unknown simulator '{simulator}'; known: {', '.join(SIMULATORS)}"


def verify(spec: CoreSpec, simulator: str, *, seed: int = 1, steps: int = 20,
           stdp: bool = True, stall: float = 0.0, spram: bool = False,
           build_root: Path = BUILD_ROOT / "cocotb") -> VerifyResult:
    """Build and run the whole-core testbench; ``passed`` is False on any mismatch.
    ``stall`` is the testbench's back-pressure probability per cycle (0 = none).
    ``spram``: the iCE40UP build, its synapse memory in SB_SPRAM256KA cells simulated by
    yosys's model of them."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    reason = simulator_available(simulator)
    if reason:
        raise ToolNotFoundError(reason)
    # one directory per simulator, parameter set and seed: parallel test workers never
    # share a build or a results file
    build_dir = build_root / (f"{simulator}-{spec.name}-{_spec_key(spec)}-seed{seed}"
                              f"{'-spram' if spram else ''}")
    env = verilator_env() if simulator == "verilator" else {}
    t0 = time.perf_counter()
    with environment(env):
        sources = [generate_verilog(spec, build_dir / "rtl", spram=spram)]
        if spram:
            sources.append(spram_model(build_dir / "rtl"))
        runner = get_runner(simulator)
        args = list(VERILATOR_WARNINGS) if simulator == "verilator" else []
        runner.build(sources=sources, hdl_toplevel=TOP_NAME, build_dir=build_dir,
                     timescale=TIMESCALE, always=False, build_args=args)
        t1 = time.perf_counter()
        spec_fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
        results = runner.test(
            test_module=spikecore_tb.__name__, hdl_toplevel=TOP_NAME, build_dir=build_dir,
            test_dir=build_dir, timescale=TIMESCALE,
            results_xml=str(build_dir / "results.xml"),
            extra_env={spikecore_tb.SPEC_VAR: json.dumps(spec_fields),
                       spikecore_tb.SEED_VAR: str(seed), spikecore_tb.STEPS_VAR: str(steps),
                       spikecore_tb.STDP_VAR: "1" if stdp else "0",
                       spikecore_tb.STALL_VAR: str(stall)},
        )
    t2 = time.perf_counter()
    total, failed = get_results(Path(results))
    return VerifyResult(simulator, spec.name, total > 0 and failed == 0, t1 - t0, t2 - t1,
                        Path(results))


def _spec_key(spec: CoreSpec) -> str:
    """Short stable name of a parameter set, so each gets its own build directory."""
    import hashlib

    fields = json.dumps(dataclasses.astuple(spec)[:-1])
    return hashlib.sha1(fields.encode()).hexdigest()[:8]


def verify_word_memory(width: int, depth: int, simulator: str = "icarus", *, seed: int = 1,
                       build_root: Path = BUILD_ROOT / "cocotb") -> VerifyResult:
    """The SPRAM ``WordMemory`` (``hdl/memory.py``) alone on a simulator, yosys's
    SB_SPRAM256KA model behind it, against a dictionary (``tb/memory_tb.py``)."""
    from amaranth.back import verilog
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    from hdl.memory import WordMemory
    from hdl.spikecore.tb import memory_tb
    from hdl.spikecore.tools import yowasp_env

    reason = simulator_available(simulator)
    if reason:
        raise ToolNotFoundError(reason)
    build_dir = build_root / f"{simulator}-wordmemory-{width}x{depth}-seed{seed}"
    env = verilator_env() if simulator == "verilator" else {}
    t0 = time.perf_counter()
    with environment({**env, **yowasp_env()}):
        rtl = build_dir / "rtl"
        rtl.mkdir(parents=True, exist_ok=True)
        top = rtl / "wordmemory.sv"
        top.write_text(verilog.convert(WordMemory(width, depth, spram=True), name="wordmemory")
                       .replace("always @*", "always_comb"))
        runner = get_runner(simulator)
        args = list(VERILATOR_WARNINGS) if simulator == "verilator" else []
        runner.build(sources=[top, spram_model(rtl)], hdl_toplevel="wordmemory",
                     build_dir=build_dir, timescale=TIMESCALE, always=False, build_args=args)
        t1 = time.perf_counter()
        results = runner.test(
            test_module=memory_tb.__name__, hdl_toplevel="wordmemory", build_dir=build_dir,
            test_dir=build_dir, timescale=TIMESCALE, results_xml=str(build_dir / "results.xml"),
            extra_env={memory_tb.WIDTH_VAR: str(width), memory_tb.DEPTH_VAR: str(depth),
                       memory_tb.SEED_VAR: str(seed)})
    t2 = time.perf_counter()
    total, failed = get_results(Path(results))
    return VerifyResult(simulator, f"wordmemory-{width}x{depth}", total > 0 and failed == 0,
                        t1 - t0, t2 - t1, Path(results))
