"""Finding the line of the user's code that made the first inf or NaN.

The call that made it is replayed under the backprop checker's line tracer
(:func:`tinygrad_mlp.compare.tracing.trace`, the one tracer of the package), which records
what each line of the user's code assigned (and, here, what each ``return`` line handed
back); the first of those values to hold inf or NaN names the line. The user's code is told
by module name: the modules that define the user's objects (their network's class and its
bases, their loss and activations, their functions), never the tools' own. BLAS matrix
products overflow silently, so NumPy's floating point flags alone would miss them; looking
at the values does not, and the flags add what NumPy said.

>>> def boom(x):
...     y = x * 1e308
...     return y
>>> first_non_finite_line(lambda: boom(np.array([10.0])), {__name__})[0].split(": ", 1)[1]
'y = x * 1e308   [y became inf]'
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..compare.tracing import Assignment, trace
from ..engine.numerics import non_finite


def wording(value: Any) -> str | None:
    """What non-finite values ``value`` holds (``"NaN"``, ``"inf and -inf"``), or None for
    finite values and anything that is not numbers.

    >>> wording(np.array([1.0, -np.inf])), wording("text") is None
    ('-inf', True)
    """
    try:
        return non_finite(value)
    except (TypeError, ValueError):  # not numbers at all
        return None


def user_modules(*objects: Any) -> set[str]:
    """The names of the modules that define ``objects``' classes (and their bases), or the
    functions themselves: the code the tracer follows.

    >>> sorted(user_modules(np.ndarray, wording))
    ['tinygrad_mlp.diagnose.lines']
    """
    found: set[str] = set()
    for obj in objects:
        if isinstance(obj, (types.FunctionType, types.MethodType)):
            found.add(getattr(obj, "__func__", obj).__module__)
            continue
        cls = obj if isinstance(obj, type) else type(obj)
        found |= {base.__module__ for base in cls.__mro__}
    return {m for m in found if m and m not in ("builtins", "numpy")}


def first_non_finite_line(call: Callable[[], Any], modules: Iterable[str]
                          ) -> tuple[str | None, str | None]:
    """Replay ``call()`` under the line tracer, following ``modules``: the first line whose
    value holds inf or NaN (``file:line in function: code   [name became inf]``, or None),
    and what NumPy's floating point flags said meanwhile (or None). An exception inside
    ends the replay quietly: it was reported when it happened."""
    said: list[str] = []

    def errcall(kind: str, flag: int) -> None:
        if not said:
            said.append(f"floating point {kind} reported")

    old_call = np.seterrcall(errcall)
    try:
        with np.errstate(over="call", invalid="call", divide="call", under="ignore"):
            recorded = trace(call, set(modules), returns=True)
    finally:
        np.seterrcall(old_call)
    first = recorded.first(lambda a: wording(a.snapshot) is not None)
    return (None if first is None else describe(first)), (said[0] if said else None)


def describe(assignment: Assignment) -> str:
    """``file:line in function: code   [name became what]``."""
    return (f"{assignment.describe()}   "
            f"[{assignment.name} became {wording(assignment.snapshot)}]")
