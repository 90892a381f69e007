"""The package's layout holds: floors, no cycles, no borrowed private names, short files.

Every import in the package is read from the source (function-local ones too) and resolved
to the module it names. The floors, lowest first, each importing only from its own floor or
below (the README's map says the same in words):

0. engine    tensor, the graph and backward, ops, functions, gradcheck, numerics
1. library   nn (serialization inside it), optim, data, train, modelfile
2. compiler  replay
3. tools     viz, compare (the backprop checker), diagnose, scenario, manual, convert, text
4. apps      cli, demo, story, plots

The package's ``__init__`` is the front door above them all, and nothing inside imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tinygrad_mlp

PACKAGE = "tinygrad_mlp"
ROOT = Path(tinygrad_mlp.__file__).parent

FLOORS = {
    "engine": 0,
    "nn": 1, "optim": 1, "data": 1, "train": 1, "modelfile": 1,
    "replay": 2,
    "viz": 3, "compare": 3, "diagnose": 3, "scenario": 3, "manual": 3, "convert": 3, "text": 3,
    "cli": 4, "demo": 4, "story": 4, "plots": 4, "__main__": 4,
}
FRONT_DOOR = 5
FLOOR_NAMES = ["engine", "library", "compiler", "tools", "apps", "the package's __init__"]

# Inside the engine, the Tensor and the operations know each other (a Tensor's methods are
# doors into the ops, and the ops make Tensors): a cycle among these modules is allowed.
ENGINE_CYCLE = (
    "engine.tensor", "engine.ops", "engine.autograd", "engine.function", "engine.backward",
    "engine.methods", "engine.numpy_protocol", "engine.hooks", "engine.inplace",
)

MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 60  # of code: a docstring does not count

# What the layout still breaks, to be mended (the list only shrinks: an entry that no longer
# happens fails the test too, so it must be removed when its cause is).
KNOWN: set[str] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def floor(name: str) -> int:
    parts = name.split(".")
    if len(parts) == 1:
        return FRONT_DOOR
    if parts[1] not in FLOORS:
        raise AssertionError(f"{name} is on no floor: add it to FLOORS here and to the README map")
    return FLOORS[parts[1]]


class Import:
    def __init__(self, source: str, target: str, line: int, local: bool, function: str | None,
                 names: list[str]) -> None:
        self.source, self.target, self.line = source, target, line
        self.local, self.function, self.names = local, function, names

    def __repr__(self) -> str:
        return f"{self.source}:{self.line} -> {self.target}"


def resolve(source: str, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = source.split(".") if is_package(source) else source.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imports_of(name: str, tree: ast.Module) -> tuple[list[Import], list[tuple[int, str]]]:
    """The package imports of a module, and its uses of another module's private names."""
    found: list[Import] = []
    private: list[tuple[int, str]] = []
    aliases: dict[str, str] = {}  # local name -> package module it is bound to

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = function
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = child.name
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        found.append(Import(name, alias.name, child.lineno, function is not None,
                                            function, []))
                        if alias.asname:
                            aliases[alias.asname] = alias.name
            elif isinstance(child, ast.ImportFrom):
                base = resolve(name, child.level, child.module)
                if base.split(".")[0] != PACKAGE:
                    continue
                plain = []
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    if full in MODULES:  # ``from . import nn``: the module itself
                        found.append(Import(name, full, child.lineno, function is not None,
                                            function, []))
                        aliases[alias.asname or alias.name] = full
                    else:
                        plain.append(alias.name)
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            private.append((child.lineno, f"from {base} import {alias.name}"))
                if plain:
                    found.append(Import(name, base, child.lineno, function is not None,
                                        function, plain))
            elif isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name):
                target = aliases.get(child.value.id)
                attr = child.attr
                if target and attr.startswith("_") and not attr.startswith("__"):
                    private.append((child.lineno, f"{child.value.id}.{attr} ({target})"))
            visit(child, inner)

    visit(tree, None)
    return found, private


def _parse_all() -> dict[str, tuple[list[Import], list[tuple[int, str]], ast.Module]]:
    result = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        imports, private = _imports_of(name, tree)
        result[name] = (imports, private, tree)
    return result


PARSED = _parse_all()


