"""What a wrong gradient is likely to be: guesses at what was written instead, each tested.

For a quantity that is wrong, the checker lists :class:`Guess` es — what the usual slips
would have produced from the same inputs, the correct rule with one thing changed — and
:func:`explain` keeps the first that reproduces your array. The guesses that need no
knowledge of the network live here (constant factors, sums over another axis); those for
dense layers in :mod:`.dense`. Together they cover:

- a missing or extra ``1/m``, a flipped sign, a missing factor 2 (a constant factor);
- a sum over the wrong axis (or without ``keepdims``);
- a missing or extra transpose (which still runs when the layer is square);
- an activation derivative at the wrong argument (``g'(A)`` for ``g'(Z)``; the output form
  ``A(1 - A)`` written with ``Z``); a derivative missing its activation factor;
- the previous layer's activations off by one; a gradient from the wrong layer;
- a fused output delta ``A - Y`` where the cost and activation do not fuse.

>>> explain(np.array([-1.0, 2.0]), factor_guesses(np.array([1.0, -2.0]), m=4)).cause
'sign'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrays import as_array, close

# A guess "reproduces" your array when it agrees to this relative precision.
MATCH_RTOL = 1e-7

@dataclass
class Guess:
    """A slip that would reproduce your array: a ``cause`` code, its words, and the
    array it predicts.

    >>> Guess("sign", "flipped", -np.ones(1), factor=-1.0).factor
    -1.0
    """

    cause: str
    words: str
    predicted: Any
    via: Any = None
    factor: float | None = None


def factor_guesses(base: np.ndarray, m: int | None, lr: float | None = None) -> Iterator[Guess]:
    """The constant factors learners slip in: ``m`` and ``1/m``, -1, 2 and 1/2, ``1/lr``.

    >>> [g.cause for g in factor_guesses(np.ones(1), None)]
    ['sign', 'factor_2', 'factor_half']
    """
    if m is not None and m > 1:
        yield Guess("factor_m", f"{m} = m times the right value: a missing 1/m (a sum over the "
                    "examples where the mean belongs)", base * m, factor=m)
        yield Guess("factor_1_over_m", f"1/m = 1/{m} times the right value: an extra 1/m (the "
                    "mean taken twice, or where a sum belongs)", base / m, factor=1 / m)
    yield Guess("sign", "the right value with the sign flipped (ŷ - y where y - ŷ belongs, or "
                "the other way round, or += where -= belongs)", -base, factor=-1.0)
    yield Guess("factor_2", "twice the right value: a factor 2 too many (the derivative of "
                "½(ŷ - y)² is ŷ - y)", 2.0 * base, factor=2.0)
    yield Guess("factor_half", "half the right value: the factor 2 of the derivative of "
                "(ŷ - y)² is missing", 0.5 * base, factor=0.5)
    if lr is not None and lr not in (0.0, 1.0):
        yield Guess("no_learning_rate", f"1/learning_rate = {1 / lr:g} times the gradient: the "
                    "step does not multiply by the learning rate", base / lr, factor=1 / lr)
        yield Guess("learning_rate_twice", f"learning_rate = {lr:g} times the gradient: the "
                    "learning rate is applied twice", base * lr, factor=lr)


def axis_guesses(base: np.ndarray, shape: tuple[int, ...]) -> Iterator[Guess]:
    """Sums over another axis than the right one, or without ``keepdims``: guesses built from
    the summand, for a bias gradient whose shape came out wrong.

    >>> [g.predicted.shape for g in axis_guesses(np.ones((2, 3)), (1, 3))]
    [(1, 3)]
    """
    for axis in range(base.ndim):
        for keep in (True, False):
            summed = base.sum(axis=axis, keepdims=keep)
            if summed.shape == shape:
                how = "" if keep else " without keepdims=True"
                yield Guess("wrong_axis", f"the sum over axis {axis}{how} (shape {shape})",
                            summed)
    if shape in ((), (1,), (1, 1)):
        yield Guess("wrong_axis", "the sum over every axis at once (one number)",
                    np.reshape(base.sum(), shape))


def matches(user: Any, predicted: Any, rtol: float = MATCH_RTOL,
            mask: np.ndarray | None = None) -> bool:
    """Does a guess reproduce your array (same shape, same values; only where ``mask`` is
    True, when given: the entries a finite-difference reference has)?

    >>> matches(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]))
    True
    """
    u, p = as_array(user), as_array(predicted)
    if u is None or p is None or u.shape != p.shape:
        return False
    if mask is not None and mask.shape == p.shape:
        u, p = u[mask], p[mask]
    if not np.all(np.isfinite(p)):
        return False
    if not np.any(p) and not np.any(u):
        return True
    return close(u, p, rtol, 1e-12)


def explain(user: Any, guesses: Iterable[Guess], rtol: float = MATCH_RTOL,
            mask: np.ndarray | None = None) -> Guess | None:
    """The first guess that reproduces ``user`` (a guess that raises is no match).

    >>> explain(np.zeros(2), [Guess("zero", "zeros", np.zeros(2))]).cause
    'zero'
    """
    for guess in guesses:
        if guess.predicted is not None and matches(user, guess.predicted, rtol, mask):
            return guess
    return None
