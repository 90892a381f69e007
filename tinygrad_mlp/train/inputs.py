"""What ``fit`` checks before it trains, and how it reads its data: the metric a loss
implies, the model, loss and optimizer, the settings, the data (matching rows, finite numbers,
validation rows like the training rows, class indices within the model's outputs, targets in
[0, 1] for the binary cross-entropies), and one batch as Tensors.

>>> loss_kind(CrossEntropyLoss()), loss_kind(F.mse_loss)
('ce', None)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data import DataLoader, Dataset, checks
from ..engine.numerics import non_finite
from ..engine.tensor import Tensor
from ..nn import functional as F
from ..nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss

# -- metrics ----------------------------------------------------------------------------------

Metric = Callable[[np.ndarray, np.ndarray], tuple[int, int]]


def _argmax_hits(out: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    labels = y if y.ndim == out.ndim - 1 else y.argmax(axis=-1)  # indices or probabilities
    return int((out.argmax(axis=-1) == labels).sum()), labels.size


def _threshold_hits(threshold: float) -> Metric:
    def hits(out: np.ndarray, y: np.ndarray) -> tuple[int, int]:
        return int(((out >= threshold) == (y >= 0.5)).sum()), y.size

    return hits


def loss_kind(loss_fn: Any) -> str | None:
    """``"ce"``, ``"bce_logits"``, ``"bce"`` for the classification losses, else None."""
    if isinstance(loss_fn, CrossEntropyLoss) or loss_fn is F.cross_entropy:
        return "ce"
    if isinstance(loss_fn, BCEWithLogitsLoss) or loss_fn is F.binary_cross_entropy_with_logits:
        return "bce_logits"
    if isinstance(loss_fn, BCELoss) or loss_fn is F.binary_cross_entropy:
        return "bce"
    return None


def metric_for(loss_fn: Any, metrics: str | None) -> Metric | None:
    if metrics is None or metrics is False:
        return None
    if metrics not in ("auto", "accuracy"):
        raise ValueError(f"fit: metrics must be 'auto', 'accuracy' or None, got {metrics!r}")
    kind = loss_kind(loss_fn)
    if kind == "ce":
        return _argmax_hits
    if kind is not None:  # a logit of 0 is a probability of 1/2
        return _threshold_hits(0.0 if kind == "bce_logits" else 0.5)
    if metrics == "accuracy":
        raise ValueError(
            f"fit: cannot tell how to score accuracy with loss_fn={loss_fn!r}; accuracy is "
            "known for CrossEntropyLoss, BCELoss and BCEWithLogitsLoss (or use metrics=None)"
        )
    return None


# -- checking the inputs, all of them before the first update ----------------------------------


def check_parts(model: Any, loss_fn: Any, optimizer: Any) -> list[Tensor]:
    """The model's parameters, once model, loss_fn and optimizer are known to be usable."""
    if model is None or not callable(model) or not callable(getattr(model, "parameters", None)):
        raise TypeError("fit: model must be a Module (anything callable with a .parameters() "
                        f"method), got {checks.shown(model)}")
    if loss_fn is None or not callable(loss_fn):
        raise TypeError("fit: loss_fn must be a loss such as nn.MSELoss() (a callable of "
                        f"output and target), got {checks.shown(loss_fn)}")
    if not all(callable(getattr(optimizer, name, None)) for name in ("step", "zero_grad")):
        raise TypeError("fit: optimizer must be an optimizer such as optim.Adam(model."
                        "parameters()) (with .step() and .zero_grad()), got "
                        f"{checks.shown(optimizer)}")
    params = list(model.parameters())
    if not all(isinstance(p, Tensor) for p in params):
        raise TypeError("fit: model.parameters() must give Tensors")
    return params


def check_settings(epochs: Any, batch_size: Any, seed: Any, clip: Any) -> None:
    checks.count(epochs, "epochs", "fit")
    checks.count(batch_size, "batch_size", "fit")
    checks.seed(seed, "fit")
    if clip is not None:
        if not checks.is_number(clip):
            raise TypeError("fit: clip_grad_norm must be a positive number (the largest "
                            f"gradient norm allowed) or None, got {checks.shown(clip)}")
        if not 0 < clip < math.inf:  # NaN fails too
            raise ValueError("fit: clip_grad_norm must be a positive finite number (a cap of "
                             f"0 or below would freeze or reverse every update), got {clip!r}")


def as_array(values: Any, dtype: np.dtype | None, what: str, name: str) -> np.ndarray:
    """``values`` (an array, Tensor or nested lists) as a numeric array, or a clear error."""
    try:
        array = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"fit: {what} is an (X, y) pair, but its {name} cannot be made a numeric array "
            f"({err}); {name} must be an array, Tensor or list of equal-length rows of numbers "
            "(to pass batches instead, give a list of (X_batch, y_batch) tuples or a DataLoader)"
        ) from err
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"fit: {what}'s {name} must hold numbers, got dtype {array.dtype}"
            + (" (encode text labels as class indices 0..k-1)" if name == "y" else "")
        )
    return array


