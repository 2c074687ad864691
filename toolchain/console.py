"""What a user of the ``spikeport`` command sees: errors, output directories, script options.

Errors draw one line between a user's mistake and a bug in spikeport.  A mistake (a bad
parameter, a network that does not fit, a damaged file, an error in the user's own
script, a file that cannot be written) is one ``Error:`` message naming the script file and
line it came from.  A bug (an exception that escaped from inside spikeport's computations)
shows its traceback and asks to be reported.  ``spikeport --debug`` shows the traceback of
both.

An exception counts as a user's mistake when

* its class is one of spikeport's or PyNN's own error types (``IRError``, ``MappingError``,
  ``FormatError``, ``pyNN.errors.InvalidParameterValueError``, ...), an ``OSError`` (a file
  or port the user named) or a ``MemoryError``;
* spikeport or PyNN raised it on purpose, with a message: the innermost frame is a
  ``raise`` statement in their code, so the message was written for the user
  (``ValueError``, ``NotImplementedError`` for an unsupported feature, ...; a bare
  ``RuntimeError`` or an ``AssertionError`` states an internal invariant);
* or it came from the user's own code: no spikeport frame lies between the user's last
  frame and where it was raised (a ``NameError`` in the script, a ``SyntaxError``).
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import sysconfig
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import click

_OWN = tuple(str(Path(__file__).resolve().parent.parent / pkg) + os.sep
             for pkg in ("toolchain", "hdl"))
_LIBRARIES = tuple(sorted({str(Path(p).resolve()) + os.sep for key in
                           ("stdlib", "platstdlib", "purelib", "platlib", "scripts")
                           if (p := sysconfig.get_paths().get(key))}))
# Error types whose module says they were written for users of the library.
_USER_MODULES = ("toolchain.", "hdl.", "pyNN.")
# Raised on purpose but addressed to developers: an internal invariant that did not hold.
_INVARIANTS = (RuntimeError, AssertionError)

# Subcommands that run a PyNN script: their own options may come before or after the
# script and its arguments (``spikeport pynn net.py spikeport --target loihi``); options the
# command does not know go to the script.
SCRIPT_COMMAND = {"ignore_unknown_options": True}
SCRIPT_ARGS_HELP = ("This command's options may come before SCRIPT or after the script's "
                    "arguments. Arguments after SCRIPT go to the script, and so do options "
                    "this command does not know; to give the script an option this command "
                    "also has, put it after `--` (`... SCRIPT spikeport -- --out results`).")



def fit_option(command):  # type: ignore[no-untyped-def]
    """``--fit strict|approximate`` on a command that compiles for targets: the same as
    ``-O fit=...`` for each of them (:func:`toolchain.targets.options.with_fit`)."""
    from toolchain.compiler.fit import FIT_POLICIES

    return click.option(
        "--fit", type=click.Choice(FIT_POLICIES), default=None,
        help="What a network over a target's limit gets: 'strict' (default) refuses it "
             "naming the limit; 'approximate' applies the target's documented "
             "approximations and lists them in the report (-O fit=... for every target).",
    )(command)


@dataclass(frozen=True)
class Failure:
    """An exception as a user will read it."""

    message: str
    users: bool  # a user's mistake (False: a bug in spikeport)
    where: str | None  # "net.py, line 12: sim.run(100)", the user's code it surfaced in


def _kind(filename: str) -> str:
    """'own' (spikeport), 'library' (Python, installed packages, generated code) or 'user'."""
    if not filename or filename.startswith("<"):
        return "library"
    path = str(Path(filename).resolve())
    if path.startswith(_OWN):
        return "own"
    if path.startswith(_LIBRARIES):
        return "library"
    return "user"


def _frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    return list(traceback.extract_tb(tb)) if tb is not None else []


def _show_path(filename: str) -> str:
    try:
        return str(Path(filename).resolve().relative_to(Path.cwd()))
    except ValueError:
        return filename


def _where(filename: str, lineno: int | None, line: str | None = None) -> str:
    text = (line or linecache.getline(filename, lineno or 0)).strip()
    return f"{_show_path(filename)}, line {lineno}" + (f": {text}" if text else "")


def _root(exc: BaseException) -> BaseException:
    """The exception a wrapper was raised from (``raise Wrapper(...) from exc``)."""
    seen = {id(exc)}
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:
        exc = exc.__cause__
        seen.add(id(exc))
    return exc


def _text(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]  # str() of a KeyError is the repr of its argument
    if isinstance(exc, OSError) and exc.strerror:
        names = [f"'{n}'" for n in (exc.filename, exc.filename2) if n is not None]
        return f"{exc.strerror}: {' -> '.join(names)}" if names else exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def classify(exc: BaseException) -> Failure:
    """Decide whether ``exc`` is a user's mistake or a bug, and where it surfaced."""
    root = _root(exc)
    frames = _frames(root.__traceback__)
    user = [f for f in frames if _kind(f.filename) == "user"]
    where = _where(user[-1].filename, user[-1].lineno, user[-1].line) if user else None
    if isinstance(root, SyntaxError) and root.filename and _kind(root.filename) == "user":
        return Failure(f"SyntaxError: {root.msg}", True,
                       _where(root.filename, root.lineno, root.text))
    last = frames[-1] if frames else None
    raised = last is not None and re.match(r"raise\b", last.line or "") is not None
    own_raise = raised and _kind(last.filename) == "own"
    pynn_raise = raised and f"{os.sep}pyNN{os.sep}" in last.filename
    on_purpose = (own_raise or pynn_raise) and type(root) not in _INVARIANTS and bool(str(root))
    not_library = [f for f in frames if _kind(f.filename) != "library"]
    from_user_code = bool(not_library) and _kind(not_library[-1].filename) == "user"
    users = (type(root).__module__.startswith(_USER_MODULES) or on_purpose or from_user_code
             or isinstance(root, (OSError, MemoryError)))
    if isinstance(root, MemoryError):
        return Failure("out of memory: the network needs more than this machine has", users,
                       where)
    shown = exc if _is_own_type(exc) else root  # a wrapper's message adds what was going on
    text = _text(shown)
    if not (_is_own_type(shown) or own_raise or isinstance(shown, OSError)):
        text = f"{type(shown).__name__}: {text}"  # not a sentence of spikeport's own
    return Failure(text, users, where)


