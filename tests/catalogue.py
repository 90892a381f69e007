"""The catalogue's networks (tests/conventions/*.py): loading them, and planting a defect.

A planted defect is the learner's file with one line changed, loaded as a module of its
own (its source registered with linecache, so the checker quotes the changed line).
"""

from __future__ import annotations

import itertools
import linecache
import sys
import types
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "conventions"
_count = itertools.count()


def _module(name: str, source: str, filename: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def load(name: str) -> types.ModuleType:
    """The catalogue's file ``name``.py, as it is."""
    path = FOLDER / f"{name}.py"
    return _module(f"catalogue_{name}", path.read_text(), str(path))


def planted(name: str, old: str, new: str) -> types.ModuleType:
    """``name``.py with the one line holding ``old`` changed to hold ``new``."""
    source = (FOLDER / f"{name}.py").read_text()
    if source.count(old) != 1:
        raise AssertionError(f"{old!r} is in {name}.py {source.count(old)} times, not once")
    filename = str(FOLDER / f"{name}_planted_{next(_count)}.py")
    return _module(f"catalogue_{name}_planted_{next(_count)}", source.replace(old, new), filename)