def check_values(X: np.ndarray, y: np.ndarray, what: str, kind: str | None) -> None:
    """Rows that match, finite numbers, targets a classification loss can take."""
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"fit: {what} has X of shape {X.shape} and y of shape {y.shape}; "
                         "they need one row per sample each")
    if len(X) == 0:
        raise ValueError(f"fit: {what} holds no samples")
    for name, array in (("X", X), ("y", y)):
        bad = non_finite(array)
        if bad is not None:
            row = int(np.argwhere(~np.isfinite(array))[0][0])
            raise ValueError(f"fit: {what}'s {name} holds {bad} (first in row {row}); nothing "
                             "was trained: clean the data first")
    if kind == "ce" and y.dtype.kind not in "iub" and y.ndim == 1:
        raise ValueError(f"fit: {what}'s y holds {y.dtype} values, but CrossEntropyLoss takes "
                         "class indices as integers (or probabilities of shape (N, C))")
    if kind in ("bce", "bce_logits") and (np.min(y) < 0 or np.max(y) > 1):
        raise ValueError(f"fit: {what}'s y must lie in [0, 1] for a binary cross-entropy "
                         f"loss, but it reaches {np.min(y):g} .. {np.max(y):g}")


@dataclass
class Batches:
    """Batches to train or evaluate on, and the arrays behind them when fit can see them."""

    batches: Iterable[Any]
    what: str
    arrays: list[tuple[np.ndarray, np.ndarray]]  # (X, y) pairs: all of them, or none


def batches(
    data: Any, batch_size: int, shuffle: bool, seed: int | None, dtype: np.dtype, what: str,
    kind: str | None,
) -> Batches:
    if isinstance(data, Dataset):
        # A Dataset iterates as X then y (for ``X, y = ds``), not as batches.
        data = (data.X, data.y)
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
        # Cast once here rather than batch by batch.
        X, y = as_array(data[0], dtype, what, "X"), as_array(data[1], None, what, "y")
        if y.dtype.kind in "fb":
            y = y.astype(dtype, copy=False)
        check_values(X, y, what, kind)
        loader = DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
        return Batches(loader, what, [(X, y)])
    if isinstance(data, DataLoader) and data.y is not None:
        check_values(data.X, data.y, what, kind)
        return Batches(data, what, [(data.X, data.y)])
    if isinstance(data, (list, tuple)):  # batches fit can look at without using them up
        arrays = []
        for i, batch in enumerate(data):
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise TypeError(not_a_pair(batch))
            X, y = np.asarray(batch[0]), np.asarray(batch[1])
            check_values(X, y, f"{what}[{i}]", kind)
            arrays.append((X, y))
        return Batches(data, what, arrays)
    if isinstance(data, Iterable):
        return Batches(data, what, [])
    raise TypeError(
        f"fit: {what} must be an (X, y) tuple or an iterable of (X_batch, y_batch) batches "
        f"such as a DataLoader, got {type(data).__name__}"
    )


def check_features(train: Batches, val: Batches | None) -> None:
    if val is None or not train.arrays or not val.arrays:
        return
    want, got = train.arrays[0][0].shape[1:], val.arrays[0][0].shape[1:]
    if got != want:
        raise ValueError(f"fit: val_data's X has rows of shape {got}, but train_data's X has "
                         f"rows of shape {want}: the validation data has other features")


def check_labels(data: list[Batches], n_classes: int) -> None:
    """Class indices within the model's outputs, over the whole of each dataset seen."""
    for part in data:
        for _, y in part.arrays:
            if y.ndim != 1 or y.dtype.kind not in "iu":
                continue
            low, high = int(y.min()), int(y.max())
            if low < 0 or high >= n_classes:
                bad = low if low < 0 else high
                row = int(np.argmax(y == bad))
                raise ValueError(
                    f"fit: {part.what}'s y holds the class index {bad} (row {row}), but the "
                    f"model has {n_classes} outputs, so class indices must be 0..{n_classes - 1}"
                    "; nothing was trained")


def not_a_pair(batch: Any) -> str:
    return (f"fit: each batch must be a pair (X_batch, y_batch), got {batch!r:.80}; to pass "
            "whole arrays, give the tuple (X, y) or a tinygrad_mlp.data.Dataset")


def unpack(batch: Any, dtype: np.dtype) -> tuple[Tensor, Tensor]:
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(not_a_pair(batch))
    x = np.asarray(batch[0], dtype=dtype)
    y = np.asarray(batch[1])
    if y.dtype.kind in "fb":  # class indices stay integers; float targets follow the model
        y = y.astype(dtype, copy=False)
    return Tensor._make(x, False, None), Tensor._make(y, False, None)


def scalar(loss: Any) -> float:
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = loss.shape if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(
            f"fit: loss_fn must return a one-element Tensor (reduction 'mean' or 'sum'), "
            f"got {shape}"
        )
    return float(loss.item())
