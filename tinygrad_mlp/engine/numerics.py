"""Numbers, as every part of the library checks, writes and differentiates them.

Three things live here once: the check for NaN and inf and the words it is reported in
(``non_finite``), the way a number is written in a report or a picture
(``format_number``), and central finite differences (``central_difference`` and
``partial_derivatives``, which is built on it). NumPy only: the engine's other modules and
every floor above use these, so that "inf" is spelled one way and a finite difference is
taken one way everywhere.

>>> non_finite(np.array([1.0, np.nan, -np.inf]))
'NaN and -inf'
>>> format_number(3.14159), format_number(2.5e-7)
('3.14', '2.50e-07')
>>> round(float(central_difference(np.sin, 0.0)), 9)
1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# Central-difference step relative to max(1, |x|): eps**(1/3) balances the O(h²) truncation
# error against the O(eps/h) round-off error of float64.
RELATIVE_STEP = float(np.finfo(np.float64).eps ** (1.0 / 3.0))


def non_finite(values: Any) -> str | None:
    """What non-finite values ``values`` holds, in the words every report uses: ``'NaN'``,
    ``'inf'``, ``'-inf'`` or several joined by ``' and '``; None when all are finite (or
    when ``values`` is not a float array at all: integers, booleans, None).

    >>> non_finite(np.array([np.inf, 1.0])), non_finite([1, 2]) is None
    ('inf', True)
    """
    if values is None:
        return None
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.dtype.kind not in "fc" or array.size == 0:
        return None
    with np.errstate(all="ignore"):
        if np.isfinite(array).all():
            return None
        kinds = []
        if np.isnan(array).any():
            kinds.append("NaN")
        real = array.real
        if np.isposinf(real).any():
            kinds.append("inf")
        if np.isneginf(real).any():
            kinds.append("-inf")
    return " and ".join(kinds)


def format_number(x: float | None, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits, as reports and pictures write numbers:
    plain between 1e-3 and 1e4, in scientific notation outside; ``'0'``, ``'nan'``,
    ``'inf'`` and (for None) ``'-'`` as they are.

    >>> format_number(0.012345), format_number(None), format_number(float("-inf"))
    ('0.0123', '-', '-inf')
    """
    if x is None:
        return "-"
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        text = f"{x:.{digits}g}"
        # %g turns to an exponent once the integer part has more digits than asked for
        # (1.23e+03): write those as the whole number they round to instead.
        return f"{x:.0f}" if "e" in text else text
    return f"{x:.{max(digits - 1, 0)}e}"


def relative_step(x: Any) -> Any:
    """The central-difference step for ``x`` (a number or, entry by entry, an array)."""
    return RELATIVE_STEP * np.maximum(1.0, np.abs(x))


def central_difference(
    f: Callable[[Any], Any], x: Any, step: Any = None, direction: Any = None
) -> Any:
    """The derivative of ``f`` at ``x`` by central differences, in float64.

    - ``direction`` None: ``x`` is a number, or an array on which ``f`` acts entry by entry
      (an activation): the derivative of every entry, from two calls of ``f``;
    - ``direction`` an array (or a list of arrays, for ``x`` a list): the derivative along
      it, ``(f(x + h d) - f(x - h d)) / 2h``, where ``f`` may return an array or a list of
      arrays (a Jacobian- or Hessian-vector product).

    ``step`` defaults to :func:`relative_step` of ``x`` (of its norm, along a direction).
    The quotient divides by the steps actually taken after rounding, which keeps it honest.

    >>> round(float(central_difference(lambda v: v ** 3, 2.0)), 6)
    12.0
    """
    with np.errstate(all="ignore"):
        if direction is None:
            x = np.asarray(x, dtype=np.float64)
            h = relative_step(x) if step is None else step
            up, down = x + h, x - h
            return (_float64(f(up)) - _float64(f(down))) / (up - down)
        if isinstance(x, (list, tuple)):
            size = np.sqrt(sum(float(np.sum(np.square(a))) for a in x))
            h = RELATIVE_STEP * max(1.0, size) if step is None else step
            up = [a + h * d for a, d in zip(x, direction)]
            down = [a - h * d for a, d in zip(x, direction)]
        else:
            x = np.asarray(x, dtype=np.float64)
            h = RELATIVE_STEP * max(1.0, float(np.linalg.norm(x))) if step is None else step
            up, down = x + h * direction, x - h * direction
        f_up, f_down = f(up), f(down)
        if isinstance(f_up, (list, tuple)):
            return [(_float64(u) - _float64(d)) / (2 * h) for u, d in zip(f_up, f_down)]
        return (_float64(f_up) - _float64(f_down)) / (2 * h)


def partial_derivatives(
    f: Callable[[np.ndarray], Any], x: np.ndarray, entries: Sequence[int] | None = None,
    step: float | None = None,
) -> np.ndarray:
    """The partial derivatives of ``f`` at the flat ``entries`` of ``x`` (all by default), one
    pair of calls per entry: an array of shape ``(len(entries), *f's shape)``.

    ``x`` is a float64 array that is changed in place during the calls and restored after
    each, so no copy is made per entry; ``f`` must read it, not keep it.

    >>> x = np.array([1.0, 2.0])
    >>> partial_derivatives(lambda v: float((v ** 2).sum()), x).round(6).tolist()
    [2.0, 4.0]
    """
    if not (isinstance(x, np.ndarray) and x.flags.c_contiguous and x.flags.writeable):
        raise ValueError("partial_derivatives: x must be a writeable C-contiguous array (it is "
                         "changed in place and restored)")
    flat = x.reshape(-1)
    chosen = range(flat.size) if entries is None else entries
    columns = []
    for i in chosen:
        original = float(flat[i])

        def along(t: Any, i: int = i) -> Any:
            flat[i] = t
            return f(x)

        try:
            columns.append(central_difference(along, original, step))
        finally:
            flat[i] = original
    return np.asarray(columns, dtype=np.float64)


def _float64(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)
