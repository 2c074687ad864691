"""PyNN's own example scripts on every spikeport target: which run, how far their firing
rates are from the float reference, and why the others are refused.

For each example (PyNN 0.13's ``examples/``, which ``make setup`` puts under
``<venv>/share/pynn-examples``) and each target, the script runs

    spikeport pynn --target TARGET EXAMPLE spikeport [ARGS]

in a scratch directory, as a user would: exit status 0 is "runs", anything else is
"refused" with the first line of the error it printed; a script that exits 0 but never
calls ``run()`` (random_distributions.py only draws numbers) is "no network", and not
counted as running anywhere.  For the rate error it runs
``spikeport portability`` on the example (the network of its first ``run()``, on every
target that compiles it) and takes each target's worst population rate error against the
reference.  Where a target refuses an example, it tries ``--fit approximate`` too and
says whether the target's documented approximations make it run.

    python examples/pynn_examples_matrix.py                      # all examples, a table
    python examples/pynn_examples_matrix.py --docs docs/portability.md   # update the doc
    python examples/pynn_examples_matrix.py small_network.py connections.py --json out.json
    python examples/pynn_examples_matrix.py --targets dynapse --json dynapse.json
    python examples/pynn_examples_matrix.py --from-json all.json dynapse.json --docs PAGE.md

``--from-json`` runs nothing: it takes the cells of earlier ``--json`` runs (a later file's
cell replaces an earlier one's for the same example and target), so that one target's
column can be measured again without the others.

The table's cells: ``runs, -2.1 %`` (worst population rate error; ``n/a`` where the
reference fires no spike or the captured network is not the script's whole run),
``refused [k]`` (footnote k gives the reason), ``refused [k]; approx. runs, +4.0 %`` (it
runs with ``--fit approximate``, with that worst rate error; no figure where the cell
comes from a run before that was measured), ``refused [k]; approx. refused [m]``
(approximating gets past k but not m).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

TARGETS = ("reference", "loihi", "spinnaker2", "dynapse", "fpga")
# Arguments an example needs besides the simulator name (its required positionals).
ARGS = {"VAbenchmarks.py": ["CUBA"], "nineml_brunel.py": ["SR"]}
TIMEOUT_S = 900
BEGIN, END = "<!-- pynn-examples-matrix: begin -->", "<!-- pynn-examples-matrix: end -->"
FEATURES_BEGIN, FEATURES_END = "<!-- feature-table: begin -->", "<!-- feature-table: end -->"


@dataclass
class Cell:
    """One example on one target."""

    status: str  # "runs", "refused", or NO_NETWORK (it exited 0 but simulated nothing)
    reason: str = ""  # the error's first line, for a refusal
    rate_error: float | None = None  # worst population rate error vs the reference
    approximate: str = ""  # for a refusal: "runs" or "refused" with --fit approximate
    approximate_reason: str = ""  # why --fit approximate still refuses it
    approximations: str = ""  # what --fit approximate applied (from the compile report)
    # its worst rate error vs the reference with --fit approximate (NaN: the reference
    # fires no spike; None: not measured)
    approximate_rate_error: float | None = None
    seconds: float = 0.0


@dataclass
class Row:
    example: str
    cells: dict[str, Cell] = field(default_factory=dict)


#: the status of a script that exits 0 without a run(): it has no network to port
NO_NETWORK = "no network"
#: what ``spikeport pynn`` says about such a script
_NO_RUN_NOTE = "so no network was simulated"


def examples_dir() -> Path:
    return Path(sys.prefix) / "share" / "pynn-examples"


def _error_line(stderr: str, stdout: str) -> str:
    """The message a failed run printed: spikeport's one-line "Error: ..." for a user's
    mistake or refusal, else the last line of a traceback."""
    for line in stderr.splitlines():
        if line.startswith("Error: "):
            return line.removeprefix("Error: ").strip()
    lines = [ln.strip() for ln in (stderr or stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def _results_folder(scratch: str) -> None:
    """The ``Results/`` folder PyNN's examples write into: it exists in PyNN's repository,
    where they are meant to be run, and a few of them (random_distributions.py) save
    there without creating it."""
    (Path(scratch) / "Results").mkdir(exist_ok=True)


def run_pynn(example: Path, target: str, args: Sequence[str], *, fit: str | None = None,
             timeout: float = TIMEOUT_S) -> tuple[int, str, float]:
    """``spikeport pynn`` of one example on one target: exit status, error (or, for a
    script that never ran a network, the note saying so), seconds."""
    command = [sys.executable, "-m", "toolchain", "pynn", "--target", target,
               *(["--fit", fit] if fit else []), str(example), "spikeport", *args]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        _results_folder(scratch)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  cwd=scratch, env={**os.environ, "MPLBACKEND": "Agg"})
        except subprocess.TimeoutExpired:
            return 1, f"did not finish in {timeout:g} s", time.perf_counter() - start
    code = done.returncode
    if code == 0:
        message = _NO_RUN_NOTE if _NO_RUN_NOTE in done.stderr else ""
    else:
        message = _error_line(done.stderr, done.stdout)
    return code, message, time.perf_counter() - start


def rate_errors(example: Path, targets: Sequence[str], args: Sequence[str], *,
                fit: str | None = None, timeout: float = TIMEOUT_S
                ) -> tuple[dict[str, float | None], dict[str, str]]:
    """``spikeport portability`` of the example: per target that ran the captured network,
    its worst population rate error (None where the reference fires no spike), and the
    approximations it applied."""
    others = [t for t in targets if t != "reference"]
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "toolchain", "portability", "--targets",
                   ",".join(others), *(["--fit", fit] if fit else []), "-o", scratch,
                   str(example), "spikeport", *args]
        _results_folder(scratch)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  cwd=scratch, env={**os.environ, "MPLBACKEND": "Agg"})
        except subprocess.TimeoutExpired:
            return {}, {}
        path = Path(scratch) / "portability.csv"
        if done.returncode != 0 or not path.is_file():
            return {}, {}
        rows = list(csv.DictReader(path.open()))
    ref = {r["population"]: float(r["rate_hz"]) for r in rows
           if r["target"] == "reference" and r["status"] == "ok" and r["rate_hz"]}
    worst: dict[str, float | None] = {}
    applied: dict[str, str] = {}
    for r in rows:
        if r["status"] != "ok":
            continue
        applied[r["target"]] = r.get("approximations", "")
        err = r["rate_error"]
        if not err or ref.get(r["population"], 0.0) <= 0:
            worst.setdefault(r["target"], None)
            continue
        value = float(err)
        best = worst.get(r["target"])
        if best is None or abs(value) > abs(best):
            worst[r["target"]] = value
    return worst, applied


def measure(example: Path, targets: Sequence[str] = TARGETS,
            approximate: bool = True) -> Row:
    """Every target's cell for one example."""
    args = ARGS.get(example.name, [])
    row = Row(example.name)
    for target in targets:
        code, reason, seconds = run_pynn(example, target, args)
        status = "refused" if code else NO_NETWORK if reason == _NO_RUN_NOTE else "runs"
        row.cells[target] = Cell(status, "" if code == 0 else reason, seconds=seconds)
    ran = [t for t in targets if row.cells[t].status == "runs"]
    if "reference" in ran and len(ran) > 1:
        errors, _ = rate_errors(example, ran, args)
        for t in ran:
            row.cells[t].rate_error = errors.get(t)
    refused = [t for t in targets if row.cells[t].status == "refused" and t != "reference"]
    if approximate and refused and row.cells.get("reference", Cell("refused")).status == "runs":
        for t in refused:
            code, reason, _ = run_pynn(example, t, args, fit="approximate")
            row.cells[t].approximate = "runs" if code == 0 else "refused"
            row.cells[t].approximate_reason = reason
        fitted = [t for t in refused if row.cells[t].approximate == "runs"]
        if fitted:
            errors, applied = rate_errors(example, ["reference", *fitted], args,
                                          fit="approximate")
            for t in fitted:
                row.cells[t].approximations = applied.get(t, "")
                if t in errors:
                    found = errors[t]
                    row.cells[t].approximate_rate_error = math.nan if found is None else found
    return row


