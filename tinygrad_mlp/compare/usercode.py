"""Your code told from ours, and the line of yours that raised.

Which frame is yours is decided by module name, by the engine's
:mod:`tinygrad_mlp.engine.frames` (this package, NumPy and the standard library are never
your code; no file names are compared, so moving a file changes nothing). The checker and
the diagnosis use it to name the line of your code that raised (:func:`exception_text`);
the line tracer (:mod:`.tracing`) to follow only your functions.

>>> try:
...     {}["W3"]
... except KeyError as exc:
...     print(exception_text(exc).split(" (at")[0])
KeyError: 'W3'
"""

from __future__ import annotations

import linecache
import os
from types import FrameType, TracebackType

from ..engine.frames import is_user_frame, module_of

__all__ = ["describe", "exception_text", "is_user_frame", "module_of", "user_traceback_frame"]


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
    """The innermost frame of a traceback that is the user's code, with its line.

    >>> user_traceback_frame(None) is None
    True
    """
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