def _owner(target: str) -> str:
    """The package module an import names (``tinygrad_mlp.nn.layers``), or its nearest parent
    that is one (a name imported from a package's ``__init__``)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target


def _in_engine_cycle(name: str) -> bool:
    rest = name.removeprefix(PACKAGE + ".")
    return any(rest == m or rest.startswith(m + ".") for m in ENGINE_CYCLE)


def violations() -> set[str]:
    found: set[str] = set()
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, (imports, private, _) in PARSED.items():
        for _line, what in private:
            found.add(f"private: {name} uses {what}")
        for imp in imports:
            target = _owner(imp.target)
            if not target or target == name:
                continue
            if target == PACKAGE and name != PACKAGE:
                found.add(f"front door: {name} imports {PACKAGE} itself ({imp.names})")
                continue
            picture = (name.startswith(f"{PACKAGE}.engine") and imp.local
                       and imp.function == "draw" and target.startswith(f"{PACKAGE}.viz"))
            if picture:
                continue  # the one documented reach upward, made lazily when a picture is asked
            edges[name].add(target)
            if floor(target) > floor(name):
                found.add(f"upward: {name} ({FLOOR_NAMES[floor(name)]}) imports {target} "
                          f"({FLOOR_NAMES[floor(target)]})")
    for cycle in _cycles(edges):
        if all(_in_engine_cycle(m) for m in cycle):
            continue
        found.add("cycle: " + " -> ".join(sorted(cycle)))
    return found


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def sizes() -> set[str]:
    found = set()
    for name, (_, _, tree) in PARSED.items():
        lines = len(MODULES[name].read_text().splitlines())
        if lines > MAX_FILE_LINES:
            found.add(f"long file: {name} ({lines} lines)")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                body = node.body
                if (body and isinstance(body[0], ast.Expr)
                        and isinstance(body[0].value, ast.Constant)
                        and isinstance(body[0].value.value, str)):
                    length -= body[0].end_lineno - body[0].lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.add(f"long function: {name}.{node.name} ({length} lines)")
    return found


def _report(unexpected: set[str], stale: set[str]) -> str:
    text = []
    if unexpected:
        text.append("the layout is broken here:\n  " + "\n  ".join(sorted(unexpected)))
    if stale:
        text.append("mended, so remove from KNOWN:\n  " + "\n  ".join(sorted(stale)))
    return "\n".join(text)


def _strip_counts(entries: set[str]) -> set[str]:
    # "long file: x (812 lines)" is the same entry whatever the count
    return {e.split(" (")[0] if e.startswith("long ") else e for e in entries}


def test_every_module_is_on_a_floor():
    for name in MODULES:
        floor(name)


def test_imports_go_down_never_round_and_borrow_no_private_names():
    found = violations()
    known = {k for k in KNOWN if not k.startswith("long ")}
    assert found <= known and known <= found, _report(found - known, known - found)


def test_files_and_functions_are_short():
    found = _strip_counts(sizes())
    known = {k for k in KNOWN if k.startswith("long ")}
    assert found <= known and known <= found, _report(found - known, known - found)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from tinygrad_mlp.viz import draw_graph\n", "upward"),
        ("from ..viz import _collect\n", "private"),
    ],
)
def test_the_check_can_fail(source, expected):
    """A module of the engine that reached up, or borrowed a private name, is caught."""
    name = f"{PACKAGE}.engine.tensor"
    imports, private = _imports_of(name, ast.parse(source))
    if expected == "private":
        assert private
    else:
        assert any(floor(_owner(i.target)) > floor(name) for i in imports)


def test_a_cycle_is_found():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [{"a", "b", "c"}]


def test_the_readme_map_names_every_part_on_its_floor():
    """The README's layout table is the map: every folder or module of the package is in it,
    in the row of its floor."""
    readme = (ROOT.parent / "README.md").read_text()
    section = readme.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    for part, level in FLOORS.items():
        if part == "__main__":
            continue
        spelled = (f"`{part}/`", f"`{part}.py`")
        homes = [row for row in rows if any(s in row for s in spelled)]
        assert homes, f"the README's map does not name {part}"
        assert all(row.split("|")[1].strip() == FLOOR_NAMES[level] for row in homes), (
            f"the README's map puts {part} on another floor than {FLOOR_NAMES[level]}"
        )
