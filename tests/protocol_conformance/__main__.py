"""Fuzz boards against docs/protocol.md with larger counts than CI runs, and print a table:

    python -m tests.protocol_conformance                       # virtual and rtl-sim, tiny
    python -m tests.protocol_conformance --board virtual --preset ecp5-85f --seeds 5 --cases 5000

Each seed starts from a power-cycled board; any departure from the page stops the run with
the frames that led to it."""

from __future__ import annotations

import argparse
import sys

from tests.protocol_conformance.client import Client
from tests.protocol_conformance.conftest import TIMEOUT, start_board
from tests.protocol_conformance.fuzz import Fuzzer, Stats
from tests.protocol_conformance.host import Host


def fuzz(kind: str, preset_name: str, seeds: int, cases: int) -> Stats:
    board = start_board(kind, preset_name)
    client = Client(board.path)
    host = Host(client, board.power_cycle, timeout=TIMEOUT[kind])
    total = Stats()
    try:
        host.start()
        for seed in range(seeds):
            if seed:
                host.power_cycle()
            total.add(Fuzzer(host, seed).run(cases))
    finally:
        client.close()
        board.stop()
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.protocol_conformance",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--board", action="append", choices=sorted(TIMEOUT),
                        help="board to fuzz (repeat for several; default: both)")
    parser.add_argument("--preset", default="tiny", help="core build preset")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cases", type=int, default=2000, help="cases per seed")
    args = parser.parse_args(argv)
    print("| board | build | seeds | cases | frames sent | frames checked | s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind in args.board or sorted(TIMEOUT, reverse=True):
        s = fuzz(kind, args.preset, args.seeds, args.cases)
        print(f"| {kind} | {args.preset} | {args.seeds} | {sum(s.cases.values())} | "
              f"{s.frames_sent} | {s.frames_checked} | {s.seconds:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
