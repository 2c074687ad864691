"""Progress bars: shown on a terminal, absent otherwise, and never in the way of output."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap
from pathlib import Path

from toolchain.progress import on_terminal, task


def screen(raw: str) -> list[str]:
    """The rows a terminal shows after ``raw``: carriage return, newline and cursor-up
    moves; other escape sequences are dropped."""
    rows: list[list[str]] = [[]]
    r = c = 0
    for m in re.finditer(r"\x1b\[(\d*)([A-Za-z])|(.)", raw, re.S):
        count, command, ch = m.groups()
        if command == "A":
            r = max(0, r - int(count or 1))
        elif command:
            continue
        elif ch == "\r":
            c = 0
        elif ch == "\n":
            r, c = r + 1, 0
        else:
            while len(rows) <= r:
                rows.append([])
            rows[r].extend(" " * (c + 1 - len(rows[r])))
            rows[r][c] = ch
            c += 1
    return ["".join(row).rstrip() for row in rows]


def on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``args`` with stdout and stderr on a pseudo-terminal 100 columns wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            cwd=cwd, env={**os.environ, "COLUMNS": "100"})
    os.close(slave)
    chunks = []
    try:
        while select.select([master], [], [], 300)[0]:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        proc.wait(timeout=60)
    return proc.returncode, b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no descriptor")


def test_text_written_while_a_bar_is_live_lands_whole_above_it(monkeypatch):
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    monkeypatch.setattr(sys, "stderr", term)
    with on_terminal():
        with task("streaming", total=10, unit="step") as shown:
            shown.advance(3)
            print("44", end="")  # a script printing in two writes while the bar is drawn
            shown.advance(3)
            print("768 spikes")
            print("a partial line at the end", end="")
    rows = screen(term.getvalue())
    assert "44768 spikes" in rows
    assert rows[-1] == "a partial line at the end"
    assert re.search(r"\rstreaming: +60%.*6/10", term.getvalue())  # drawn again after it


def test_nothing_changes_off_a_terminal(monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    with on_terminal():
        assert sys.stdout is out and sys.stderr is err
        with task("streaming", total=10) as shown:
            shown.advance(10)
            print("done")
    assert out.getvalue() == "done\n" and err.getvalue() == ""


TALKATIVE = """
    import pyNN.spikeport as sim
    sim.setup(timestep=0.1)
    src = sim.Population(4, sim.SpikeSourcePoisson(rate=200.0))
    cells = sim.Population(4, sim.IF_curr_exp())
    sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=2.0))
    cells.record("spikes")
    print("before the run")
    sim.run(500.0)
    print("44768 spikes")
"""


def test_run_shows_a_live_bar_and_the_scripts_own_lines_whole(tmp_path):
    path = tmp_path / "talk.py"
    path.write_text(textwrap.dedent(TALKATIVE))
    code, raw = on_a_terminal([sys.executable, "-m", "toolchain", "run", "--board", "virtual",
                               "-o", str(tmp_path / "out"), str(path)], tmp_path)
    assert code == 0, raw
    assert re.search(r"run on the board: +\d+%.*/5000 .*\d+ spikes\]", raw)
    rows = screen(raw)
    assert "before the run" in rows and "44768 spikes" in rows
    assert rows[-2].startswith("streamed 5000 steps")
    piped = subprocess.run([sys.executable, "-m", "toolchain", "run", "--board", "virtual",
                            "-o", str(tmp_path / "out"), str(path)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0
    assert "\r" not in piped.stderr and "run on the board" not in piped.stderr
    assert piped.stdout.splitlines()[:2] == ["before the run", "44768 spikes"]


def test_compile_and_portability_report_passes_and_targets(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(TALKATIVE).replace("500.0", "50.0"))
    code, raw = on_a_terminal([sys.executable, "-m", "toolchain", "compile", "--target",
                               "loihi", "-o", str(tmp_path / "c"), str(path)], tmp_path)
    assert code == 0, raw
    for name in ("check", "quantise", "partition", "place", "route", "encode"):
        assert re.search(rf"compile net: .*\[.*{name}\]", raw), name
    # and the steps around the passes, which take longer at scale (the 10 % microcircuit:
    # capture 0.7 s, passes 1.9 s, save 1.8 s, figure 8.7 s)
    assert "capture net.py... 00:00" in raw and "draw placement.png... 00:00" in raw
    assert re.search(r"save compiled.spz: .*\d+/\d+ .*array", raw)
    code, raw = on_a_terminal([sys.executable, "-m", "toolchain", "portability", "--targets",
                               "loihi,dynapse", "-o", str(tmp_path / "p"), str(path)], tmp_path)
    assert code == 0, raw
    for name in ("reference", "loihi", "dynapse"):
        assert re.search(rf"portability of net: .*/3 .*{name}\]", raw), name
    assert re.search(r"simulate on loihi: ", raw)
