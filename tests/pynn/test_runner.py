"""Only Python source runs as a script: nothing inside an artifact is ever executed."""

import py_compile
import zipfile

import pytest
from click.testing import CliRunner

from toolchain.cli import main
from toolchain.pynn.runner import ScriptError, run_script


def _booby_trapped(tmp_path, name: str = "net.spz"):
    """A ZIP whose __main__.py would leave a file behind if Python ran it."""
    marker = tmp_path / "it-ran"
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("__main__.py", f"open({str(marker)!r}, 'w').write('ran')\n")
    return path, marker


@pytest.mark.parametrize("argv", [
    ["pynn", "{path}"],
    ["run", "--board", "virtual", "{path}"],
    ["run", "--board", "virtual", "--t-stop", "10", "{path}"],  # a ZIP is data for run
    ["portability", "--targets", "loihi", "{path}"],
    ["compile", "--target", "loihi", "-o", "{out}", "{path}"],
])
def test_no_command_executes_a_zip_given_as_a_script(tmp_path, argv):
    path, marker = _booby_trapped(tmp_path)
    args = [a.format(path=path, out=tmp_path / "out") for a in argv]
    result = CliRunner().invoke(main, args)
    assert not marker.exists()
    assert result.exit_code in (1, 2), result.output  # 2: run wants --t-stop for data
    assert "Error: " in result.output
    assert "Traceback" not in result.output


def test_a_zip_script_is_refused_naming_it(tmp_path):
    path, marker = _booby_trapped(tmp_path, "looks_like_a_script.py")
    with pytest.raises(ScriptError, match="looks_like_a_script.py' is a ZIP archive"):
        run_script(path)
    assert not marker.exists()


def test_bytecode_is_refused(tmp_path):
    marker = tmp_path / "it-ran"
    source = tmp_path / "s.py"
    source.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    compiled = py_compile.compile(str(source), cfile=str(tmp_path / "s.pyc"))
    with pytest.raises(ScriptError, match="s.pyc' is a binary file"):
        run_script(compiled)
    assert not marker.exists()
    run_script(source)  # the same code as source text does run
    assert marker.exists()


def test_a_directory_with_a_main_module_is_refused(tmp_path):
    (tmp_path / "__main__.py").write_text("raise SystemExit(7)\n")
    with pytest.raises(ScriptError, match="is a directory"):
        run_script(tmp_path)


def test_a_script_runs_as_main(tmp_path):
    path = tmp_path / "s.py"
    path.write_text("import sys\nassert __name__ == '__main__'\n"
                    "assert sys.modules['__main__'].__file__ == __file__\nsys.exit(4)\n")
    assert run_script(path) == 4
