"""PyTorch's keywords beside NumPy's: ``dim=`` for ``axis=``, ``keepdim=`` for ``keepdims=``.

Every operation that takes an axis accepts both spellings; passing both is a ``TypeError``,
even with equal values. To tell "not passed" apart from an explicit ``None`` or ``False``,
such keywords default to an :class:`Unset` that reads as its value in ``help()``.
Used by the Tensor methods and the ``tg.`` functions (this module imports nothing).
"""

from __future__ import annotations

from typing import Any


class Unset:
    """The default of a keyword that has a twin: "not passed", standing for ``value``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


NO_AXIS = Unset(None)
NO_KEEPDIMS = Unset(False)
LAST_AXIS = Unset(-1)
FIRST_AXIS = Unset(0)
NO_DDOF = Unset(0)
NO_CORRECTION = Unset(None)


def given(x: Any) -> bool:
    """Whether a keyword with an :class:`Unset` default was passed."""
    return type(x) is not Unset


def pick(name: str, numpy_value: Any, torch_value: Any, numpy_name: str = "axis",
         torch_name: str = "dim") -> Any:
    """The value of a keyword passed under NumPy's name or PyTorch's, refusing both at once.

    >>> pick("sum", NO_AXIS, 1), pick("sum", 0, Unset(None)), pick("sum", NO_AXIS, NO_AXIS)
    (1, 0, None)
    """
    if type(torch_value) is Unset:
        return numpy_value.value if type(numpy_value) is Unset else numpy_value
    if type(numpy_value) is not Unset:
        raise TypeError(
            f"{name}: got both {numpy_name}= and {torch_name}=; pass one of them "
            f"({numpy_name} is NumPy's name, {torch_name} PyTorch's)"
        )
    return torch_value


def reduction(name: str, axis: Any, keepdims: Any, dim: Any, keepdim: Any) -> tuple[Any, bool]:
    """``(axis, keepdims)`` from either spelling of each."""
    return pick(name, axis, dim), pick(name, keepdims, keepdim, "keepdims", "keepdim")


def ddof(name: str, ddof: Any, correction: Any, dim: Any) -> Any:
    """Degrees of freedom from ``ddof=`` (NumPy) or ``correction=`` (PyTorch). Unless one is
    given, PyTorch's spelling brings PyTorch's default: ``var(dim=0)`` is unbiased
    (correction 1) as in PyTorch, ``var(axis=0)`` and ``var()`` are not (ddof 0, NumPy's)."""
    if not given(ddof) and not given(correction):
        return 1 if given(dim) else 0
    value = pick(name, ddof, correction, "ddof", "correction")
    return 1 if value is None else value  # PyTorch's correction=None means 1
