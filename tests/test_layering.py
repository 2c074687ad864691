"""The package layering, computed from the source: no import cycle between packages, the
compiler imports no target, and no import cycle between the modules of one package.

Packages are the subpackages of ``toolchain`` (``toolchain.ir``, ``toolchain.compiler``,
...), its top-level modules (``toolchain.cli``, ``toolchain.portability``, ...) and the
subpackages of ``hdl``.  Every import counts, also one inside a function: a lazy import
saves start-up time, it does not change which layer depends on which.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("toolchain", "hdl")

def _package_of_file(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if len(parts) == 2:  # a top-level module of the package
        return parts[0] if parts[1] == "__init__" else ".".join(parts)
    return ".".join(parts[:2])


def _package_of_module(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    return ".".join(parts[:2])


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports (absolute imports; the project uses no relative ones)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            if node.module in PACKAGES:  # "from toolchain import x": x may be a module
                out += [(f"{node.module}.{a.name}" if _is_module(node.module, a.name)
                         else node.module, node.lineno) for a in node.names]
            elif node.module:
                out.append((node.module, node.lineno))
    return out


def _is_module(package: str, name: str) -> bool:
    base = ROOT / package / name
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def package_graph() -> dict[str, dict[str, list[str]]]:
    """package -> package it imports -> where ("file:line")."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in _sources():
        src = _package_of_file(path)
        graph[src]  # every package is a node, importing or not
        for module, line in _imports(path):
            dst = _package_of_module(module)
            if dst is not None and dst != src:
                graph[src][dst].append(f"{path.relative_to(ROOT)}:{line}")
    return graph


def module_graph(package: Path) -> dict[str, set[str]]:
    """Within one package directory: module -> modules of it that it imports."""
    prefix = ".".join(package.relative_to(ROOT).parts)
    graph: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        graph[name] = {m for m, _ in _imports(path)
                       if m.startswith(prefix + ".") and m != name and m in _modules(package)}
    return graph


def _modules(package: Path) -> set[str]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for p in package.rglob("*.py")}


def cycles(graph: dict[str, set[str]] | dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle_and_passes_a_chain():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_between_packages():
    graph = package_graph()
    assert {"toolchain.ir", "toolchain.compiler", "toolchain.targets", "toolchain.runtime",
            "hdl.spikecore"} <= set(graph)
    found = cycles(graph)
    detail = {tuple(c): {f"{a} -> {b}": graph[a][b][:2] for a in c for b in c if b in graph[a]}
              for c in found}
    assert not found, f"import cycles between packages: {detail}"


def test_the_compiler_imports_no_target_and_the_ir_nothing_above_it():
    graph = package_graph()
    assert "toolchain.targets" not in graph["toolchain.compiler"], \
        graph["toolchain.compiler"]["toolchain.targets"]
    # the IR may use leaf utilities (modules importing nothing of the project: progress)
    above_ir = {p for p in graph["toolchain.ir"] if graph[p]}
    assert not above_ir, {p: graph["toolchain.ir"][p] for p in above_ir}


def test_no_import_cycle_between_the_modules_of_a_package():
    packages = [ROOT / "toolchain" / "compiler", ROOT / "toolchain" / "targets",
                *(p for p in (ROOT / "toolchain" / "targets").iterdir()
                  if p.is_dir() and (p / "__init__.py").exists())]
    for package in packages:
        graph = module_graph(package)
        # a package's __init__ re-exports its modules; the modules importing the package
        # itself is what would close a cycle, and that shows as an edge to it
        found = cycles(graph)
        assert not found, f"{package.relative_to(ROOT)}: module import cycles {found}"


def test_every_target_package_has_the_same_parts():
    parts = {"spec", "mapper", "numerics", "timing", "artifact", "target"}
    for name in ("loihi", "spinnaker2", "dynapse", "fpga"):
        package = ROOT / "toolchain" / "targets" / name
        have = {p.stem for p in package.glob("*.py")} | {p.name for p in package.iterdir()
                                                          if (p / "__init__.py").exists()}
        assert parts <= have, f"targets/{name} lacks {sorted(parts - have)}"
