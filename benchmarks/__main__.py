"""Run every benchmark module (``benchmarks/bench_*.py``) and print its table.

``python -m benchmarks`` runs them all, one after another, each in its own process (they
measure peak memory and start subprocesses of their own); ``python -m benchmarks NAME ...``
runs the named ones (``va_cuba`` or ``bench_va_cuba``).  Exit status is non-zero if any
benchmark failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
        epilog=f"benchmarks: {', '.join(n.removeprefix('bench_') for n in names)}")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="benchmarks to run (default: all of them)")
    wanted = parser.parse_args(argv).names
    if wanted:
        chosen = [n if n.startswith("bench_") else f"bench_{n}" for n in wanted]
        unknown = [n for n in chosen if n not in names]
        if unknown:
            print(f"unknown benchmark {unknown[0]!r}; available: {', '.join(names)}",
                  file=sys.stderr)
            return 2
        names = chosen
    failed = []
    for name in names:
        print(f"=== {name} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"], cwd=HERE.parent)
        print(f"--- {name}: {'ok' if code == 0 else f'failed ({code})'} in "
              f"{time.perf_counter() - start:.0f} s\n", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
