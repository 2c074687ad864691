"""Build the link-layer echo device as Verilog and run its cocotb testbench on a simulator
(``cocotb_tools.runner``), one build directory per simulator and divisor."""

from __future__ import annotations

import time
from pathlib import Path

from hdl.spikecore.tools import BUILD_ROOT, ToolNotFoundError, environment, verilator_env
from hdl.spikecore.verify import simulator_available
from hdl.uart.tb import echo_tb

TOP = "link_echo"


def generate(divisor: int, out_dir: Path) -> Path:
    """Verilog of ``LinkEcho``.  ``always @*`` becomes ``always_comb`` for the same reason
    as in ``hdl.spikecore.tools.generate_verilog`` (Icarus's time-0 race)."""
    from amaranth.back import verilog

    from hdl.spikecore.tools import yowasp_env
    from hdl.uart.echo import LinkEcho

    out_dir.mkdir(parents=True, exist_ok=True)
    with environment(yowasp_env()):
        text = verilog.convert(LinkEcho(divisor), name=TOP)
    path = out_dir / f"{TOP}.sv"
    path.write_text(text.replace("always @*", "always_comb"))
    return path


def verify_link(simulator: str, *, divisor: int = 10,
                build_root: Path = BUILD_ROOT / "cocotb") -> tuple[bool, float]:
    """(passed, seconds) of the echo testbench on ``simulator``."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    reason = simulator_available(simulator)
    if reason:
        raise ToolNotFoundError(reason)
    build_dir = build_root / f"{simulator}-link-echo-div{divisor}"
    env = verilator_env() if simulator == "verilator" else {}
    t0 = time.perf_counter()
    with environment(env):
        source = generate(divisor, build_dir / "rtl")
        runner = get_runner(simulator)
        args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"] if simulator == "verilator" else []
        runner.build(sources=[source], hdl_toplevel=TOP, build_dir=build_dir,
                     timescale=("1ns", "1ps"), always=False, build_args=args)
        results = runner.test(test_module=echo_tb.__name__, hdl_toplevel=TOP,
                              build_dir=build_dir, test_dir=build_dir,
                              timescale=("1ns", "1ps"),
                              results_xml=str(build_dir / "results.xml"),
                              extra_env={echo_tb.DIVISOR_VAR: str(divisor)})
    total, failed = get_results(Path(results))
    return total > 0 and failed == 0, time.perf_counter() - t0
