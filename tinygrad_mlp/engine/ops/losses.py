"""The losses fused into one node each (numerically stable, one pass): cross-entropy on logits
(with class indices or probabilities), mean squared error, binary cross-entropy.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function, OperationError, ShapeError
from .elementwise import log
from .reductions import log_softmax
from .rules import value


class ClassIndexError(IndexError):
    """A class index target outside [0, number of classes)."""


def _reduced(losses: np.ndarray, reduction: str) -> np.ndarray:
    """A fused loss's per-element ``losses`` reduced: "none", "sum" or "mean"."""
    if reduction == "none":
        return losses
    total = np.add.reduce(losses, axis=None)
    if reduction == "sum":
        return total
    # The mean of nothing is NaN, as in PyTorch (and NumPy, without its warning), not 0.
    return total / losses.size if losses.size else np.full((), np.nan, losses.dtype)


# Up to this many classes, cross-entropy works on column-major logits (see its forward); the
# replay reads it to mirror that choice.
FEW_CLASSES = 64


def _rows(classes: np.ndarray) -> tuple:
    """The row part of a fancy index that picks one class per row (none for 1-D logits)."""
    return (np.arange(classes.shape[0]),) if classes.ndim else ()


class CrossEntropy(Function):
    """Softmax and cross-entropy fused into one numerically stable node.

    ``logits`` (N, C) or (C,); the target is either class indices (the ``classes`` param:
    ints of shape (N,) or ()) or a second input of probabilities with the logits' shape.
    ``reduction``: "mean" (over N), "sum" or "none".
    """

    __slots__ = ("classes", "probs", "reduction")
    name = "cross_entropy"
    reads = ("inputs",)
    float_result = True
    _saved = ("probs",)

    def forward(self, logits, target=None, classes=None, reduction="mean"):
        if logits.ndim not in (1, 2):
            raise ShapeError(
                f"cross_entropy: logits must be (N, C) or (C,), got shape {logits.shape}"
            )
        if reduction not in ("mean", "sum", "none"):
            raise OperationError(
                f"cross_entropy: reduction must be mean, sum or none, got {reduction!r}"
            )
        self.reduction, self.classes = reduction, classes
        if classes is not None and classes.size and (
            classes.min() < 0 or classes.max() >= logits.shape[-1]
        ):
            bad = classes[(classes < 0) | (classes >= logits.shape[-1])].flat[0]
            raise ClassIndexError(
                f"cross_entropy: target class {bad} is out of range for "
                f"{logits.shape[-1]} classes (valid: 0 to {logits.shape[-1] - 1})"
            )
        if classes is None and target.shape != logits.shape:
            raise ShapeError(
                f"cross_entropy: probability target {target.shape} must have the logits' "
                f"shape {logits.shape}"
            )
        if logits.ndim == 2 and logits.shape[1] <= FEW_CLASSES:
            # Column-major, a row's few classes are far apart but each reduction over them runs
            # down whole columns: 3-10x faster than short row-by-row loops, for one cheap copy.
            logits = np.asfortranarray(logits)
        shifted = logits - np.maximum.reduce(logits, axis=-1, keepdims=True)  # exp can't overflow
        probs = np.exp(shifted)
        norm = np.add.reduce(probs, axis=-1, keepdims=True)
        probs /= norm
        self.probs = probs
        log_norm = np.log(norm)
        if classes is not None:  # -log p[class] = log_norm - shifted[class]
            losses = log_norm[..., 0] - shifted[(*_rows(classes), classes)]
        else:
            losses = -(target * (shifted - log_norm)).sum(axis=-1)
        return _reduced(losses, reduction)

    def backward(self, g, out, logits, target=None):
        n = max(logits.shape[0], 1) if logits.ndim == 2 else 1
        per_row = g[..., None] if self.reduction == "none" else (
            g * (1.0 / n) if self.reduction == "mean" else g
        )
        probs = self.probs if isinstance(logits, np.ndarray) else logits.softmax(axis=-1)
        need = self.needs
        if self.classes is not None:  # (probs - onehot) * per_row, the onehot never made
            picked = (*_rows(self.classes), self.classes)
            if type(probs) is np.ndarray:
                g_logits = probs * per_row
                g_logits[picked] -= per_row if np.ndim(per_row) == 0 else per_row[..., 0]
                return (g_logits,)
            onehot = np.zeros(probs.shape, dtype=value(logits).dtype)
            onehot[picked] = 1
            return ((probs - onehot) * per_row,)
        g_logits = (probs * target.sum(axis=-1, keepdims=True) - target) * per_row
        g_target = -log_softmax(logits) * per_row if need[1] else None
        return (g_logits if need[0] else None), g_target


# The floor of p (1 - p) in BCE's gradient: PyTorch's 1e-12, which its kernel stores as a
# float32 (so it is 9.99999996e-13).
_BCE_EPS = float(np.float32(1e-12))


class MeanSquaredError(Function):
    """``(x - y) ** 2`` reduced as one node: the loss of every regression step."""

    __slots__ = ("diff", "reduction")
    name = "mse_loss"
    reads = ("inputs",)
    float_result = True
    _saved = ("diff",)

    def forward(self, x, y, reduction="mean"):
        self.reduction = reduction
        self.diff = diff = x - y
        return _reduced(diff * diff, reduction)

    def backward(self, g, out, x, y):
        # Under create_graph x and y are Tensors: recompute the difference on the graph.
        diff = self.diff if type(x) is np.ndarray else x - y
        scale = 2.0 / max(value(diff).size, 1) if self.reduction == "mean" else 2.0
        gx = (g * scale) * diff
        need_x, need_y = self.needs
        return (gx if need_x else None), (-gx if need_y else None)


class BinaryCrossEntropy(Function):
    """PyTorch's BCE on probabilities as one node: logs clamped at -100, so p = 0 or 1 stays
    finite, and the gradient ``(p - y) / max(p (1 - p), 1e-12)`` (no 0/0 at the clamp)."""

    __slots__ = ("count", "reduction")
    name = "binary_cross_entropy"
    reads = ("inputs",)
    float_result = True

    def forward(self, p, y, reduction="mean"):
        self.reduction, self.count = reduction, max(p.size, 1)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100.0)
            log_q = np.maximum(np.log1p(-p), -100.0)
        return _reduced(-(y * log_p + (1 - y) * log_q), reduction)

    def backward(self, g, out, p, y):
        # Written with what arrays and Tensors share, so create_graph works too.
        if self.reduction == "mean":
            g = g * (1.0 / self.count)
        need_p, need_y = self.needs
        gp = g * (p - y) / (p * (1 - p)).clip(min=_BCE_EPS) if need_p else None
        gy = None
        if need_y:
            with np.errstate(divide="ignore"):
                gy = g * (log(1 - p).clip(min=-100.0) - log(p).clip(min=-100.0))
        return gp, gy
