"""The FPGA benchmark's guard for a board whose design does not fit: nextpnr's utilisation
is reported, the other boards are still measured, and other build failures still raise."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest

import benchmarks.bench_fpga as bench
from hdl.board import BuildReport, DoesNotFit, does_not_fit, utilisation
from toolchain.boards import BoardSpec
from toolchain.targets.fpga.spec import preset

pytestmark = pytest.mark.hdl

# the head and tail of a real nextpnr-ice40 run on an UP5K design that needs 8494 LCs
OVERFULL_ICE40 = """\
Info: Packing RAMs..
Info: Constraining chains...
Info:        4 LCs used to legalise carry chains.
Info: Checksum: 0x0787861a

Info: Device utilisation:
Info: \t         ICESTORM_LC:    8494/   5280   160%
Info: \t        ICESTORM_RAM:      25/     30    83%
Info: \t               SB_IO:      21/     39    53%
Info: \t               SB_GB:       2/      8    25%
Info: \t        ICESTORM_DSP:       0/      8     0%
Info: \t      ICESTORM_SPRAM:       0/      4     0%

Info: Placed 0 cells based on constraints.
ERROR: Unable to place cell 'f1.count_LC', no BELs remaining to implement cell type \
'ICESTORM_LC'
1 warning, 1 error
"""

# a routed ECP5 build: one report after packing, the figures again after routing
FITTED_ECP5 = """\
Info: Device utilisation:
Info: \t          TRELLIS_IO:       6/    365     1%
Info: \t                DCCA:       1/     56     1%
Info: \t              DP16KD:     175/    208    84%
Info: \t         TRELLIS_FF:    1170/  83640     1%
Info: \t       TRELLIS_COMB:    3946/  83640     4%

Info: Max frequency for clock '$glbnet$clk': 33.49 MHz (PASS at 25.00 MHz)
"""

ULX3S = BuildReport(board="ulx3s", core="ecp5-85f", bitstream="spikecore.bit",
                    logic_cells=3946, logic_total=83640, flip_flops=1170, block_ram=175,
                    block_ram_total=208, dsp=0, fmax_mhz=33.49, clock_mhz=25.0, neurons=1024,
                    synapses=65536)


def test_overfull_log_names_the_overfull_cells_first() -> None:
    assert does_not_fit(OVERFULL_ICE40) == (
        "ICESTORM_LC 8494/5280 (160 %, 3214 over), ICESTORM_RAM 25/30 (83 %)")


def test_a_fitted_log_or_another_error_is_not_a_fit_failure() -> None:
    assert utilisation(FITTED_ECP5)["DP16KD"] == (175, 208)
    assert does_not_fit(FITTED_ECP5) is None
    assert does_not_fit("ERROR: failed to parse JSON file 'spikecore.json'\n") is None


def test_placement_error_without_a_report_still_counts() -> None:
    log = "ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'DP16KD'\n"
    assert does_not_fit(log) == "nextpnr could not place the design"


def _touch(path: Path, text: str, mtime: float) -> None:
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def _fail_icebreaker(board: BoardSpec, *, spec, build_dir: Path) -> BuildReport:
    """What build_bitstream raises when nextpnr gives up (tests/hdl/test_spikecore_board.py
    has it read from nextpnr's log)."""
    if board.name == "ulx3s":
        return ULX3S
    raise DoesNotFit(board, spec, does_not_fit(OVERFULL_ICE40))


def test_boards_reports_does_not_fit_and_builds_the_next_board(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(bench, "BUILD_ROOT", tmp_path)
    monkeypatch.setattr(bench, "build_bitstream", _fail_icebreaker)
    bench.boards(skip_builds=False)
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[3:]}
    # each board's default and capacity preset
    for row in ("icebreaker/ice40up5k", "icebreaker/ice40up5k-spram"):
        assert ("does not fit: ICESTORM_LC 8494/5280 (160 %, 3214 over), ICESTORM_RAM 25/30 "
                "(83 %)") in rows[row]
    assert {"ulx3s/ecp5-85f", "ulx3s/ecp5-85f-2k"} <= set(rows)
    assert "3946/83640" in rows["ulx3s/ecp5-85f"] and "33.5" in rows["ulx3s/ecp5-85f"]
    # 90 neurons / 6,981 LUT = 12.9 per 1k; 8,100 synapses / (30.5 x 36 kbit) = 7.20 per kbit
    assert rows["NeuroCoreX"].split()[-4:] == ["12.9", "1.0", "7.20", "1.0"]
    # 1,024 / 3,946 LUT4 = 259.5 per 1k (20.1 x); 65,536 / (175 x 18 kbit) = 20.32 (2.8 x)
    assert rows["ulx3s/ecp5-85f"].split()[-7:-3] == ["259.5", "20.1", "20.32", "2.8"]


def test_a_ten_percent_active_step_at_the_board_clock() -> None:
    """The ulx3s preset: 102 of 1,024 neurons and inputs spike, each row holds 32 of the
    65,536 synapses, so 204 rows deliver 6,528 events."""
    spec = preset("ecp5-85f")
    step = bench.active_step(spec, 25e6)
    assert step.events == 6528
    assert step.cycles == spec.cycles_per_step(inputs=102, repeats=0, spikes=102, events=6528,
                                               potentiation=False, synapses_in_rows=65536)
    assert step.steps_per_s == pytest.approx(25e6 / step.cycles)
    # NeuroCoreX: 0.305 W over 100 us is 30.5 uJ a step, over 9 x 90 events
    assert bench.neurocorex_step().pj_per_event == pytest.approx(30.5e6 / 810)


def test_a_failure_before_nextpnr_raises_even_with_an_old_overfull_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "BUILD_ROOT", tmp_path)
    old = tmp_path / "bitstreams" / "icebreaker"
    old.mkdir(parents=True)
    _touch(old / "spikecore.tim", OVERFULL_ICE40, 1_000_000)

    def yosys_fails(board: BoardSpec, *, spec, build_dir: Path) -> BuildReport:
        if board.name == "ulx3s":
            return ULX3S
        raise subprocess.CalledProcessError(1, ["sh", "build_spikecore.sh"])

    monkeypatch.setattr(bench, "build_bitstream", yosys_fails)
    with pytest.raises(subprocess.CalledProcessError):
        bench.boards(skip_builds=False)


def test_skip_builds_prefers_a_newer_failed_log_to_an_older_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(bench, "BUILD_ROOT", tmp_path)
    for name, tim, report_age, log_age in (("icebreaker", OVERFULL_ICE40, 1_000, 2_000),
                                           ("ulx3s", FITTED_ECP5, 2_000, 1_000)):
        d = tmp_path / "bitstreams" / name
        d.mkdir(parents=True)
        _touch(d / "report.json", json.dumps(asdict(ULX3S)), report_age)
        _touch(d / "spikecore.tim", tim, log_age)
    bench.boards(skip_builds=True)
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[3:]}
    assert "does not fit: ICESTORM_LC 8494/5280" in rows["icebreaker/ice40up5k"]
    assert rows["icebreaker/ice40up5k"].endswith("(last build)")
    assert "3946/83640" in rows["ulx3s/ecp5-85f"]
    assert "build skipped" in rows["ulx3s/ecp5-85f-2k"]  # never built here
