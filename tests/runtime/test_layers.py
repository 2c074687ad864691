"""The layers around the UART protocol: the host side (``toolchain.runtime``) imports no
gateware and no board simulator, the gateware imports no simulator, and the core imports
nothing of the link.  Every import counts, also one inside a function: a lazy import is
still a dependency, and two of them make a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports_of(package: Path) -> dict[str, set[str]]:
    """Module path -> every module name it imports (absolute, as written)."""
    out: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        out[str(path.relative_to(ROOT))] = names
    return out


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for module, names in imports_of(ROOT / package).items():
        bad = sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))
        found += [f"{module} imports {n}" for n in bad]
    return found


@pytest.mark.parametrize("package,forbidden", [
    ("toolchain/runtime", ("hdl", "toolchain.boardsim")),
    ("hdl", ("toolchain.boardsim",)),
    ("hdl/spikecore", ("hdl.uart", "hdl.board")),
    ("hdl/uart", ("hdl.board",)),
])
def test_layer_imports_nothing_above_it(package: str, forbidden: tuple[str, ...]) -> None:
    assert offenders(package, forbidden) == []


def test_the_check_sees_lazy_imports() -> None:
    # the simulators really do import both layers below them, one of them inside a function
    found = offenders("toolchain/boardsim", ("hdl", "toolchain.runtime"))
    assert any("verilator_board.py imports hdl.uart.device" in f for f in found)
    assert any("virtual.py imports toolchain.runtime" in f for f in found)
