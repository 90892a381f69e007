"""Which line of a stack is the user's: decided by module name, never by file name.

Anomaly reports, the backprop checker and the diagnosis all name "the user's line": the line
of the learner's own code that created an operation or computed a value. A frame belongs to
the module whose ``__name__`` its globals hold (a script run with ``python -m`` is its
``__spec__``'s name), and that name decides:

- library code is ``tinygrad_mlp`` and every module under it (``tinygrad_mlp.``);
- NumPy, the standard library (which includes ``<frozen runpy>``, ``<frozen importlib...>``)
  and code without a module are never the user's line either;
- everything else is the user's: a script, a notebook cell, a test, a module of theirs.

When the whole stack is the package's own (the command line, ``python -m tinygrad_mlp``),
the innermost line outside the engine's core (``tinygrad_mlp.engine`` and
``tinygrad_mlp.nn``) is named instead: the code that built the graph.

Public functions, for the engine and the tools above it:

- :func:`module_of` ``(frame)``: the module name a frame runs in;
- :func:`is_library_frame` ``(frame)``: True for this package's frames;
- :func:`is_user_frame` ``(frame)``: True for the user's own code (see above);
- :func:`user_frame` ``(start=None)``: the innermost user frame from ``start`` outwards
  (the caller's frame by default), or None;
- :func:`describe` ``(frame)``: ``"file:line in function: code"``, as reports print it.

A frame of a learner's script (here a namespace named like one), then of this module:

>>> script = {"__name__": "my_network", "find": user_frame}
>>> exec("import sys; here = sys._getframe(); found = find()", script)
>>> is_user_frame(script["here"]), script["found"] is script["here"]
(True, True)
>>> mine = sys._getframe()  # the examples run in this module's namespace
>>> is_library_frame(mine), is_user_frame(mine)
(True, False)
"""

from __future__ import annotations

import linecache
import sys
from types import FrameType

PACKAGE = "tinygrad_mlp"
# The engine's core: operations made here are "inside" the graph, not the code that built it.
CORE = (f"{PACKAGE}.engine", f"{PACKAGE}.nn")
_NEVER_USER = frozenset(sys.stdlib_module_names) | {"numpy"}


def module_of(frame: FrameType) -> str:
    """The name of the module ``frame`` runs in (``""`` for code run without one).

    >>> module_of(sys._getframe())
    'tinygrad_mlp.engine.frames'
    """
    names = frame.f_globals
    name = names.get("__name__") or ""
    if name == "__main__":  # ``python -m pkg.mod``: the module's real name is its spec's
        spec = names.get("__spec__")
        name = getattr(spec, "name", None) or name
    return name


def _top(name: str) -> str:
    return name.partition(".")[0]


def is_library_frame(frame: FrameType) -> bool:
    """True for a frame of this package's own code (``tinygrad_mlp`` and its modules).

    >>> is_library_frame(sys._getframe())
    True
    """
    return _top(module_of(frame)) == PACKAGE


def is_user_frame(frame: FrameType) -> bool:
    """True for a frame of the user's own code: not this package, NumPy, the standard library
    (``<frozen ...>`` included) or code without a module.

    >>> numpy_code = {"__name__": "numpy.linalg"}
    >>> exec("import sys; here = sys._getframe()", numpy_code)
    >>> is_user_frame(numpy_code["here"]), is_user_frame(sys._getframe())
    (False, False)
    """
    top = _top(module_of(frame))
    return bool(top) and top != PACKAGE and top not in _NEVER_USER


def _in_core(frame: FrameType) -> bool:
    name = module_of(frame)
    return any(name == core or name.startswith(core + ".") for core in CORE)


def user_frame(start: FrameType | None = None) -> FrameType | None:
    """The innermost frame of user code from ``start`` outwards (by default the caller's frame).

    When no frame is the user's (the whole stack is the package's own, as under the command
    line), the innermost frame of the package outside its engine core (engine and nn) is given
    instead; None when there is none either.

    >>> script = {"__name__": "__main__", "find": user_frame}
    >>> exec("def train():\\n    return find()\\nframe = train()", script)
    >>> script["frame"].f_code.co_name
    'train'
    """
    innermost = sys._getframe(1) if start is None else start
    frame: FrameType | None = innermost
    while frame is not None and not is_user_frame(frame):
        frame = frame.f_back
    if frame is not None:
        return frame
    frame = innermost
    while frame is not None and not (is_library_frame(frame) and not _in_core(frame)):
        frame = frame.f_back
    return frame


def describe(frame: FrameType | None) -> str:
    """``"file:line in function: code"`` for ``frame`` (``"<unknown>"`` for None).

    >>> describe(None)
    '<unknown>'
    >>> describe(sys._getframe())
    '<doctest ...>:1 in <module>: describe(sys._getframe())'
    """
    if frame is None:
        return "<unknown>"
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    code = linecache.getline(filename, lineno).strip()
    where = f"{filename}:{lineno} in {frame.f_code.co_name}"
    return f"{where}: {code}" if code else where
