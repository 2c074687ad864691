"""The HIL suite (test_session.py) run unchanged against the rtl-sim board (the device's
Verilog under Verilator, its UART pins bridged to a pty), as a user runs their own HIL tests:
``pytest --board rtl-sim``.  The default run of the suite covers the virtual board; this one
makes every frame, spike and weight it compares come from the gateware."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = [pytest.mark.hdl, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
HIL_SUITE = Path(__file__).parent / "test_session.py"


def test_hil_suite_passes_unchanged_on_rtl_sim(tmp_path: Path) -> None:
    report = tmp_path / "hil.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(HIL_SUITE), "--board", "rtl-sim", "-q",
         "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    # every HIL test ran on the gateware, except those that reach into a Python board
    # (slowing its steps, power-cycling it), which skip saying so
    assert counts["tests"] >= 8 and counts["failures"] == counts["errors"] == 0
    reasons = [s.get("message", "") for s in suite.iter("skipped")]
    assert len(reasons) == counts["skipped"] <= 2, proc.stdout[-3000:]
    assert all("'rtl-sim' board" in r for r in reasons), reasons
