"""``DataLoader``: mini-batches of ``(X, y)``, one pass per epoch, shuffled from a seed.

>>> loader = DataLoader(np.arange(10).reshape(5, 2), np.arange(5), batch_size=2)
>>> [yb.tolist() for _, yb in loader]
[[0, 1], [2, 3], [4]]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from . import checks


class DataLoader:
    """Iterate over ``(X_batch, y_batch)`` mini-batches, one pass per epoch.

    Without shuffling, batches are slices (views) of ``X`` and ``y`` in order.
    With ``shuffle=True`` every new iteration draws a fresh permutation from a
    generator seeded once from ``seed``, so two loaders built with the same seed
    produce the same sequence of epochs; shuffled batches are copies. With
    ``drop_last=True`` a final batch smaller than ``batch_size`` is skipped.
    When ``y`` is None the loader yields ``X_batch`` alone.

    Example:
        >>> loader = DataLoader(np.arange(10).reshape(5, 2), np.arange(5), batch_size=2)
        >>> len(loader), [yb.tolist() for _, yb in loader]
        (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray | None = None,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
    ) -> None:
        checks.count(batch_size, "batch_size", "DataLoader")
        seed = checks.seed(seed, "DataLoader")
        self.X = np.asarray(X)
        self.y = None if y is None else np.asarray(y)
        if self.X.ndim == 0 or self.X.shape[0] == 0:
            # An empty loader would make a training loop silently do nothing.
            raise ValueError(f"DataLoader: X must hold at least one sample, got shape "
                             f"{self.X.shape}")
        if self.y is not None and (self.y.ndim == 0 or self.y.shape[0] != self.X.shape[0]):
            n_y = 0 if self.y.ndim == 0 else self.y.shape[0]
            raise ValueError(f"DataLoader: X has {self.X.shape[0]} samples but y has {n_y}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    @property
    def n_samples(self) -> int:
        """Number of samples in one full pass.

        Example:
            >>> DataLoader(np.zeros((7, 3)), batch_size=2).n_samples
            7
        """
        return int(self.X.shape[0])

    def __len__(self) -> int:
        """Return the number of batches per epoch."""
        n, size = self.n_samples, self.batch_size
        return n // size if self.drop_last else -(-n // size)

    def __iter__(self) -> Iterator[Any]:
        """Start an epoch; the shuffle permutation is drawn here, once."""
        order = self._rng.permutation(self.n_samples) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[Any]:
        # Locals keep attribute lookups out of the per-batch loop.
        X, y, size = self.X, self.y, self.batch_size
        stop = len(self) * size
        for start in range(0, stop, size):
            if order is None:
                index: Any = slice(start, start + size)
            else:
                index = order[start : start + size]
            if y is None:
                yield X[index]
            else:
                yield X[index], y[index]

    def __repr__(self) -> str:
        return (
            f"DataLoader(n_samples={self.n_samples}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, n_batches={len(self)})"
        )
