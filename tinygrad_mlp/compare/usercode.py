"""Telling your code from ours, by module name, and saying where it raised.

A frame is *library* code when the module it runs in (``frame.f_globals["__name__"]``) is
this package (``tinygrad_mlp.``), NumPy, or Python's own standard library, or when it is
Python's machinery (``<frozen ...>``); everything else is yours. No file names are compared,
so moving a file changes nothing. The checker and the diagnosis use this to name the line of
your code that raised (:func:`exception_text`) and the line tracer (:mod:`.tracing`) to
follow only your functions.

>>> is_library_module("tinygrad_mlp.engine.tensor"), is_library_module("my_network")
(True, False)
>>> try:
...     {}["W3"]
... except KeyError as exc:
...     print(exception_text(exc).split(" (at")[0])
KeyError: 'W3'
"""

from __future__ import annotations

import linecache
import os
import sys
from types import FrameType, TracebackType

_LIBRARY_PACKAGES = frozenset({"tinygrad_mlp", "numpy", "_pytest", "pytest", "pluggy"})
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}


def module_of(frame: FrameType) -> str:
    """The name of the module a frame runs in (``"__main__"`` for a script)."""
    return str(frame.f_globals.get("__name__", ""))


def is_library_module(name: str) -> bool:
    """True for this package, NumPy, the test runner and the standard library.

    >>> is_library_module("numpy.core.fromnumeric"), is_library_module("__main__")
    (True, False)
    """
    top = name.split(".", 1)[0]
    return top in _LIBRARY_PACKAGES or top in _STDLIB or name.startswith("<frozen")


def is_user_frame(frame: FrameType) -> bool:
    """True when the frame runs the user's code (see the module docstring)."""
    return not is_library_module(module_of(frame)) and not frame.f_code.co_filename.startswith(
        "<frozen")


def describe(frame: FrameType, lineno: int | None = None) -> str:
    """``file:line in function: code`` for a frame (the file's base name only).

    >>> import sys
    >>> describe(sys._getframe()).split(":")[0]
    '<doctest tinygrad_mlp.compare.usercode.describe[1]>'
    """
    line = frame.f_lineno if lineno is None else lineno
    filename = frame.f_code.co_filename
    code = linecache.getline(filename, line, frame.f_globals).strip()
    where = f"{os.path.basename(filename)}:{line} in {frame.f_code.co_name}"
    return f"{where}: {code}" if code else where


def user_traceback_frame(tb: TracebackType | None) -> tuple[FrameType, int] | None:
    """The innermost frame of a traceback that is the user's code, with its line."""
    found = None
    while tb is not None:
        if is_user_frame(tb.tb_frame):
            found = (tb.tb_frame, tb.tb_lineno)
        tb = tb.tb_next
    return found


def exception_text(exc: BaseException) -> str:
    """``Type: message (at file:line in function: code)``, naming the user's line.

    >>> exception_text(ValueError("shapes (2,3) and (2,3) not aligned"))
    'ValueError: shapes (2,3) and (2,3) not aligned'
    """
    found = user_traceback_frame(exc.__traceback__)
    where = "" if found is None else f" (at {describe(*found)})"
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}{where}"
