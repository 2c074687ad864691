"""boards/*.toml -> BoardSpec."""

import pytest

from toolchain.boards import BoardError, get_board, load_board, load_boards
from toolchain.targets.fpga.spec import PRESETS


def test_shipped_boards_load_and_name_existing_presets():
    boards = load_boards()
    assert {"icebreaker", "ulx3s"} <= set(boards)
    for board in boards.values():
        assert board.core in PRESETS
        assert board.clock_hz % board.baud == 0 or board.clock_hz // board.baud >= 8
    assert boards["icebreaker"].family == "ice40"
    assert boards["icebreaker"].synth_opts == "-dsp"


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardError, match="unknown board 'arty'; known boards: icebreaker"):
        get_board("arty")


def test_missing_key_names_the_file_and_table(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('[board]\nname = "x"\ndescription = "d"\ntarget = "fpga"\ncore = "tiny"\n'
                    '[fpga]\nplatform = "m:C"\nfamily = "ice40"\nclock_hz = 12\n')
    with pytest.raises(BoardError, match=r"x.toml: \[fpga\] has no 'synth_opts'"):
        load_board(path)


def test_wrong_type_is_refused(tmp_path):
    path = tmp_path / "y.toml"
    path.write_text('[board]\nname = "y"\ndescription = "d"\ntarget = "fpga"\ncore = "tiny"\n'
                    '[fpga]\nplatform = "m:C"\nfamily = "ice40"\nclock_hz = "fast"\n'
                    'synth_opts = ""\n[serial]\nport_hint = "p"\nbaud = 9600\n'
                    '[programmer]\nopenfpgaloader_board = "b"\n')
    with pytest.raises(BoardError, match=r"y.toml: \[fpga\] clock_hz = 'fast' must be a int"):
        load_board(path)
