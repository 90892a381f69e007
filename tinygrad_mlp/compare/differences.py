"""Finite differences where your code cannot be differentiated exactly.

All of them are built on :func:`tinygrad_mlp.engine.numerics.central_difference` (one way
of taking a difference in the whole library); what is added here is what a checker needs
around it: one-sided slopes to see a kink (ReLU at 0), a step that stays inside the domain
next to its edge (a probability within a step of 0 or 1, where a log turns NaN), and the
slopes of a black-box scalar function at chosen entries of an array.

>>> round(fd_slope(np.log, 1e-9) * 1e-9, 6)   # next to the edge of log's domain
1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..engine.numerics import central_difference, relative_step


def one_sided(f: Callable[[Any], Any], x: Any, h: Any) -> Any:
    """``(f(x + h) - f(x)) / h``: the slope on one side of ``x`` (``h`` may be negative), as a
    central difference about the midpoint ``x + h/2``.

    >>> round(float(one_sided(abs, 0.0, 1e-3)), 9), round(float(one_sided(abs, 0.0, -1e-3)), 9)
    (1.0, -1.0)
    """
    return central_difference(f, np.asarray(x, dtype=np.float64) + np.divide(h, 2), np.divide(h, 2))


def elementwise_slopes(value: Callable[[np.ndarray], Any], A: np.ndarray) -> dict[str, np.ndarray]:
    """Central and one-sided slopes of an elementwise ``value`` at every entry of ``A``.

    Elementwise means all entries can be perturbed at once. A kink shows as left and right
    slopes that differ by far more than curvature could explain (``"kink"``).

    >>> s = elementwise_slopes(lambda a: np.maximum(a, 0.0), np.array([-1.0, 0.0, 2.0]))
    >>> s["central"].round(6).tolist(), s["kink"].tolist()
    ([0.0, 0.5, 1.0], [False, True, False])
    """
    h = relative_step(A)
    with np.errstate(all="ignore"):
        central = central_difference(value, A, h)
        right = one_sided(value, A, h)
        left = one_sided(value, A, -h)
        kink = np.abs(right - left) > 1e-3 + 1e-2 * np.maximum(np.abs(left), np.abs(right))
    return {"central": central, "left": left, "right": right, "kink": kink}


def fd_slope(f: Callable[[float], float], x: float) -> float:
    """The slope of a scalar function at ``x``, or NaN when no difference can be trusted.

    Central differences while both steps stay where ``f`` is finite. Next to the edge of
    its domain, a step that stays inside: one-sided second-order differences (``2 F(h) -
    F(2h)`` from one-sided slopes ``F``), or central ones with the step scaled to the
    distance from 0 or 1. Those are accepted only when a step four times smaller agrees:
    next to a singularity (``log p`` at a tiny ``p``) a one-sided step is far off.

    >>> round(fd_slope(np.exp, 0.0), 8)
    1.0
    """

    def central(h: float) -> float:
        return float(central_difference(f, x, h))

    def second_order(h: float) -> float:
        s = 1.0 if np.isfinite(f(x + 2 * h)) else -1.0
        return float(2 * one_sided(f, x, s * h) - one_sided(f, x, 2 * s * h))

    with np.errstate(all="ignore"):
        h = float(relative_step(x))
        slope = central(h)
        if np.isfinite(slope):
            return slope
        edge = float(relative_step(0.0)) * min(abs(x), abs(1.0 - x))
        for scheme, step in ((second_order, h), (central, edge)):
            if step > 0:
                coarse, fine = scheme(step), scheme(step / 4)
                if np.isfinite(fine) and abs(coarse - fine) <= 1e-6 * abs(fine):
                    return fine
    return float("nan")


def entry_slopes(value: Callable[[np.ndarray], float], x: np.ndarray,
                 entries: Sequence[int] | np.ndarray) -> np.ndarray:
    """The slopes of a black-box scalar ``value`` at the flat ``entries`` of ``x``, each by
    :func:`fd_slope` (so a probability next to 0 or 1 still gets one). Nothing is known about
    ``value``, so each entry is perturbed on its own, in a copy changed in place and restored.

    >>> entry_slopes(lambda a: float((a ** 2).sum()), np.array([1.0, 3.0]), [1]).round(6)
    array([6.])
    """
    work = np.array(x, dtype=np.float64, copy=True)
    flat = work.reshape(-1)

    def at(i: int, t: float) -> float:
        flat[i] = t
        return float(value(work))

    out = np.empty(len(entries))
    for j, i in enumerate(entries):
        original = flat[i]
        try:
            out[j] = fd_slope(lambda t, i=i: at(i, t), float(original))
        finally:
            flat[i] = original
    return out
