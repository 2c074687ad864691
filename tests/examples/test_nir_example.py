"""examples/nir_to_hardware.py: the braille graph on all four chips."""

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_nir_to_hardware_tabulates_every_chip(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "nir_to_hardware.py"),
                           "--steps", "60", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    with (tmp_path / "portability.csv").open() as f:
        rows = list(csv.DictReader(f))
    by_target = {r["target"] for r in rows if r["status"] == "ok"}
    assert by_target == {"reference", "loihi", "spinnaker2", "dynapse", "fpga"}
    assert {r["population"] for r in rows} >= {"lif1.lif", "lif2"}
    chips = [r for r in rows if r["target"] != "reference"]
    assert all(float(r["energy_nj_per_step"]) > 0 for r in chips)
    assert all(float(r["hw_wall_us_per_step"]) > 0 for r in chips)
