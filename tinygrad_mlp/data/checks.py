"""The argument checks of ``data``, and of ``fit``, which hands its settings on to them.

One wording for a count, a seed and a non-negative number: each check names the function and
the argument, says what was expected and shows what was given. A value of the wrong type is a
``TypeError``, a value out of range a ``ValueError``; a check returns the value as it is used
(a Python ``int`` or ``float``).

>>> count(3, "batch_size", "DataLoader"), seed(None, "make_moons")
(3, None)
>>> seed(-1, "make_moons")
Traceback (most recent call last):
  ...
ValueError: make_moons: seed must be None or an int >= 0, got -1
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def shown(value: Any) -> str:
    """``repr(value)``, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: Any) -> bool:
    """True for a Python or NumPy integer, False for a bool.

    >>> is_int(np.int64(2)), is_int(True), is_int(2.0)
    (True, False, False)
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """True for a real number (a Python or NumPy int or float), False for a bool.

    >>> is_number(0.5), is_number("1")
    (True, False)
    """
    return is_int(value) or isinstance(value, (float, np.floating))


def count(value: Any, name: str, caller: str, minimum: int = 1) -> int:
    """``value`` as an ``int`` when it is a whole number of at least ``minimum``.

    >>> count(np.int32(5), "n_samples", "make_moons", minimum=2)
    5
    """
    if not is_int(value):
        raise TypeError(f"{caller}: {name} must be an int >= {minimum}, got {shown(value)} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{caller}: {name} must be an int >= {minimum}, got {value}")
    return int(value)


def seed(value: Any, caller: str, name: str = "seed") -> int | None:
    """A seed for ``np.random.default_rng``: None (fresh entropy) or an int >= 0.

    >>> seed(7, "DataLoader")
    7
    """
    if value is None:
        return None
    if not is_int(value):
        raise TypeError(f"{caller}: {name} must be None or an int >= 0, got {shown(value)} "
                        f"({type(value).__name__})")
    if value < 0:
        raise ValueError(f"{caller}: {name} must be None or an int >= 0, got {value}")
    return int(value)


def non_negative(value: Any, name: str, caller: str) -> float:
    """``value`` as a ``float`` when it is a finite number >= 0 (a noise level).

    >>> non_negative(0, "noise", "make_moons")
    0.0
    """
    if not is_number(value):
        raise TypeError(f"{caller}: {name} must be a finite number >= 0, got {shown(value)}")
    if not 0 <= value < math.inf:  # NaN fails too
        raise ValueError(f"{caller}: {name} must be a finite number >= 0, got {value!r}")
    return float(value)
