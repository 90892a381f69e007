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


def planted(name: str, old: str, new: str, *more: str) -> types.ModuleType:
    """``name``.py with the one line holding ``old`` changed to hold ``new`` (and so on for
    each further pair of ``more``)."""
    source = (FOLDER / f"{name}.py").read_text()
    pairs = [(old, new), *zip(more[::2], more[1::2])]
    for before, after in pairs:
        if source.count(before) != 1:
            raise AssertionError(f"{before!r} is in {name}.py {source.count(before)} times, "
                                 "not once")
        source = source.replace(before, after)
    filename = str(FOLDER / f"{name}_planted_{next(_count)}.py")
    return _module(f"catalogue_{name}_planted_{next(_count)}", source, filename)


def _numpy_protocol() -> bool:
    import numpy as np

    import tinygrad_mlp as tg

    try:
        return isinstance(np.exp(tg.tensor([0.0])), tg.Tensor)
    except TypeError:
        return False


# The exact reference runs the learner's NumPy code on Tensors (NumPy's functions record
# operations when given Tensors); where the engine cannot do that yet, these tests wait.
needs_numpy_protocol = __import__("pytest").mark.skipif(
    not _numpy_protocol(), reason="the engine's NumPy protocol (np.exp(tensor) -> Tensor) is "
    "not on this branch yet")


def assert_found(report, part: str, causes: set[str], line: str | None) -> None:
    """The report's first mismatch is ``part``, with one of ``causes``, quoting ``line`` (the
    source of the line that made it; None: no line to check)."""
    assert report.first_mismatch == part, str(report)
    first = report.findings[0]
    assert first.cause in causes, str(report)
    if line is not None:
        assert first.origin is not None and first.origin.source == line, str(report)
    assert f"FIRST MISMATCH: {part}" in str(report)
