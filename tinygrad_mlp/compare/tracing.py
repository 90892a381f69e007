"""The line tracer: run a call of your code and record which line assigned what.

:func:`trace` runs a call under :func:`sys.settrace`, follows only *your* functions (decided
by module name: see :mod:`.usercode`; NumPy, this package and the standard library are
never followed) and records, for every name a line assigns — a local (``dZ1``), an item of
a local dict or list (``grads['dW1']``), an attribute of one of your objects
(``self.weights``) — the line, its source text and the value. Arrays changed in place
(``dZ[Z <= 0] = 0``, ``self.W[0] -= ...``) are recorded too, at the line that changed them.

The checker uses it to point at the line that computed the first wrong quantity
(:meth:`Trace.origin`: the line that made that very object; :meth:`Trace.find`: the
first line whose value equals a given one) and the diagnosis to find the line that made the
first NaN or inf (:meth:`Trace.first`).

>>> import numpy as np
>>> def backward(dA, Z):
...     dZ = np.array(dA, copy=True)
...     dZ[Z <= 0] = 0
...     return dZ
>>> t = trace(lambda: backward(np.ones(3), np.array([-1.0, 0.5, 2.0])), modules={__name__})
>>> print(t.origin(t.result).describe())
<doctest ...>:2 in backward: dZ = np.array(dA, copy=True)
>>> [a.describe().split(": ")[1] for a in t.changes(t.result)]
['dZ[Z <= 0] = 0']
"""

from __future__ import annotations

import ast
import linecache
import os
import sys
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import numpy as np

from .usercode import is_user_frame, module_of

# Arrays your lines did not make (the data, the parameters handed in) are watched for
# in-place changes up to this size; larger ones (a batch of images) by identity only, since
# comparing them at every line would cost more than the call itself. Arrays your lines make
# are always watched (up to MAX_TRACKED_SIZE).
MAX_WATCHED_INPUT = 65_536
MAX_TRACKED_SIZE = 4_000_000
# A list or dict handed in with more items than this (a mini-batch of examples) is watched by
# identity only, not item by item.
MAX_INPUT_ITEMS = 16
# How deep into containers and your objects a line's effects are looked for
# (``self`` -> ``self.W`` -> ``self.W[0]``), and how many items of one container.
MAX_DEPTH = 3
MAX_ITEMS = 64


@dataclass(eq=False)
class Assignment:
    """One effect of one line: ``name`` (as you would write it: ``dZ1``, ``grads['dW1']``,
    ``self.W[0]``) got ``value`` — a new object, or (``changed``) the same object changed in
    place. ``snapshot`` is a copy of an array's value at that moment.

    >>> Assignment("dZ", 1.0, 1.0, "f", "net.py", 3, "dZ = 1.0", 0).describe()
    'net.py:3 in f: dZ = 1.0'
    """

    name: str
    value: Any
    snapshot: Any
    function: str
    filename: str
    line: int
    source: str
    call: int
    changed: bool = False

    def describe(self) -> str:
        """``file:line in function: source``."""
        return (f"{os.path.basename(self.filename)}:{self.line} in {self.function}: "
                f"{self.source}")


@dataclass(eq=False)
class Call:
    """One call of one of your functions: its ``arguments`` as they came in, and the index
    of the call it was made from (None at the top).

    >>> Call(0, "backward", "my_net", {"dA": 1.0}, None).function
    'backward'
    """

    index: int
    function: str
    module: str
    arguments: dict[str, Any]
    parent: int | None


