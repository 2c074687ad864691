"""Build the link-layer echo device, or the core behind the framed protocol, as Verilog and
run its cocotb testbench on a simulator (``cocotb_tools.runner``), one build directory per
design, simulator and divisor."""

from __future__ import annotations

import time
from pathlib import Path

from hdl.spikecore.tools import (
    BUILD_ROOT,
    TIMESCALE,
    VERILATOR_ONE_FILE,
    VERILATOR_WARNINGS,
    ToolNotFoundError,
    environment,
    verilator_env,
)
from hdl.spikecore.verify import simulator_available
from hdl.uart.tb import device_tb, echo_tb

TOP = "link_echo"
DEVICE_TOP = "link_device"


def generate(component: object, top: str, out_dir: Path) -> Path:
    """Verilog of ``component``.  ``always @*`` becomes ``always_comb`` for the same reason
    as in ``hdl.spikecore.tools.generate_verilog`` (Icarus's time-0 race)."""
    from amaranth.back import verilog

    from hdl.spikecore.tools import yowasp_env

    out_dir.mkdir(parents=True, exist_ok=True)
    with environment(yowasp_env()):
        text = verilog.convert(component, name=top)
    path = out_dir / f"{top}.sv"
    path.write_text(text.replace("always @*", "always_comb"))
    return path


def _run(simulator: str, component: object, top: str, test_module: str, build_dir: Path,
         extra_env: dict[str, str]) -> tuple[bool, float]:
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    reason = simulator_available(simulator)
    if reason:
        raise ToolNotFoundError(reason)
    env = verilator_env() if simulator == "verilator" else {}
    t0 = time.perf_counter()
    with environment(env):
        source = generate(component, top, build_dir / "rtl")
        runner = get_runner(simulator)
        args = [*VERILATOR_WARNINGS, *VERILATOR_ONE_FILE] if simulator == "verilator" else []
        runner.build(sources=[source], hdl_toplevel=top, build_dir=build_dir,
                     timescale=TIMESCALE, always=False, build_args=args)
        results = runner.test(test_module=test_module, hdl_toplevel=top,
                              build_dir=build_dir, test_dir=build_dir,
                              timescale=TIMESCALE,
                              results_xml=str(build_dir / "results.xml"),
                              extra_env=extra_env)
    total, failed = get_results(Path(results))
    return total > 0 and failed == 0, time.perf_counter() - t0


def verify_link(simulator: str, *, divisor: int = 10,
                build_root: Path = BUILD_ROOT / "cocotb") -> tuple[bool, float]:
    """(passed, seconds) of the echo testbench on ``simulator``."""
    from hdl.uart.echo import LinkEcho

    return _run(simulator, LinkEcho(divisor), TOP, echo_tb.__name__,
                build_root / f"{simulator}-link-echo-div{divisor}",
                {echo_tb.DIVISOR_VAR: str(divisor)})


def verify_device(simulator: str, *, preset_name: str = "tiny", divisor: int = 10,
                  build_root: Path = BUILD_ROOT / "cocotb") -> tuple[bool, float]:
    """(passed, seconds) of the testbench of the core behind the framed protocol."""
    from hdl.uart.device import LinkDevice
    from toolchain.targets.fpga.spec import preset

    clock_hz = round(1e9 / echo_tb.CLOCK_NS)
    return _run(simulator, LinkDevice(preset(preset_name), clock_hz, divisor), DEVICE_TOP,
                device_tb.__name__,
                build_root / f"{simulator}-link-device-{preset_name}-div{divisor}",
                {echo_tb.DIVISOR_VAR: str(divisor), device_tb.PRESET_VAR: preset_name})