# --------------------------------------------------------------------------- output


def counts(rows: Sequence[Row], targets: Sequence[str]) -> dict[str, int]:
    return {t: sum(r.cells[t].status == "runs" for r in rows if t in r.cells)
            for t in targets}


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:+.1f} %"


def markdown(rows: Sequence[Row], targets: Sequence[str] = TARGETS) -> str:
    """The matrix as a Markdown table with its footnotes and counts."""
    notes: dict[str, int] = {}
    lines = ["| example | " + " | ".join(targets) + " |",
             "|---|" + "---|" * len(targets)]
    for row in rows:
        cells = []
        for t in targets:
            c = row.cells.get(t)
            if c is None:
                cells.append("-")
            elif c.status == "runs":
                cells.append(f"runs, {_pct(c.rate_error)}")
            elif c.status == NO_NETWORK:
                cells.append(NO_NETWORK)
            else:
                k = notes.setdefault(c.reason, len(notes) + 1)
                extra = _approx_runs(c)
                if c.approximate == "refused" and c.approximate_reason != c.reason:
                    m = notes.setdefault(c.approximate_reason, len(notes) + 1)
                    extra = f"; approx. refused [{m}]"
                cells.append(f"refused [{k}]{extra}")
        lines.append(f"| {row.example} | " + " | ".join(cells) + " |")
    n = counts(rows, targets)
    lines.append("| **runs** | " + " | ".join(f"**{n[t]}**" for t in targets) + " |")
    hardware = sum(v for t, v in n.items() if t != "reference")
    fitted = [(row.example, t, c.approximations) for row in rows
              for t, c in row.cells.items() if c.approximate == "runs"]
    more = sum(t != "reference" for _, t, _ in fitted)
    lines += ["", f"{len(rows)} examples; the hardware targets run {hardware} example-target "
              "pairs in all" + (f", {hardware + more} with `--fit approximate`." if more
                                else ".")]
    if fitted:
        lines += ["", "With `--fit approximate` (the approximations each applied):", ""]
        lines += [f"- {ex} on {t}: {what or 'none reported'}" for ex, t, what in fitted]
    lines += ["", "Reasons:", ""]
    lines += [f"{k}. {_escape(reason)}" for reason, k in notes.items()]
    return "\n".join(lines) + "\n"


