"""Comparing one of your arrays with the reference, and naming the constant between them.

Every checker in :mod:`tinygrad_mlp.compare` measures agreement the same way: the largest
absolute difference against ``atol + rtol * scale`` (``scale`` the largest magnitude of
either), the relative error of the norms, and, when the two are parallel, the constant
factor between them. ``name_factor`` turns such a factor into words (``n``, ``1/n``, ``2``,
``-1``, ...).

>>> c = compare_arrays(np.array([2.0, 4.0]), np.array([1.0, 2.0]), 1e-9, 0.0)
>>> c.ok, c.factor
(False, 2.0)
>>> name_factor(2.0, n=12, k=1)
('factor_2', '2')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.numerics import format_number, non_finite

# Finite differences are good to roughly 1e-8 relative; below this tolerance they would
# report noise as mismatches.
FD_RTOL = 1e-5
# A candidate formula "reproduces" a value when it agrees to this relative precision.
SAME_VALUE_RTOL = 1e-9
# How close a fitted factor must be to a recognised one (n, 1/n, 2, ...) to be named.
FACTOR_RTOL = 1e-4


def as_array(x: Any) -> np.ndarray | None:
    """``x`` as a float64 array, or None when it is not numbers at all.

    >>> as_array([1, 2]).dtype, as_array("no") is None
    (dtype('float64'), True)
    """
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def norm(a: np.ndarray) -> float:
    """The 2-norm of all entries (without BLAS: a small array's dot product through a busy
    thread pool can take milliseconds).

    >>> norm(np.array([3.0, 4.0]))
    5.0
    """
    return float(np.sqrt(np.sum(np.square(a))))


def close(a: Any, b: Any, rtol: float, atol: float = 0.0) -> bool:
    """Same shape and ``max|a - b| <= atol + rtol * scale``; non-finite entries must be equal.

    >>> close(np.ones(2), np.ones(2) + 1e-12, 1e-9), close(np.ones(2), np.ones(3), 1.0)
    (True, False)
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return bool(np.array_equal(a, b, equal_nan=True))
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return bool(np.max(np.abs(a - b), initial=0.0) <= atol + rtol * scale)


@dataclass
class Comparison:
    """How one array compares with the reference: the errors, the ratio of the norms,
    whether it agrees, a problem (not an array, wrong shape, inf/NaN) and, when it is a
    constant multiple of the reference, that ``factor``; ``zero`` when it is all zeros where
    the reference is not."""

    max_abs: float
    rel: float
    ratio: float
    ok: bool
    error: str | None
    factor: float | None
    zero: bool

    @property
    def shape_problem(self) -> bool:
        """True when the array has the wrong shape."""
        return self.error is not None and self.error.startswith("shape")


def compare_arrays(user: Any, ref: np.ndarray, rtol: float, atol: float) -> Comparison:
    """Compare ``user`` with ``ref`` (see the module docstring).

    >>> compare_arrays(np.zeros((2, 1)), np.ones((2, 1)), 1e-9, 0.0).zero
    True
    >>> compare_arrays(np.zeros(3), np.ones((3, 1)), 1e-9, 0.0).error
    'shape (3,) where (3, 1) was expected'
    """
    u = as_array(user)
    if u is None:
        problem = f"not an array ({type(user).__name__})"
        return Comparison(np.inf, np.inf, np.nan, False, problem, None, False)
    if u.shape != ref.shape:
        return Comparison(np.inf, np.inf, np.nan, False,
                          f"shape {u.shape} where {ref.shape} was expected", None, False)
    if not np.all(np.isfinite(ref)):
        same = bool(np.array_equal(u, ref, equal_nan=True))
        return Comparison(np.nan, np.nan, np.nan, same, None if same else
                          "the reference is not finite here", None, False)
    ref_norm = norm(ref)
    with np.errstate(all="ignore"):
        diff = u - ref
        max_abs = float(np.max(np.abs(diff), initial=0.0))
        user_norm = norm(u)
        diff_norm = norm(diff)
        rel = diff_norm / ref_norm if ref_norm > 0 else (0.0 if max_abs == 0 else np.inf)
        ratio = user_norm / ref_norm if ref_norm > 0 else (1.0 if user_norm == 0 else np.inf)
    bad = non_finite(u)
    if bad is not None:
        return Comparison(max_abs, rel, ratio, False, f"holds {bad}", None, False)
    scale = max(float(np.max(np.abs(ref), initial=0.0)), float(np.max(np.abs(u), initial=0.0)))
    ok = max_abs <= atol + rtol * scale
    factor = None
    zero = bool(not ok and user_norm == 0.0 and ref_norm > 0.0)
    if not ok and ref_norm > 0 and user_norm > 0:
        c = float(np.sum(u * ref) / np.sum(ref * ref))
        if norm(u - c * ref) <= max(rtol, 1e-9) * 10 * user_norm:
            factor = c
    return Comparison(max_abs, rel, ratio, ok, None, factor, zero)


