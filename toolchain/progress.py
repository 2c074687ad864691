"""Progress of long operations, shown as bars on a terminal.

Library code marks a long loop with ``with task(name, total, unit) as t: ... t.advance()``;
that costs almost nothing unless progress is being shown.  :func:`on_terminal` shows it:
one tqdm bar per running task on stderr (a task inside another one gets the line below),
and nothing at all when stderr is not a terminal (a pipe, a log file, CI).  While bars are
live, whatever the program or a user's script writes to stdout or stderr is written in
whole lines above them, so the bars never overwrite, split or swallow it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, TextIO

_shown: ContextVar[_Bars | None] = ContextVar("spikeport_progress", default=None)


class Task:
    """One long operation: ``total`` units of work (``None``: not known in advance)."""

    def __init__(self, name: str, total: int | None, unit: str) -> None:
        self.name, self.total, self.unit = name, total, unit
        self._bar: Any = None  # the tqdm bar while progress is shown

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def note(self, text: str, *, now: bool = True) -> None:
        """What the task is doing now (a pass, a target); ``now=False`` for a count that
        changes often, shown with the next redraw."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=now)


@contextlib.contextmanager
def task(name: str, total: int | None = None, unit: str = "it", *,
         initial: int = 0) -> Iterator[Task]:
    bars = _shown.get()
    t = Task(name, total, unit)
    if bars is None or not bars.here():
        yield t
        return
    t._bar = bars.open(t, initial)
    try:
        yield t
    finally:
        bars.close(t._bar)


class _Bars:
    """The live bars, on the stream that was stderr when they were switched on."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live: list[Any] = []
        self.pid = os.getpid()  # a forked worker inherits this object but not the terminal

    def here(self) -> bool:
        return os.getpid() == self.pid

    def open(self, t: Task, initial: int) -> Any:
        from tqdm import tqdm

        bar = tqdm(total=t.total, initial=initial, desc=t.name, unit=t.unit,
                   file=self.stream, position=len(self.live), leave=False,
                   dynamic_ncols=True, mininterval=0.2,
                   # no count to show: what it is and how long it has been going
                   bar_format="{desc}... {elapsed}{postfix}" if t.total is None else None)
        self.live.append(bar)
        return bar

    def close(self, bar: Any) -> None:
        bar.close()
        self.live.remove(bar)

    def around(self, write: Any, text: str) -> None:
        """Write ``text`` with the bars cleared first and drawn again after it."""
        from tqdm import tqdm

        with tqdm.get_lock():
            for bar in self.live:
                bar.clear(nolock=True)
            write(text)
            for bar in self.live:
                bar.refresh(nolock=True)


class _AroundBars:
    """A text stream whose whole lines are written above the live bars; a partial line
    waits for its end (or for the bars to go), since a bar redrawn after it would hide it."""

    def __init__(self, stream: TextIO, bars: _Bars) -> None:
        self._stream, self._bars = stream, bars
        self._pending = ""

    def write(self, text: str) -> int:
        if not self._bars.live or not self._bars.here():
            self._flush_pending()
            return self._stream.write(text)
        head, newline, tail = (self._pending + text).rpartition("\n")
        self._pending = tail
        if newline:
            self._bars.around(self._write_now, head + newline)
        return len(text)

    def _write_now(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def _flush_pending(self) -> None:
        if self._pending:
            text, self._pending = self._pending, ""
            self._stream.write(text)

    def flush(self) -> None:
        if not self._bars.live:
            self._flush_pending()
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str) -> Any:  # encoding, buffer, ...: the real stream's
        return getattr(self._stream, name)


@contextlib.contextmanager
def on_terminal(stream: TextIO | None = None) -> Iterator[None]:
    """Show the progress of every task started inside the block as bars on ``stream``
    (default: stderr), if it is a terminal; otherwise change nothing."""
    stream = stream if stream is not None else sys.stderr
    if _shown.get() is not None or not _isatty(stream):
        yield
        return
    bars = _Bars(stream)
    token = _shown.set(bars)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _AroundBars(sys.stdout, bars), _AroundBars(sys.stderr, bars)
    try:
        yield
    finally:
        for bar in list(bars.live):
            bars.close(bar)
        for wrapper in (sys.stdout, sys.stderr):
            if isinstance(wrapper, _AroundBars):
                wrapper._flush_pending()
        sys.stdout, sys.stderr = saved
        _shown.reset(token)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
