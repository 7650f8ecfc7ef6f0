"""The layering rule of design.md §2, read from the code itself (every import, also those inside
functions), so an arrow that runs the wrong way fails here instead of waiting for a reviewer.

Bottom up: protocols ← kernels, runtime, config ← store, data ← netsync ← actors ← web ← station ← sim,
commands ← cli. Nothing imports upward; production code never imports the simulator; no actor
imports a command; kernels and protocols know nothing of asyncio.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# what each part of the code may import (besides itself); a part missing here is a test failure
_BASE = {"protocols"}
ALLOWED: dict[str, set[str]] = {
    "ams_actors": set(),  # the package's __init__
    "protocols": set(),
    "kernels": _BASE,
    "runtime": _BASE,
    "config": _BASE,
    "store": _BASE | {"runtime"},
    "data": _BASE | {"kernels"},
    "netsync": _BASE | {"kernels", "runtime", "store"},
    "archive": _BASE | {"kernels", "runtime", "config", "store", "data", "netsync"},
    "actors": _BASE | {"kernels", "runtime", "config", "store", "data", "netsync"},
    "web": _BASE | {"kernels", "runtime", "config", "store", "data", "netsync", "actors"},
    "station": _BASE | {"kernels", "runtime", "config", "store", "data", "netsync", "actors", "web"},
    "sim": _BASE | {"kernels", "runtime", "config", "store", "data", "netsync", "actors", "station", "web"},
    "commands": _BASE | {"kernels", "runtime", "config", "store", "data", "netsync", "actors", "station", "sim",
                         "web", "archive"},
    "cli": _BASE | {"commands", "runtime"},  # runtime: stop signals are caught before the verbs import
    "__main__": {"cli"},
}
NO_ASYNC = {"protocols", "kernels"}
ASYNC_MODULES = {"asyncio", "aiofiles", "aiobotocore", "uvloop"}


def part_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (None: not ours)."""
    parts = module.split(".")
    if parts[0] == "protocols":
        return "protocols"
    if parts[0] != "ams_actors":
        return None
    return parts[1] if len(parts) > 1 else "ams_actors"


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import in a module, at any depth; `from pkg import mod` counts as pkg.mod."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"line {node.lineno}: relative import"
            mod = node.module or ""
            if mod in ("ams_actors", "protocols"):
                out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, mod))
    return out


def source_files() -> list[Path]:
    return sorted([*(ROOT / "ams_actors").rglob("*.py"), *(ROOT / "protocols").rglob("*.py")])


def violations(path: Path, source: str) -> list[str]:
    rel = path.relative_to(ROOT)
    mod = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
    me = part_of(mod)
    assert me is not None
    if me not in ALLOWED:
        return [f"{rel}: {me!r} is a part of the code the layering rule does not know: add it to ALLOWED"]
    out = []
    for line, target in imported_modules(ast.parse(source)):
        other = part_of(target)
        if other is not None and other != me and other not in ALLOWED[me]:
            out.append(f"{rel}:{line}: {me} imports {target} ({other} is above it)")
        if me in NO_ASYNC and target.split(".")[0] in ASYNC_MODULES:
            out.append(f"{rel}:{line}: {me} imports {target} ({me} knows nothing of asyncio or I/O clients)")
    return out


def test_every_import_follows_the_layering_rule() -> None:
    files = source_files()
    assert len(files) > 50  # the walk found the code
    problems = [v for f in files for v in violations(f, f.read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


def module_graph() -> dict[str, set[str]]:
    """Our module -> our modules it imports (anywhere in it); `a.b.c.name` resolves to module `a.b.c`."""
    files = {".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): f for f in source_files()}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        deps = set()
        for _line, target in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            parts = target.split(".")
            known = next((".".join(parts[:k]) for k in range(len(parts), 0, -1) if ".".join(parts[:k]) in files), None)
            if known is not None and known != mod:
                deps.add(known)
        graph[mod] = deps
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_circles() -> None:
    """Not even through a lazy import inside a function (the simulator's network <-> video circle was one):
    a circle means two modules that cannot be understood, tested or moved apart."""
    graph = module_graph()
    assert "ams_actors.sim.video" in graph and "ams_actors.sim.network" in graph["ams_actors.sim.video"]
    assert import_cycles(graph) == []
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    ("where", "line", "why"),
    [
        ("ams_actors/kernels/detect.py", "from ams_actors.sim.scene import DEFAULT_PIXEL_SCALE_DEG", "kernels"),
        ("ams_actors/actors/calibration_check.py", "    from ams_actors.commands.calibrate import fit_stack", "actors"),
        ("ams_actors/actors/detector.py", "from ams_actors.sim import world", "actors"),
        ("ams_actors/store/day_folders.py", "from ams_actors.actors.base import StationContext", "store"),
        ("protocols/events.py", "import ams_actors.kernels.geo", "protocols"),
        ("ams_actors/kernels/scan.py", "import asyncio", "kernels"),
    ],
)
def test_the_check_catches_a_wrong_arrow(where: str, line: str, why: str) -> None:
    """The check itself can fail: each of these arrows (several of them were in the code) is reported."""
    path = ROOT / where
    source = path.read_text(encoding="utf-8")
    body = f"def _f() -> None:\n{line}\n" if line.startswith(" ") else line + "\n"  # a lazy import, too
    found = violations(path, source + "\n" + body)
    assert any(f"{why} imports" in v for v in found), found
