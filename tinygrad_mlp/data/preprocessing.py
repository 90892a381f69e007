"""Preprocessing: ``Standardize`` (zero mean, unit variance per feature, fitted on the
training split only) and ``train_test_split`` (random or stratified).

>>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
>>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, seed=0)
>>> scaler = Standardize().fit(X_train)
>>> bool(np.allclose(scaler.transform(X_train).mean(axis=0), 0.0))
True
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import checks


def _as_2d_float(X: Any, what: str, caller: str) -> np.ndarray:
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{caller}: {what} must be an array of numbers ({error})") from None
    if arr.ndim != 2:
        raise ValueError(
            f"{caller}: {what} must be 2-D (n_samples, n_features), got shape {arr.shape}; "
            "reshape a single column with x.reshape(-1, 1)"
        )
    return arr


class Standardize:
    """Shift and scale each feature to zero mean and unit variance.

    Fit on the training split only, then transform every split with those
    statistics so no information leaks from the test set. A feature that is
    constant in the training data gets ``std_`` 1, so it maps to 0 rather than
    to a division by zero. Works for features ``(n, f)`` and for regression
    targets ``(n, 1)`` alike.

    Example:
        >>> scaler = Standardize().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
        >>> scaler.mean_.tolist(), scaler.std_.tolist()
        ([2.0, 5.0], [1.0, 1.0])
        >>> scaler.transform(np.array([[4.0, 6.0]])).tolist()
        [[2.0, 1.0]]
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> Standardize:
        """Compute per-feature mean and standard deviation of ``X``; return ``self``.

        Example:
            >>> Standardize().fit(np.array([[0.0], [2.0]])).std_.tolist()
            [1.0]
        """
        arr = _as_2d_float(X, "X", "Standardize.fit")
        if arr.shape[0] == 0:
            raise ValueError("Standardize.fit: cannot fit on an empty array")
        if not np.all(np.isfinite(arr)):
            raise ValueError("Standardize.fit: X contains NaN or infinite values")
        mean = arr.mean(axis=0)
        std = arr.std(axis=0)
        # A constant column can come out with a rounding-size std (its mean is
        # not always exactly representable); dividing by that would blow the
        # column up, so anything at rounding level counts as constant.
        constant = std <= 1000.0 * np.finfo(np.float64).eps * np.abs(mean)
        std[constant] = 1.0
        self.mean_, self.std_ = mean, std
        return self

    def _checked(self, X: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        caller = "Standardize." + ("transform" if what == "X" else "inverse_transform")
        if self.mean_ is None or self.std_ is None:
            raise RuntimeError(f"{caller}: Standardize is not fitted yet; call "
                               "fit(X_train) first")
        arr = _as_2d_float(X, what, caller)
        if arr.shape[1] != self.mean_.shape[0]:
            raise ValueError(
                f"{caller}: {what} has {arr.shape[1]} features, but Standardize was fitted on "
                f"{self.mean_.shape[0]} features"
            )
        return arr, self.mean_, self.std_

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return ``(X - mean_) / std_`` as a new array.

        Example:
            >>> Standardize().fit(np.array([[0.0], [2.0]])).transform(np.array([[3.0]])).tolist()
            [[2.0]]
        """
        arr, mean, std = self._checked(X, "X")
        return (arr - mean) / std

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """Fit on ``X`` and return it standardized.

        Example:
            >>> Standardize().fit_transform(np.array([[1.0], [3.0]])).tolist()
            [[-1.0], [1.0]]
        """
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Map standardized values back to the original units: ``Z * std_ + mean_``.

        Example:
            >>> s = Standardize().fit(np.array([[1.0], [3.0]]))
            >>> s.inverse_transform(np.array([[1.0]])).tolist()
            [[3.0]]
        """
        arr, mean, std = self._checked(Z, "Z")
        return arr * std + mean

    def __repr__(self) -> str:
        state = "unfitted" if self.mean_ is None else f"n_features={self.mean_.shape[0]}"
        return f"Standardize({state})"


def _n_test(test_size: float, n: int) -> int:
    if isinstance(test_size, bool):
        raise TypeError("train_test_split: test_size must be a float in (0, 1) or an int count, "
                        "not a bool")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            raise ValueError(
                f"train_test_split: test_size={n_test} leaves an empty split of {n} samples; "
                f"use a count between 1 and {n - 1}"
            )
        return n_test
    if isinstance(test_size, numbers.Real):
        fraction = float(test_size)
        if not 0.0 < fraction < 1.0:
            raise ValueError("train_test_split: a float test_size must lie strictly between 0 and "
                             f"1, got {fraction}")
        # Rounding up keeps the test split non-empty; the small slack stops
        # products like 0.07 * 100 = 7.000000000000001 from rounding up to 8.
        n_test = math.ceil(fraction * n - 1e-9)
        if n_test >= n:
            raise ValueError(f"train_test_split: test_size={fraction} of {n} samples leaves no "
                             "training samples")
        return n_test
    raise TypeError("train_test_split: test_size must be a float in (0, 1) or an int count, got "
                    f"{checks.shown(test_size)}")


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    test_size: float = 0.2,
    seed: int = 0,
    stratify: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Randomly split ``X`` and ``y`` into train and test parts.

    ``test_size`` is a fraction in (0, 1) (rounded up to whole samples) or a
    sample count. The split depends only on ``seed`` and the data length. With
    ``stratify=True``, ``y`` holds class labels and each class is split in (as
    nearly as whole samples allow) the same proportion. Rows of both parts come
    in random order.

    Example:
        >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
        >>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, seed=0)
        >>> X_tr.shape, X_te.shape, sorted(y_tr.tolist() + y_te.tolist()) == list(range(10))
        ((7, 2), (3, 2), True)
    """
    X_arr, y_arr = np.asarray(X), np.asarray(y)
    if X_arr.ndim == 0 or y_arr.ndim == 0:
        raise ValueError("train_test_split: X and y must be arrays with one row per sample")
    n = X_arr.shape[0]
    if y_arr.shape[0] != n:
        raise ValueError(f"train_test_split: X has {n} samples but y has {y_arr.shape[0]}")
    n_test = _n_test(test_size, n)
    rng = np.random.default_rng(checks.seed(seed, "train_test_split"))
    if not stratify:
        order = rng.permutation(n)
        test_idx, train_idx = order[:n_test], order[n_test:]
    else:
        test_idx, train_idx = _stratified_indices(y_arr, n_test, rng)
    return X_arr[train_idx], X_arr[test_idx], y_arr[train_idx], y_arr[test_idx]


def _stratified_indices(
    y: np.ndarray, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n = y.shape[0]
    if y.ndim > 1 and int(np.prod(y.shape[1:])) != 1:
        raise ValueError(
            "train_test_split: stratify=True needs one class label per sample, got y of shape "
            f"{y.shape}"
        )
    _, labels, counts = np.unique(y.reshape(n), return_inverse=True, return_counts=True)
    # Largest-remainder apportionment: every class gets the floor of its exact
    # share, and the samples left over go to the classes with the largest
    # fractional parts, so the total is exactly n_test.
    share = counts * (n_test / n)
    per_class = np.floor(share).astype(np.int64)
    leftover = n_test - int(per_class.sum())
    by_remainder = np.argsort(-(share - per_class), kind="stable")
    per_class[by_remainder[:leftover]] += 1
    test_parts, train_parts = [], []
    for k, k_test in enumerate(per_class):
        members = rng.permutation(np.flatnonzero(labels == k))
        test_parts.append(members[:k_test])
        train_parts.append(members[k_test:])
    # Mixed again so that neither split comes grouped by class.
    test_idx = rng.permutation(np.concatenate(test_parts))
    train_idx = rng.permutation(np.concatenate(train_parts))
    return test_idx, train_idx
