"""The examples x targets matrix of docs/portability.md stays what the code does: a few of
PyNN's examples rerun through examples/pynn_examples_matrix.py give the statuses and
refusal reasons the page shows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(sys.prefix) / "share" / "pynn-examples"
# a quick one that runs on some targets and is refused for a hardware reason on others
SAMPLE = ("StepCurrentSource.py",)

pytestmark = pytest.mark.skipif(
    not (EXAMPLES / "VAbenchmarks.py").is_file(),
    reason=f"PyNN's example scripts are not in {EXAMPLES}; run make setup to fetch them")


def _matrix():
    spec = importlib.util.spec_from_file_location("pynn_examples_matrix",
                                                  ROOT / "examples" / "pynn_examples_matrix.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_part_of_the_matrix_reruns_as_the_page_shows_it():
    matrix = _matrix()
    shown = matrix.parse_docs(ROOT / "docs" / "portability.md")
    assert len(shown) == len(list(EXAMPLES.glob("*.py"))) == 33
    for name in SAMPLE:
        row = matrix.measure(EXAMPLES / name, approximate=False)  # statuses and reasons
        got = {t: matrix.cell_text(c) for t, c in row.cells.items()}
        want = {t: text.split(",")[0] if text.startswith("runs") else text.split("; approx. ")[0]
                for t, text in shown[name].items()}
        assert got == want, name
        # every refusal is a one-line reason, never a traceback's last line
        for cell in row.cells.values():
            assert "Traceback" not in cell.reason and "Error:" not in cell.reason


def test_the_table_counts_and_footnotes_its_cells():
    matrix = _matrix()
    rows = [matrix.Row("a.py", {"reference": matrix.Cell("runs", rate_error=0.0),
                                "loihi": matrix.Cell("refused", "no X"),
                                "fpga": matrix.Cell("refused", "no Y", approximate="runs",
                                                    approximations="z (1 neurons)")}),
            matrix.Row("b.py", {"reference": matrix.Cell("runs", rate_error=None),
                                "loihi": matrix.Cell("runs", rate_error=-0.031),
                                "fpga": matrix.Cell("refused", "no Y", approximate="refused",
                                                    approximate_reason="no W")}),
            matrix.Row("c.py", {"reference": matrix.Cell("runs", rate_error=0.0),
                                "loihi": matrix.Cell("refused", "no X", approximate="runs",
                                                     approximate_rate_error=0.254),
                                "fpga": matrix.Cell("refused", "no Y", approximate="runs",
                                                    approximate_rate_error=float("nan"))})]
    text = matrix.markdown(rows, ("reference", "loihi", "fpga"))
    assert "| a.py | runs, +0.0 % | refused [1] | refused [2]; approx. runs |" in text
    assert ("| c.py | runs, +0.0 % | refused [1]; approx. runs, +25.4 % | refused [2]; "
            "approx. runs, n/a |") in text
    assert "| b.py | runs, n/a | runs, -3.1 % | refused [2]; approx. refused [3] |" in text
    assert "| **runs** | **3** | **1** | **0** |" in text
    assert "1. no X\n2. no Y\n3. no W" in text
    assert "- a.py on fpga: z (1 neurons)" in text


def test_a_script_without_a_network_is_shown_and_not_counted_as_running():
    """random_distributions.py draws numbers and plots them, and never calls run(): a
    target that 'runs' it has ported nothing."""
    matrix = _matrix()
    rows = [matrix.Row("d.py", {"reference": matrix.Cell(matrix.NO_NETWORK),
                                "loihi": matrix.Cell(matrix.NO_NETWORK)}),
            matrix.Row("e.py", {"reference": matrix.Cell("runs", rate_error=0.0),
                                "loihi": matrix.Cell("runs", rate_error=0.1)})]
    text = matrix.markdown(rows, ("reference", "loihi"))
    assert "| d.py | no network | no network |" in text
    assert "| **runs** | **1** | **1** |" in text
    assert "the hardware targets run 1 example-target pairs" in text
    assert matrix.cell_text(rows[0].cells["loihi"]) == "no network"
