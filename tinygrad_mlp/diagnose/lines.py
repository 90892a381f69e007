"""Finding the line of the user's code that made the first inf or NaN.

The call that made it is replayed under ``sys.settrace``; after every line of the user's
own code the frame's locals (and ``self``'s arrays) are looked at, and the first line after
which a new one holds inf or NaN is the one named. The user's code is told by module name:
the modules that define the user's objects (their network's class and its bases, their
loss and activations), never the tools' own. BLAS matrix products overflow silently, so
NumPy's floating point flags alone would miss them; looking at the values does not.

>>> def boom(x):
...     y = x * 1e308
...     return y
>>> finder = LineFinder({__name__})
>>> finder.run(lambda: boom(np.array([10.0])))
>>> finder.line.split(": ", 1)[1]
'y = x * 1e308   [y became inf]'
"""

from __future__ import annotations

import linecache
import os
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine.numerics import non_finite


def kind_of(value: Any) -> str | None:
    """``"nan"`` or ``"inf"`` when ``value`` (a float array or number) holds one, else None.

    >>> kind_of(np.array([1.0, np.inf])), kind_of([np.nan]), kind_of(3) is None
    ('inf', 'nan', True)
    """
    what = _wording(value)
    if what is None:
        return None
    return "nan" if "NaN" in what else "inf"


def user_modules(*objects: Any) -> set[str]:
    """The names of the modules that define ``objects``' classes (and their bases), or the
    functions themselves: the code a line finder follows.

    >>> sorted(user_modules(LineFinder))
    ['builtins', 'tinygrad_mlp.diagnose.lines']
    """
    found: set[str] = set()
    for obj in objects:
        if isinstance(obj, (types.FunctionType, types.MethodType)):
            found.add(obj.__module__)
            continue
        cls = obj if isinstance(obj, type) else type(obj)
        found |= {base.__module__ for base in cls.__mro__}
    return found


def _wording(value: Any) -> str | None:
    try:
        return non_finite(value)
    except Exception:  # something that is not an array at all
        return None


def _scan(frame: types.FrameType) -> dict[str, str]:
    """The frame's locals (and ``self``'s arrays) that hold inf or NaN, with what they hold."""
    found: dict[str, str] = {}

    def visit(name: str, value: Any, depth: int) -> None:
        if isinstance(value, (np.ndarray, float, np.floating)):
            what = _wording(value)
            if what:
                found[name] = what
        elif isinstance(value, (list, tuple)) and depth < 1 and len(value) < 1000:
            for i, item in enumerate(value):
                visit(f"{name}[{i}]", item, depth + 1)

    for name, value in list(frame.f_locals.items()):
        if name == "self" and hasattr(value, "__dict__"):
            for attr, item in list(vars(value).items()):
                visit(f"self.{attr}", item, 0)
        else:
            visit(name, value, 0)
    return found


class LineFinder:
    """Replays one call under ``sys.settrace`` and records the first line of the code in
    ``modules`` that made an inf or NaN appear among its locals (or in a return value):
    ``line`` (``file:line in function: code   [what became what]``) and what NumPy's
    floating point flags said (``numpy_message``)."""

    def __init__(self, modules: Iterable[str]) -> None:
        self.modules = {m for m in modules if m != "builtins"}
        self.line: str | None = None
        self.numpy_message: str | None = None

    def run(self, call: Callable[[], Any]) -> None:
        """Run ``call()`` under the tracer; an exception it raises ends the replay quietly
        (it was reported when it happened)."""
        previous = sys.gettrace()

        def errcall(kind: str, flag: int) -> None:
            if self.numpy_message is None:
                self.numpy_message = f"floating point {kind} reported"

        old_call = np.seterrcall(errcall)
        sys.settrace(self._global)
        try:
            with np.errstate(over="call", invalid="call", divide="call", under="ignore"):
                call()
        except Exception:
            pass
        finally:
            sys.settrace(previous)
            np.seterrcall(old_call)

    def _follows(self, frame: types.FrameType) -> bool:
        return frame.f_globals.get("__name__") in self.modules

    def _global(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if self.line is not None or event != "call" or not self._follows(frame):
            return None
        state = {"previous": frame.f_lineno, "bad": set(_scan(frame))}

        def local(frame: types.FrameType, event: str, arg: Any) -> Any:
            if self.line is not None:
                return None
            if event in ("line", "return"):
                bad = _scan(frame)
                new = [name for name in bad if name not in state["bad"]]
                lineno = state["previous"]
                if event == "return" and not new and kind_of(arg):
                    new, lineno = ["the return value"], frame.f_lineno
                if new:
                    what = bad.get(new[0]) or _wording(arg) or "non-finite"
                    self._record(frame, lineno, f"{new[0]} became {what}")
                    return None
                state["bad"] = set(bad)
                state["previous"] = frame.f_lineno
            return local

        return local

    def _record(self, frame: types.FrameType, lineno: int, what: str) -> None:
        filename = frame.f_code.co_filename
        code = linecache.getline(filename, lineno).strip()
        qual = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
        self.line = f"{os.path.basename(filename)}:{lineno} in {qual}: {code}   [{what}]"