@dataclass
class Trace:
    """What :func:`trace` saw: the call's ``result`` (or the ``error`` it raised), every
    :class:`Assignment` in the order the lines ran, and every :class:`Call`.

    >>> Trace().origin(object()) is None
    True
    """

    result: Any = None
    error: BaseException | None = None
    assignments: list[Assignment] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def origin(self, obj: Any) -> Assignment | None:
        """The line that made ``obj`` (this very object); for an object made outside the
        traced call, the last line that changed it in place; None when none of your lines
        did either."""
        changed = None
        for a in self.assignments:
            if a.value is obj:
                if not a.changed:
                    return a
                changed = a
        return changed

    def changes(self, obj: Any) -> list[Assignment]:
        """The lines that changed ``obj`` in place after it was made, in order."""
        return [a for a in self.assignments if a.value is obj and a.changed]

    def find(self, value: Any, rtol: float = 1e-9) -> Assignment | None:
        """The first line whose value equals ``value`` (an array, to ``rtol``), or its
        transpose: where a value somebody computed first appeared in your code."""
        target = np.asarray(value, dtype=np.float64)
        scale = float(np.max(np.abs(target), initial=0.0))
        for a in self.assignments:
            snap = a.snapshot
            if not isinstance(snap, np.ndarray) or snap.dtype.kind not in "fc":
                continue
            for candidate in (snap, snap.T):
                if candidate.shape == target.shape and np.all(np.isfinite(candidate)) and (
                        np.max(np.abs(candidate - target), initial=0.0) <= rtol * scale + 1e-12):
                    return a
        return None

    def named(self, name: str) -> list[Assignment]:
        """Every assignment to ``name``, in order."""
        return [a for a in self.assignments if a.name == name]

    def first(self, predicate: Callable[[Assignment], bool]) -> Assignment | None:
        """The first assignment for which ``predicate`` holds (e.g. the first non-finite
        value: ``t.first(lambda a: non_finite(a.snapshot) is not None)``)."""
        return next((a for a in self.assignments if predicate(a)), None)

    def calls_with(self, obj: Any) -> list[Call]:
        """The calls that were given ``obj`` (this very object) as an argument."""
        return [c for c in self.calls if any(v is obj for v in c.arguments.values())]


def trace(call: Callable[[], Any], modules: Collection[str] | None = None,
          returns: bool = False, nested: bool = True) -> Trace:
    """Run ``call()`` and record what your lines assign (see the module docstring).

    ``modules`` names the modules whose functions are followed (by default every module
    that is not library code); ``nested=False`` follows only the first of your functions
    that is called, not the ones it calls. With ``returns``, what a ``return`` line hands
    back is recorded too, as ``"the return value"`` (``return float(np.mean(d * d))``
    assigns no name, yet it may be where an inf is made). An exception inside is caught and kept as
    ``error``; the previous trace function (a debugger, coverage) is restored afterwards.

    >>> t = trace(lambda: sum([1, 2]), modules=set())
    >>> t.result, t.assignments
    (3, [])
    """
    tracer = _Tracer(modules, returns)
    tracer.nested = nested
    previous = sys.gettrace()
    sys.settrace(tracer.global_trace)
    try:
        tracer.trace.result = call()
    except Exception as exc:  # the caller decides what an error in user code means
        tracer.trace.error = exc
    finally:
        sys.settrace(previous)
    return tracer.trace


class _Frame:
    """What the tracer keeps for one traced frame between its line events."""

    def __init__(self, index: int, frame: FrameType) -> None:
        self.index = index
        self.line = frame.f_lineno
        self.seen: dict[str, _Print] = {}