def name_factor(c: float, n: int, k: int, lr: float | None = None) -> tuple[str, str] | None:
    """Recognise a constant factor between yours and the reference: ``(cause, words)`` for
    n, 1/n, n·k, k, 1/k, 2, 1/2, -1, -n, 1/lr and lr, or None.

    >>> name_factor(-1.0, 8, 1)
    ('sign', '-1 (the sign is flipped)')
    """
    candidates: list[tuple[float, str, str]] = [
        (n, "factor_n", f"n = {n} (the number of samples)"),
        (1.0 / n, "factor_1_over_n", f"1/n = 1/{n}"),
    ]
    if k > 1:
        candidates += [
            (n * k, "factor_nk", f"n·k = {n}·{k} (the number of elements of ŷ)"),
            (k, "factor_k", f"k = {k} (the number of outputs)"),
            (1.0 / k, "factor_1_over_k", f"1/k = 1/{k}"),
        ]
    candidates += [
        (2.0, "factor_2", "2"), (0.5, "factor_half", "1/2"),
        (-1.0, "sign", "-1 (the sign is flipped)"),
        (-float(n), "factor_minus_n", f"-n = -{n}"),
    ]
    if lr is not None:
        candidates += [
            (1.0 / lr, "no_learning_rate", f"1/learning_rate = {1.0 / lr:g}"),
            (lr, "learning_rate_twice", f"learning_rate = {lr:g}"),
        ]
    for value, cause, text in candidates:
        if value != 0 and abs(c / value - 1.0) <= FACTOR_RTOL:
            return cause, text
    return None


# How each batch-size factor scales with n: n (missing 1/n), 1/n (extra 1/n), n·k, -n.
BATCH_EXPONENT = {"factor_n": 1, "factor_nk": 1, "factor_minus_n": 1, "factor_1_over_n": -1}


@dataclass
class BatchConfirmation:
    """The verdict of a rerun at another batch size: ``confirmed`` (True: the factor follows
    the batch size; False: it is the same constant again; None: the rerun could not tell,
    ``words`` say why)."""

    confirmed: bool | None
    words: str


def batch_confirmation(big: float | None, small: float | None, failed: str | None,
                       exponent: int, n: int, m: int) -> BatchConfirmation:
    """Judge a factor ``big`` measured with ``n`` samples by the factor ``small`` measured
    with ``m``: it follows the batch size when ``small ≈ big·(m/n)^exponent``. ``failed`` is
    the error of a rerun that did not get as far (then nothing is concluded).

    >>> batch_confirmation(12.0, 6.0, None, 1, 12, 6).confirmed
    True
    >>> batch_confirmation(12.0, 12.0, None, 1, 12, 6).confirmed
    False
    >>> print(batch_confirmation(12.0, None, "ValueError: no", 1, 12, 6).words)
    (Not confirmed: the rerun with 6 samples failed: ValueError: no.)
    """
    if failed is not None:
        return BatchConfirmation(None, f"(Not confirmed: the rerun with {m} samples failed: "
                                       f"{failed.rstrip('.')}.)")
    if big is None or small is None:
        return BatchConfirmation(None, f"(Not confirmed: rerun with {m} samples it is no "
                                       "longer a constant multiple.)")
    was = f"(was {format_number(big, 6)} with {n})"
    if abs(small / (big * (m / n) ** exponent) - 1.0) <= FACTOR_RTOL:
        return BatchConfirmation(True, f"Confirmed: rerun with {m} samples the factor is "
                                       f"{format_number(small, 6)} {was}: it follows the "
                                       "batch size.")
    if abs(small / big - 1.0) <= FACTOR_RTOL:
        return BatchConfirmation(False, f"But rerun with {m} samples the factor is still "
                                        f"{format_number(small, 6)}: it does not follow the "
                                        "batch size, so it is a constant that happens to "
                                        f"equal n = {n} here.")
    return BatchConfirmation(None, f"(Not confirmed: rerun with {m} samples the factor is "
                                   f"{format_number(small, 6)} {was}, which neither follows "
                                   "the batch size nor stays the same.)")