def _approx_runs(cell: Cell) -> str:
    """"; approx. runs" and, where measured, its rate error (as a cell that runs shows)."""
    if cell.approximate != "runs":
        return ""
    if cell.approximate_rate_error is None:
        return "; approx. runs"
    return f"; approx. runs, {_pct(cell.approximate_rate_error)}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def update_docs(path: Path, table: str | None, command: str) -> None:
    """Replace the generated parts of ``path``: the targets' declared feature table, and
    (given) the examples matrix."""
    from toolchain.targets.support import declared_table

    text = _replace(path, path.read_text(), FEATURES_BEGIN, FEATURES_END,
                    f"\n{declared_table()}")
    if table is not None:
        text = _replace(path, text, BEGIN, END, f"\n<!-- generated by `{command}`; do not "
                        f"edit by hand -->\n\n{table}")
    path.write_text(text)


def _replace(path: Path, text: str, begin: str, end: str, body: str) -> str:
    if begin not in text or end not in text:
        raise SystemExit(f"{path} has no {begin} ... {end} section to replace")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}{body}{end}{tail}"


def parse_docs(path: Path) -> dict[str, dict[str, str]]:
    """The generated table of ``path`` as example -> target -> cell text (footnote numbers
    replaced by their reasons), to check a fresh run against."""
    text = path.read_text().split(BEGIN, 1)[1].split(END, 1)[0]
    reasons = dict(re.findall(r"^(\d+)\. (.*)$", text, re.M))
    table = [ln for ln in text.splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    out: dict[str, dict[str, str]] = {}
    for line in table[1:]:
        cols = [c.strip() for c in line.strip("|").split("|")]
        if cols[0].startswith("**"):
            continue
        out[cols[0]] = {t: re.sub(r"\[(\d+)\]", lambda m: f"[{reasons[m.group(1)]}]", c)
                        for t, c in zip(header[1:], cols[1:], strict=True)}
    return out


def cell_text(cell: Cell) -> str:
    """A cell as :func:`parse_docs` reads it back (status and reason, not the numbers)."""
    if cell.status in ("runs", NO_NETWORK):
        return cell.status
    extra = "; approx. runs" if cell.approximate == "runs" else ""
    if cell.approximate == "refused" and cell.approximate_reason != cell.reason:
        extra = f"; approx. refused [{_escape(cell.approximate_reason)}]"
    return f"refused [{_escape(cell.reason)}]{extra}"


def rows_from_json(paths: Sequence[Path]) -> tuple[list[Row], list[str]]:
    """The rows of earlier ``--json`` runs, a later file's cells replacing an earlier one's,
    and the targets they cover in the order of TARGETS."""
    cells: dict[str, dict[str, Cell]] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise SystemExit(f"Error: {path}: not a matrix JSON file ({e})") from None
        for entry in data:
            row = cells.setdefault(entry["example"], {})
            for target, cell in entry["cells"].items():
                row[target] = Cell(**cell)
    present = {t for row in cells.values() for t in row}
    targets = [t for t in TARGETS if t in present]
    rows = [Row(name, {t: cells[name][t] for t in targets if t in cells[name]})
            for name in sorted(cells)]
    return rows, targets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("examples", nargs="*", help="example file names (default: all)")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--no-approximate", action="store_true",
                        help="do not try --fit approximate where a target refuses")
    parser.add_argument("--docs", type=Path, help="write the tables into this Markdown file")
    parser.add_argument("--features-only", action="store_true",
                        help="with --docs: write only the targets' feature table (no runs)")
    parser.add_argument("--json", type=Path, help="write every cell as JSON here")
    parser.add_argument("--from-json", type=Path, nargs="+", metavar="FILE",
                        help="take the cells of earlier --json runs (later files win) "
                             "instead of running the examples")
    opts = parser.parse_args(argv)
    if opts.features_only:
        if opts.docs is None:
            parser.error("--features-only writes the feature table into --docs FILE")
        update_docs(opts.docs, None, "")
        return 0
    if opts.docs is not None and opts.examples:
        parser.error("--docs writes the whole matrix: give no example names")
    if opts.from_json:
        rows, targets = rows_from_json(opts.from_json)
        table = markdown(rows, targets)
        print(table)
        if opts.docs:
            update_docs(opts.docs, table, "python examples/pynn_examples_matrix.py --docs "
                        f"{opts.docs}")
        return 0
    root = examples_dir()
    if not root.is_dir():
        print(f"PyNN's examples are not in {root}; run make setup", file=sys.stderr)
        return 2
    names = opts.examples or sorted(p.name for p in root.glob("*.py"))
    targets = [t.strip() for t in opts.targets.split(",") if t.strip()]
    rows = []
    for name in names:
        start = time.perf_counter()
        row = measure(root / name, targets, approximate=not opts.no_approximate)
        rows.append(row)
        print(f"{name}: " + ", ".join(f"{t} {c.status}" for t, c in row.cells.items())
              + f" ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    table = markdown(rows, targets)
    print(table)
    if opts.json:
        opts.json.write_text(json.dumps([{"example": r.example, "cells": {
            t: asdict(c) for t, c in r.cells.items()}} for r in rows], indent=1))
    if opts.docs:
        update_docs(opts.docs, table, "python examples/pynn_examples_matrix.py --docs "
                    f"{opts.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