def _is_own_type(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("toolchain.", "hdl."))


def report(exc: BaseException, *, debug: bool = False) -> int:
    """Print ``exc`` for the user on stderr; return the exit status (1)."""
    failure = classify(exc)
    if debug or not failure.users:
        traceback.print_exception(exc, file=sys.stderr)
    if failure.users:
        click.echo(f"Error: {failure.message}", err=True)
        if failure.where:
            click.echo(f"  at {failure.where}", err=True)
        return 1
    click.echo(f"Error: a bug in spikeport: {failure.message}", err=True)
    if failure.where:
        click.echo(f"  (it surfaced at {failure.where})", err=True)
    click.echo("  Please report it, with the command you ran and the traceback above.",
               err=True)
    return 1


def debugging() -> bool:
    """``spikeport --debug`` or SPIKEPORT_DEBUG=1 in the environment."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    if root is not None and root.params.get("debug"):
        return True
    return os.environ.get("SPIKEPORT_DEBUG", "") not in ("", "0")


def output_dir(path: str | Path, option: str = "--out") -> Path:
    """Create ``path`` and check that files can be written there, before any work starts,
    so that a long compile is not lost to an unwritable ``--out``."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as e:
        raise click.BadParameter(f"cannot write to '{path}' ({e.strerror or e}); give a "
                                 "directory you can write to", param_hint=f"'{option}'") from None
    return path


def simulator_of_script() -> object:
    """The simulator PyNN's global state holds now: a script that never calls ``run()``
    leaves it as it was (or ``None`` after ``setup()``)."""
    from toolchain.pynn import simulator

    return simulator.state.simulator


def never_ran(script: str | Path) -> str:
    text = f"{_show_path(str(script))} never called run(), so no network was simulated"
    try:
        if "get_simulator" in Path(script).read_text(errors="replace"):
            text += " (it takes the simulator's name as an argument: pass 'spikeport')"
    except OSError:
        pass
    return text