class _Tracer:
    def __init__(self, modules: Collection[str] | None, returns: bool = False) -> None:
        self.modules = None if modules is None else set(modules)
        self.returns = returns
        self.trace = Trace()
        self.frames: dict[int, _Frame] = {}
        self.stack: list[int] = []
        self.inputs: set[int] = set()  # ids of the arrays the traced call was given

    def follows(self, frame: FrameType) -> bool:
        if self.modules is not None:
            return module_of(frame) in self.modules
        return is_user_frame(frame)

    nested = True

    def global_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event != "call" or not self.follows(frame) or (self.stack and not self.nested):
            return None
        index = len(self.trace.calls)
        parent = self.stack[-1] if self.stack else None
        self.trace.calls.append(Call(index, frame.f_code.co_name, module_of(frame),
                                     dict(frame.f_locals), parent))
        state = _Frame(index, frame)
        state.seen = {name: _fingerprint(value, MAX_DEPTH, None, self.inputs, index == 0)
                      for name, value in frame.f_locals.items()}
        self.frames[id(frame)] = state
        self.stack.append(index)
        return self.local_trace

    def local_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        state = self.frames.get(id(frame))
        if state is None:
            return None
        if event in ("line", "return"):
            self.record(frame, state)
            state.line = frame.f_lineno
        if event == "return":
            if self.returns and arg is not None:
                self.record_return(frame, state, arg)
            del self.frames[id(frame)]
            if self.stack and self.stack[-1] == state.index:
                self.stack.pop()
        return self.local_trace

    def record(self, frame: FrameType, state: _Frame) -> None:
        line = state.line
        source = statement_text(frame.f_code.co_filename, line, frame.f_globals)
        now = {}
        for name, value in list(frame.f_locals.items()):
            old = state.seen.get(name)
            new = _fingerprint(value, MAX_DEPTH, old, self.inputs)
            now[name] = new
            for path, obj, snapshot, changed in _differences(name, old, new):
                self.trace.assignments.append(Assignment(
                    path, obj, snapshot, frame.f_code.co_name, frame.f_code.co_filename, line,
                    source, state.index, changed))
        state.seen = now

    def record_return(self, frame: FrameType, state: _Frame, value: Any) -> None:
        line = frame.f_lineno
        source = statement_text(frame.f_code.co_filename, line, frame.f_globals)
        snapshot = value.copy() if isinstance(value, np.ndarray) else _plain(value)
        self.trace.assignments.append(Assignment(
            "the return value", value, snapshot, frame.f_code.co_name, frame.f_code.co_filename,
            line, source, state.index))


def assignment_in(function: Callable[..., Any], target: str) -> Assignment | None:
    """The line of ``function`` that assigns ``target`` (``"self.weights"``), read from its
    source without running it: the last such line, or None when there is none (or no
    source). For a step that only reassigns, this is the line the tracer would find, at no
    cost.

    >>> def step(self):
    ...     self.weights = [w - 1 for w in self.weights]
    >>> assignment_in(step, "self.weights").source
    'self.weights = [w - 1 for w in self.weights]'
    """
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    if code is None:
        return None
    lines = linecache.getlines(code.co_filename)
    own = _lines_of(code)
    found = [line for line in _statement_ends("".join(lines))
             if line in own and _assigns(lines[line - 1], target)]
    if not found:
        return None
    line = max(found)
    return Assignment(target, None, None, code.co_name, code.co_filename, line,
                      statement_text(code.co_filename, line), -1)


def _assigns(text: str, target: str) -> bool:
    head = text.split("=", 1)[0].strip() if "=" in text else ""
    return head == target and not text.split("=", 1)[1].startswith("=")


def _lines_of(code: Any) -> set[int]:
    return {line for _, _, line in code.co_lines() if line is not None}


_STATEMENTS: dict[tuple[str, int], dict[int, int]] = {}


def statement_text(filename: str, line: int, module_globals: Any = None) -> str:
    """The source of the statement that starts at ``line``, on one line even when it spans
    several (``self.weights = [w - eta * nw for w, nw in ...]``); a block statement (``for``,
    ``if``, ``def``) by its header only.

    >>> statement_text("<none>", 1)
    ''
    """
    lines = linecache.getlines(filename, module_globals)
    if not 0 < line <= len(lines):
        return ""
    key = (filename, len(lines))
    if key not in _STATEMENTS:
        _STATEMENTS[key] = _statement_ends("".join(lines))
    last = _STATEMENTS[key].get(line, line)
    return " ".join(text.strip() for text in lines[line - 1:last] if text.strip())


