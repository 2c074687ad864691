"""Seeded fuzzing of every board against docs/protocol.md (``fuzz.Fuzzer``): 3 seeds of 600
cases on the virtual board (tiny, and ecp5-85f for two-byte ids), 2 of 150 on rtl-sim, which
simulates every bit of the gateware.  SPIKEPORT_FUZZ_SEEDS and SPIKEPORT_FUZZ_CASES change
the counts; ``python -m tests.protocol_conformance`` runs larger ones on demand."""

from __future__ import annotations

import pytest

from tests.protocol_conformance.conftest import RTL_SIM, VIRTUAL, VIRTUAL_WIDE, board_params
from tests.protocol_conformance.fuzz import CASES, Fuzzer, Stats
from tests.protocol_conformance.host import Host


@pytest.mark.parametrize("served", board_params(VIRTUAL, VIRTUAL_WIDE, RTL_SIM), indirect=True)
def test_seeded_fuzz_keeps_to_the_page(host: Host, capsys: pytest.CaptureFixture) -> None:
    from tests.protocol_conformance.conftest import fuzz_counts

    seeds, cases = fuzz_counts(host.kind)  # type: ignore[attr-defined]
    total = Stats()
    for seed in range(seeds):
        if seed:
            host.power_cycle()
        total.add(Fuzzer(host, seed).run(cases))
    assert sum(total.cases.values()) == seeds * cases
    if seeds * cases >= 200:  # enough cases that every kind comes up
        assert set(total.cases) == set(CASES), total.cases
    with capsys.disabled():
        print(f"\nprotocol fuzz on {host.kind}: {seeds} seeds x {cases} cases, "  # type: ignore[attr-defined]
              f"{total.frames_sent} frames sent, {total.frames_checked} checked, "
              f"{total.seconds:.1f} s")
