"""The argument checks of ``nn``: one wording for a bad size, probability, rate or choice.

Every check names the function (or layer) and the argument, says what was expected and shows
what was given, and returns the value as the layer keeps it (a Python ``int`` or ``float``).
``Setting`` makes a layer's attribute checked whenever it is set, in the constructor and
afterwards (``dropout.p = 2`` is refused as ``nn.Dropout(2)`` is).

>>> positive_int(3, "in_features", "Linear")
3
>>> probability(1.5, "p", "Dropout")
Traceback (most recent call last):
  ...
ValueError: Dropout: p must be a probability between 0 and 1, got 1.5
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

REDUCTIONS = ("mean", "sum", "none")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """True for a real number (a Python or NumPy int or float), False for a bool.

    >>> is_number(2.5), is_number(True), is_number("1")
    (True, False, False)
    """
    return (_is_int(value) or isinstance(value, (float, np.floating))) and not isinstance(
        value, bool
    )


def positive_int(value: Any, name: str, caller: str) -> int:
    """``value`` as an ``int`` when it is a whole number of at least 1 (a bool is not).

    >>> positive_int(np.int64(4), "out_features", "Linear")
    4
    """
    if not _is_int(value) or value < 1:
        raise ValueError(f"{caller}: {name} must be a positive int, got {_shown(value)}")
    return int(value)


def integer(value: Any, name: str, caller: str) -> int:
    """``value`` as an ``int`` when it is a whole number (a bool is not).

    >>> integer(-1, "dim", "Softmax")
    -1
    """
    if not _is_int(value):
        raise TypeError(f"{caller}: {name} must be an int, got {_shown(value)}")
    return int(value)


def dim_or_axis(dim: Any, axis: Any, caller: str, default: int = -1) -> int:
    """The one dimension given by PyTorch's ``dim=`` or NumPy's ``axis=`` (``default`` when
    neither is); both at once is a ``TypeError``, even with equal values.

    >>> dim_or_axis(None, 0, "softmax"), dim_or_axis(None, None, "softmax")
    (0, -1)
    """
    if dim is not None and axis is not None:
        raise TypeError(f"{caller}: give dim or axis, not both (got dim={dim!r}, axis={axis!r})")
    chosen = dim if dim is not None else axis
    return default if chosen is None else integer(chosen, "dim" if dim is not None else "axis",
                                                   caller)


def finite(value: Any, name: str, caller: str) -> float:
    """``value`` as a ``float`` when it is a finite real number.

    >>> finite(0.2, "negative_slope", "LeakyReLU")
    0.2
    """
    if not is_number(value):
        raise TypeError(f"{caller}: {name} must be a number, got {_shown(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{caller}: {name} must be a finite number, got {value}")
    return float(value)


def positive(value: Any, name: str, caller: str) -> float:
    """``value`` as a ``float`` when it is finite and above 0 (an eps, a beta).

    >>> positive(1e-5, "eps", "LayerNorm")
    1e-05
    """
    number = finite(value, name, caller)
    if not number > 0:
        raise ValueError(f"{caller}: {name} must be a positive number, got {_shown(value)}")
    return number


def probability(value: Any, name: str, caller: str) -> float:
    """``value`` as a ``float`` when it lies in [0, 1] (a dropout rate, a momentum).

    >>> probability(0, "p", "Dropout")
    0.0
    """
    if not is_number(value):
        raise TypeError(f"{caller}: {name} must be a number, got {_shown(value)}")
    if not 0 <= value <= 1:  # NaN fails too
        raise ValueError(
            f"{caller}: {name} must be a probability between 0 and 1, got {_shown(value)}"
        )
    return float(value)


def flag(value: Any, name: str, caller: str) -> bool:
    """``value`` when it is a bool (``True``/``False``, NumPy's too).

    >>> flag(True, "bias", "Linear")
    True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{caller}: {name} must be True or False, got {_shown(value)}")
    return bool(value)


def choice(value: Any, name: str, caller: str, options: tuple[str, ...]) -> str:
    """``value`` when it is one of ``options``.

    >>> choice("tanh", "approximate", "GELU", ("none", "tanh"))
    'tanh'
    """
    if not isinstance(value, str) or value not in options:
        valid = ", ".join(repr(option) for option in options)
        raise ValueError(f"{caller}: {name} must be one of {valid}, got {_shown(value)}")
    return value


def generator(value: Any, name: str, caller: str) -> np.random.Generator | None:
    """``value`` when it is a ``np.random.Generator`` or None (the default one, then).

    >>> generator(None, "generator", "Dropout") is None
    True
    """
    if value is not None and not isinstance(value, np.random.Generator):
        raise TypeError(
            f"{caller}: {name} must be a np.random.Generator or None, got {type(value).__name__}"
        )
    return value


def float_dtype(dtype: Any, caller: str) -> np.dtype:
    """The dtype a layer's parameters get: float32 when None, else a float dtype.

    >>> float_dtype(None, "Linear"), float_dtype("float64", "Linear")
    (dtype('float32'), dtype('float64'))
    """
    try:
        found = np.dtype(np.float32 if dtype is None else dtype)
    except TypeError:
        found = None
    if found is None or found.kind != "f":
        raise TypeError(f"{caller}: parameters must have a float dtype, got {_shown(dtype)}")
    return found


def check_reduction(reduction: Any, caller: str) -> str:
    """A loss's ``reduction``: ``'mean'``, ``'sum'`` or ``'none'``.

    >>> check_reduction("sum", "mse_loss")
    'sum'
    """
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{caller}: reduction must be 'mean', 'sum' or 'none', got {_shown(reduction)}"
        )
    return reduction


class Setting:
    """A layer's attribute that is checked whenever it is set.

    ``p = Setting(probability)`` in a class body runs ``probability(value, "p", <class
    name>)`` on every ``obj.p = value`` and stores what it returns. Reading ``obj.p`` costs
    nothing extra: the descriptor has no ``__get__``, so Python finds the value in the
    instance's ``__dict__`` as for any plain attribute (a ``property`` would run a function
    on every read, and these are read in ``forward``).

    >>> class Layer:
    ...     rate = Setting(probability)
    >>> layer = Layer()
    >>> layer.rate = 0.25
    >>> layer.rate
    0.25
    >>> layer.rate = -1
    Traceback (most recent call last):
      ...
    ValueError: Layer: rate must be a probability between 0 and 1, got -1
    """

    def __init__(self, check: Callable[[Any, str, str], Any]) -> None:
        self.check = check
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = self.check(value, self.name, type(obj).__name__)


def shape(value: Any, name: str, caller: str) -> tuple[int, ...]:
    """A shape given as one int or a sequence of ints, each at least 1, as a tuple.

    >>> shape(4, "normalized_shape", "LayerNorm"), shape([2, 3], "normalized_shape", "LayerNorm")
    ((4,), (2, 3))
    """
    items = (value,) if _is_int(value) else value
    if (
        isinstance(items, (str, bytes))
        or not isinstance(items, (list, tuple, np.ndarray))
        or np.ndim(items) != 1
        or len(items) == 0
        or not all(_is_int(n) and n >= 1 for n in items)
    ):
        raise ValueError(
            f"{caller}: {name} must be a positive int or a sequence of them, got {_shown(value)}"
        )
    return tuple(int(n) for n in items)