def _statement_ends(source: str) -> dict[int, int]:
    """First line -> last line of every statement (of a block's header)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    ends: dict[int, int] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or node.lineno in ends:
            continue
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.AST):
            ends[node.lineno] = max(node.lineno, body[0].lineno - 1)
        else:
            ends[node.lineno] = node.end_lineno or node.lineno
    return ends


class _Print:
    """A fingerprint of one value: its identity, an array's copy, a container's items."""

    __slots__ = ("obj", "kind", "copy", "items")

    def __init__(self, obj: Any, kind: str, copy: Any = None,
                 items: dict[Any, _Print] | None = None) -> None:
        self.obj, self.kind, self.copy, self.items = obj, kind, copy, items


def _fingerprint(value: Any, depth: int, old: _Print | None = None,
                 inputs: set[int] | None = None, at_call: bool = False) -> _Print:
    """``value``'s fingerprint; ``inputs`` collects (at a call) and tells (at a line) which
    arrays came in from outside your lines, which are watched only up to a size."""
    if isinstance(value, np.ndarray):
        if at_call and inputs is not None:
            inputs.add(id(value))
        big = value.size > MAX_TRACKED_SIZE or (
            value.size > MAX_WATCHED_INPUT and inputs is not None and id(value) in inputs)
        if big:
            return _Print(value, "big")
        if old is not None and old.obj is value and old.copy is not None and (
                old.copy.shape == value.shape and np.array_equal(old.copy, value, equal_nan=True)):
            return old  # unchanged: keep the copy already taken
        return _Print(value, "array", value.copy())
    if depth <= 0:
        return _Print(value, "other")
    if isinstance(value, (list, tuple, dict)) and inputs is not None:
        if at_call:
            inputs.add(id(value))
        if len(value) > MAX_INPUT_ITEMS and id(value) in inputs:
            return _Print(value, "other")  # a batch handed in: watched by identity only
    olds = old.items if old is not None and old.obj is value and old.items is not None else {}
    if isinstance(value, (list, tuple)):
        items = {k: _fingerprint(v, depth - 1, olds.get(k), inputs, at_call) for k, v in
                 enumerate(value[:MAX_ITEMS])}
        return _Print(value, "seq", items=items)
    if isinstance(value, dict):
        keys = list(value)[:MAX_ITEMS]
        items = {k: _fingerprint(value[k], depth - 1, olds.get(k), inputs, at_call)
                 for k in keys}
        return _Print(value, "map", items=items)
    if _is_users_object(value):
        attrs = list(vars(value).items())[:MAX_ITEMS]
        items = {k: _fingerprint(v, depth - 1, olds.get(k), inputs, at_call) for k, v in attrs}
        return _Print(value, "object", items=items)
    return _Print(value, "other")


def _is_users_object(value: Any) -> bool:
    module = getattr(type(value), "__module__", "") or ""
    return hasattr(value, "__dict__") and not isinstance(value, type) and not callable(
        value) and module.split(".")[0] not in ("tinygrad_mlp", "numpy", "builtins")


def _differences(path: str, old: _Print | None, new: _Print
                 ) -> Iterator[tuple[str, Any, Any, bool]]:
    """``(path, object, snapshot, changed)`` for what differs between two fingerprints."""
    if old is None or old.obj is not new.obj:
        yield path, new.obj, new.copy if new.copy is not None else _plain(new.obj), False
        old = None
    elif new.kind == "array" and old is not new:
        yield path, new.obj, new.copy, True
    if new.items is None:
        return
    olds = old.items if old is not None and old.items is not None else {}
    for key, item in new.items.items():
        inner = f"{path}.{key}" if new.kind == "object" else f"{path}[{key!r}]"
        if old is None and item.items is None and item.kind != "array":
            continue  # a plain item of a brand-new container: the container says it
        yield from _differences(inner, olds.get(key), item)


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, complex, str, bool, type(None))) else None
