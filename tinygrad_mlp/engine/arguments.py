"""Arguments checked where they are given, with a message that names the function and the
argument: sizes, counts, numbers, seeds, dtypes and flags.

The constructors (``zeros``, ``eye``, ``arange``, ``randn``, ...) and ``manual_seed`` use
these, and so may every floor above (NumPy only: this module imports nothing of the package).
Each returns the value in its plain form (a tuple of ints, an int, a float, a ``np.dtype``)
or raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value).

>>> sizes((2, 3), "zeros"), seed(0, "manual_seed"), numeric_dtype("float64", "zeros")
((2, 3), 0, dtype('float64'))
>>> count(-1, "eye", "n")
Traceback (most recent call last):
ValueError: eye: n must be a non-negative integer, got -1
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def count(value: Any, function: str, argument: str) -> int:
    """A non-negative integer (a size, a number of rows): bools and floats are refused."""
    if not _is_int(value):
        raise TypeError(
            f"{function}: {argument} must be a non-negative integer, got {value!r} "
            f"({type(value).__name__})"
        )
    if value < 0:
        raise ValueError(f"{function}: {argument} must be a non-negative integer, got {value}")
    return int(value)


def sizes(shape: Any, function: str) -> tuple[int, ...]:
    """A shape given as ints (``zeros(2, 3)``) or as one tuple or list (``zeros((2, 3))``)."""
    if isinstance(shape, tuple) and len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    elif not isinstance(shape, tuple):
        shape = tuple(shape) if isinstance(shape, list) else (shape,)
    if not all(_is_int(n) and n >= 0 for n in shape):
        raise ValueError(
            f"{function}: shape entries must be non-negative integers, got {shape}"
        )
    return tuple(int(n) for n in shape)


def real(value: Any, function: str, argument: str) -> float:
    """A finite real number (an int or a float; bools, strings and NaN/inf are refused)."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{function}: {argument} must be a real number, got {value!r} "
            f"({type(value).__name__})"
        )
    if not math.isfinite(value):
        raise ValueError(f"{function}: {argument} must be finite, got {value}")
    return value


def seed(value: Any, function: str, argument: str = "seed") -> int | None:
    """A seed for ``np.random.default_rng``: None or a non-negative integer."""
    if value is None:
        return None
    if not _is_int(value) or value < 0:
        raise (TypeError if not _is_int(value) else ValueError)(
            f"{function}: {argument} must be a non-negative integer (or None), got {value!r}"
        )
    return int(value)


def generator(rng: Any, function: str) -> np.random.Generator:
    """An ``rng=`` argument: a ``np.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{function}: rng must be a np.random.Generator (np.random.default_rng(seed)), got "
            f"{type(rng).__name__}"
        )
    return rng


def numeric_dtype(dtype: Any, function: str) -> np.dtype:
    """A dtype a Tensor can have: bool, integer or float (complex, strings and objects are
    refused, as an imaginary part or text would be lost)."""
    try:
        result = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"{function}: {dtype!r} is not a dtype ({error})") from None
    if result.kind not in "biuf":
        raise TypeError(
            f"{function}: a Tensor cannot have dtype {result}; expected bool, an integer or a "
            "float dtype"
        )
    return result


def flag(value: Any, function: str, argument: str) -> bool:
    """A True/False argument (``requires_grad=``): a bool, not a string or a number."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{function}: {argument} must be True or False, got {value!r}")
    return bool(value)
