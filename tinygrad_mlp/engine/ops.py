"""The differentiable operations: each a small class, its forward and its gradient side by side.

``forward`` works on NumPy arrays. ``backward(g, out, *inputs)`` returns one gradient per
input and is written once for two worlds: normally ``g``, ``out`` and ``inputs`` are arrays;
under ``create_graph=True`` they are Tensors and the same lines record the backward pass as a
graph of its own (that is how second derivatives work). So a rule uses only what both have:
operators, ``.sum``, ``.mean``, ``.reshape``, ``.mT``, indexing, ``.astype``, and the *dual*
helpers below (``exp``, ``cos``, ``where``, ...) which call NumPy on arrays and record an
operation on Tensors. Non-differentiable masks are computed on plain values (``value(x)``).
Gradients may keep the broadcast shape: the engine sums them back (``autograd.unbroadcast``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .autograd import Function, OperationError, ShapeError
from .tensor import Tensor

# ---------------------------------------------------------------------------------------------
# Helpers shared by the rules


class ClassIndexError(IndexError):
    """A class index target outside [0, number of classes)."""


def value(x: Any) -> np.ndarray:
    """The plain array behind a Tensor (or the array itself): for masks and shapes."""
    return x._data if isinstance(x, Tensor) else x


def dual(op: type[Function]):
    """``op``'s forward on arrays, or a recorded ``op`` when any argument is a Tensor.

    Pass the operation's parameters by keyword (``expand(g, shape=s)``): a positional argument
    would become an input of the recorded node.
    """

    def call(*args: Any, **params: Any) -> Any:
        for a in args:
            if isinstance(a, Tensor):
                return op.apply(*args, **params)
        return op().forward(*args, **params)

    call.__name__ = op.name
    return call


def _axes(axis: int | Sequence[int] | None, ndim: int, name: str) -> tuple[int, ...]:
    """Normalise ``axis`` (int, tuple or None) to a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    result = []
    for a in axes:
        # As in PyTorch, a 0-d tensor accepts axis 0 and -1 (and has nothing to reduce).
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ShapeError(f"{name}: axis {a} is out of range for a tensor with {ndim} dims")
        result.append(int(a) % max(ndim, 1))
    if len(set(result)) != len(result):
        raise ShapeError(f"{name}: repeated axis in {axis}")
    return tuple(sorted(result)) if ndim else ()


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# ---------------------------------------------------------------------------------------------
# Binary elementwise operations


class _Elementwise(Function):
    """Two operands broadcast against each other like NumPy."""

    __slots__ = ()

    def explain(self, a: np.ndarray, b: np.ndarray, **params: Any) -> str | None:
        if a.ndim and b.ndim:
            try:
                np.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                return f"{self.name}: shapes {a.shape} and {b.shape} cannot be broadcast together"
        return None


class Add(_Elementwise):
    __slots__ = ()
    name = "add"

    def forward(self, a, b):
        return a + b

    def backward(self, g, out, a, b):
        return g, g


class Sub(_Elementwise):
    __slots__ = ()
    name = "sub"

    def forward(self, a, b):
        return a - b

    def backward(self, g, out, a, b):
        return g, -g


class Mul(_Elementwise):
    __slots__ = ()
    name = "mul"

    def forward(self, a, b):
        return a * b

    def backward(self, g, out, a, b):
        need_a, need_b = self.needs
        return (g * b if need_a else None), (g * a if need_b else None)


class Div(_Elementwise):
    __slots__ = ()
    name = "div"
    float_result = True

    def forward(self, a, b):
        return a / b

    def backward(self, g, out, a, b):
        need_a, need_b = self.needs
        g_over_b = g / b
        return (g_over_b if need_a else None), (-g_over_b * out if need_b else None)


class Pow(_Elementwise):
    __slots__ = ()
    name = "pow"

    def forward(self, a, b):
        return a**b

    def backward(self, g, out, a, b):
        need_a, need_b = self.needs
        ga = gb = None
        if need_a:
            ga = g * b * a ** (b - 1)
            b_ = value(b)
            if not b_.all():
                # x**0 is constant, so its gradient is 0, also at x = 0 where b * a**(b - 1)
                # gives 0 * inf = nan.
                ga = where(b_ == 0, 0.0, ga)
        if need_b:
            # d(a**b)/db = a**b * log(a); PyTorch's convention: 0 where a == 0.
            zero = value(a) == 0
            gb = g * out * log(where(zero, 1.0, a)) if zero.any() else g * out * log(a)
        return ga, gb


class Maximum(_Elementwise):
    __slots__ = ()
    name = "maximum"

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g, out, a, b):
        # Ties share the gradient half and half, as in PyTorch.
        a_, b_ = value(a), value(b)
        tie = g * (a_ == b_) * 0.5
        return g * (a_ > b_) + tie, g * (a_ < b_) + tie


class Minimum(_Elementwise):
    __slots__ = ()
    name = "minimum"

    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, g, out, a, b):
        a_, b_ = value(a), value(b)
        tie = g * (a_ == b_) * 0.5
        return g * (a_ < b_) + tie, g * (a_ > b_) + tie


class Where(Function):
    """``cond ? a : b``; ``cond`` is a plain boolean array, not differentiated."""

    __slots__ = ("cond",)
    name = "where"

    def forward(self, a, b, cond):
        self.cond = np.asarray(cond, dtype=bool)
        return np.where(self.cond, a, b)

    def backward(self, g, out, a, b):
        return where(self.cond, g, 0.0), where(self.cond, 0.0, g)

    def explain(self, a, b, cond):
        return (
            f"where: condition {np.shape(cond)}, a {a.shape} and b {b.shape} cannot be "
            "broadcast together"
        )


class MatMul(Function):
    """``a @ b`` for 1-D, 2-D and batched operands, like ``np.matmul``."""

    __slots__ = ()
    name = "matmul"

    def forward(self, a, b):
        return np.matmul(a, b)

    def backward(self, g, out, a, b):
        need_a, need_b = self.needs
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if need_a else None), (g * a if need_b else None)
        # Treat a vector as a one-row (a) or one-column (b) matrix, then drop that axis again.
        a2 = a[None] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g[..., None, :] if a.ndim == 1 else g
        g2 = g2[..., None] if b.ndim == 1 else g2
        ga = gb = None
        if need_a:
            ga = g2 @ b2.mT
            ga = ga[..., 0, :] if a.ndim == 1 else ga
        if need_b:
            gb = a2.mT @ g2
            gb = gb[..., 0] if b.ndim == 1 else gb
        return ga, gb

    def explain(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            return f"matmul: {a.shape} @ {b.shape}: both operands need at least one dimension"
        k_a, k_b = a.shape[-1], b.shape[-2 if b.ndim > 1 else 0]
        if k_a != k_b:
            return f"matmul: {a.shape} @ {b.shape}: inner dimensions {k_a} and {k_b} differ"
        return f"matmul: {a.shape} @ {b.shape}: batch dimensions cannot be broadcast together"


@functools.lru_cache(maxsize=64)
def _ones_row(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones(n, dtype)
    ones.flags.writeable = False  # shared between calls
    return ones


def _column_sums(g: Any) -> Any:
    """``g.sum(axis=0)`` of a 2-D gradient. On arrays it is a product with a row of ones, which
    BLAS does 2-3x faster than NumPy's reduction (the bias gradient of every Linear layer)."""
    if type(g) is not np.ndarray:
        return g.sum(axis=0)
    return _ones_row(g.shape[0], g.dtype) @ g


class Linear(Function):
    """``x @ weight.T + bias`` as one node: the layer every MLP is made of."""

    __slots__ = ()
    name = "linear"

    def forward(self, x, weight, bias=None):
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    def backward(self, g, out, x, weight, bias=None):
        need = self.needs
        gx = g @ weight if need[0] else None
        if g.ndim != 2:  # a batch with several leading axes: flatten them for the weight
            g, x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
        gw = None
        if need[1]:  # in the weight's own memory layout, so the optimizer's update is one pass
            gw = (x.mT @ g).mT if value(weight).flags.f_contiguous else g.mT @ x
        gb = _column_sums(g) if bias is not None and need[2] else None
        return gx, gw, gb

    def explain(self, x, weight, bias=None):
        if weight.ndim != 2:
            return f"linear: weight must be 2-D (out_features, in_features), got {weight.shape}"
        if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            return (
                f"linear: input {x.shape} has {x.shape[-1] if x.ndim else 0} features but "
                f"weight {weight.shape} expects {weight.shape[1]}"
            )
        if bias is not None and bias.shape not in ((weight.shape[0],), ()):
            return f"linear: bias {bias.shape} does not match weight {weight.shape}"
        return None


# ---------------------------------------------------------------------------------------------
# Unary elementwise operations


class Neg(Function):
    __slots__ = ()
    name = "neg"

    def forward(self, x):
        return -x

    def backward(self, g, out, x):
        return (-g,)


class Abs(Function):
    __slots__ = ()
    name = "abs"

    def forward(self, x):
        return np.abs(x)

    def backward(self, g, out, x):
        return (g * np.sign(value(x)),)


class Exp(Function):
    __slots__ = ()
    name = "exp"
    float_result = True

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return (g * out,)


class Log(Function):
    __slots__ = ()
    name = "log"
    float_result = True

    def forward(self, x):
        return np.log(x)

    def backward(self, g, out, x):
        return (g / x,)


class Sqrt(Function):
    __slots__ = ()
    name = "sqrt"
    float_result = True

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g, out, x):
        return (g * 0.5 / out,)


class Sin(Function):
    __slots__ = ()
    name = "sin"
    float_result = True

    def forward(self, x):
        return np.sin(x)

    def backward(self, g, out, x):
        return (g * cos(x),)


class Cos(Function):
    __slots__ = ()
    name = "cos"
    float_result = True

    def forward(self, x):
        return np.cos(x)

    def backward(self, g, out, x):
        return (-g * sin(x),)


class Tanh(Function):
    __slots__ = ()
    name = "tanh"
    float_result = True

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, out, x):
        return (g * (1 - out * out),)


class Sigmoid(Function):
    __slots__ = ()
    name = "sigmoid"
    float_result = True

    def forward(self, x):
        # exp of a non-positive number only: no overflow for large |x|.
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, g, out, x):
        return (g * out * (1 - out),)


class ReLU(Function):
    __slots__ = ()
    name = "relu"

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g, out, x):
        return (g * (value(x) > 0),)


class LeakyReLU(Function):
    __slots__ = ("slope",)
    name = "leaky_relu"

    def forward(self, x, negative_slope=0.01):
        self.slope = negative_slope
        return np.where(x > 0, x, x * negative_slope)

    def backward(self, g, out, x):
        return (where(value(x) > 0, g, g * self.slope),)


class Softplus(Function):
    __slots__ = ()
    name = "softplus"
    float_result = True

    def forward(self, x):
        return np.logaddexp(0, x)

    def backward(self, g, out, x):
        return (g * sigmoid(x),)


class Clip(Function):
    __slots__ = ("low", "high")
    name = "clip"

    def forward(self, x, low=None, high=None):
        if low is None and high is None:
            raise OperationError("clip: give at least one of min and max")
        self.low, self.high = low, high
        return np.clip(x, low, high)

    def backward(self, g, out, x):
        # The gradient passes where x lies inside [low, high] (bounds included, as PyTorch).
        x_ = value(x)
        inside = np.ones(x_.shape, dtype=bool)
        if self.low is not None:
            inside &= x_ >= self.low
        if self.high is not None:
            inside &= x_ <= self.high
        return (g * inside,)


class Cast(Function):
    __slots__ = ()
    name = "cast"

    def forward(self, x, dtype=None):
        return x.astype(dtype)

    def backward(self, g, out, x):
        return (g.astype(x.dtype),)


# ---------------------------------------------------------------------------------------------
# Reductions


class _Reduction(Function):
    """Reduce over ``axis`` (int, tuple or None); remembers how to put the axes back."""

    __slots__ = ("axes", "kd_shape", "keepdims")

    def setup(self, x: np.ndarray, axis: Any, keepdims: bool) -> tuple[int, ...]:
        self.axes = _axes(axis, x.ndim, self.name)
        self.kd_shape = _keepdims_shape(x.shape, self.axes)
        self.keepdims = keepdims
        return self.axes

    def restore(self, t: Any) -> Any:
        """``t`` with the reduced axes back as size-1 axes (so it broadcasts against x)."""
        return t if self.keepdims else t.reshape(self.kd_shape)

    def count(self, x: Any) -> int:
        return int(np.prod([x.shape[a] for a in self.axes]))


class Sum(_Reduction):
    __slots__ = ()
    name = "sum"

    def forward(self, x, axis=None, keepdims=False):
        return np.sum(x, axis=self.setup(x, axis, keepdims), keepdims=keepdims)

    def backward(self, g, out, x):
        return (expand(self.restore(g), shape=x.shape),)


class Mean(_Reduction):
    __slots__ = ()
    name = "mean"
    float_result = True

    def forward(self, x, axis=None, keepdims=False):
        return np.mean(x, axis=self.setup(x, axis, keepdims), keepdims=keepdims)

    def backward(self, g, out, x):
        return (expand(self.restore(g) * (1.0 / max(self.count(x), 1)), shape=x.shape),)


class Max(_Reduction):
    __slots__ = ()
    name = "max"

    def forward(self, x, axis=None, keepdims=False):
        axes = self.setup(x, axis, keepdims)
        if any(x.shape[a] == 0 for a in axes):  # as PyTorch: an empty axis has no max
            raise ShapeError(f"max: cannot reduce over an empty axis (shape {x.shape})")
        return np.max(x, axis=axes, keepdims=keepdims)

    def backward(self, g, out, x):
        # Tied maxima share the gradient equally (PyTorch's amax).
        x_ = value(x)
        hit = x_ == self.restore(value(out))
        share = hit / hit.sum(axis=self.axes, keepdims=True).astype(x_.dtype)
        return (self.restore(g) * share,)


class Min(Max):
    __slots__ = ()
    name = "min"

    def forward(self, x, axis=None, keepdims=False):
        axes = self.setup(x, axis, keepdims)
        if any(x.shape[a] == 0 for a in axes):  # as PyTorch: an empty axis has no min
            raise ShapeError(f"min: cannot reduce over an empty axis (shape {x.shape})")
        return np.min(x, axis=axes, keepdims=keepdims)


class Var(_Reduction):
    __slots__ = ("ddof",)
    name = "var"
    float_result = True

    def forward(self, x, axis=None, keepdims=False, ddof=0):
        self.ddof = ddof
        return np.var(x, axis=self.setup(x, axis, keepdims), keepdims=keepdims, ddof=ddof)

    def backward(self, g, out, x):
        centred = x - x.mean(axis=self.axes, keepdims=True)
        dof = self.count(x) - self.ddof
        # No degrees of freedom left: forward gave NumPy's nan, and so does the gradient.
        scale = 2.0 / dof if dof > 0 else float("nan")
        return (self.restore(g) * centred * scale,)


class LogSumExp(_Reduction):
    __slots__ = ()
    name = "logsumexp"
    float_result = True

    def forward(self, x, axis=None, keepdims=False):
        axes = self.setup(x, axis, keepdims)
        # The log of an empty sum is -inf (as in PyTorch); np.max refuses empty axes.
        top = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
        top = np.where(np.isfinite(top), top, 0)  # all -inf rows stay -inf, not nan
        with np.errstate(divide="ignore"):  # log(0) = -inf is the answer for those rows
            out = np.log(np.sum(np.exp(x - top), axis=axes, keepdims=True)) + top
        return out if keepdims else out.reshape(np.delete(x.shape, axes).astype(int))

    def backward(self, g, out, x):
        return (self.restore(g) * exp(x - self.restore(out)),)


class Softmax(Function):
    __slots__ = ("axis",)
    name = "softmax"
    float_result = True

    def forward(self, x, axis=-1):
        self.axis = axis
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    def backward(self, g, out, x):
        return (out * (g - (g * out).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    __slots__ = ("axis",)
    name = "log_softmax"
    float_result = True

    def forward(self, x, axis=-1):
        self.axis = axis
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def backward(self, g, out, x):
        return (g - exp(out) * g.sum(axis=self.axis, keepdims=True),)


def _reduced(losses: np.ndarray, reduction: str) -> np.ndarray:
    """A fused loss's per-element ``losses`` reduced: "none", "sum" or "mean"."""
    if reduction == "none":
        return losses
    total = np.add.reduce(losses, axis=None)
    if reduction == "sum":
        return total
    # The mean of nothing is NaN, as in PyTorch (and NumPy, without its warning), not 0.
    return total / losses.size if losses.size else np.full((), np.nan, losses.dtype)


# Up to this many classes, cross-entropy works on column-major logits (see its forward).
_FEW_CLASSES = 64


def _rows(classes: np.ndarray) -> tuple:
    """The row part of a fancy index that picks one class per row (none for 1-D logits)."""
    return (np.arange(classes.shape[0]),) if classes.ndim else ()


class CrossEntropy(Function):
    """Softmax and cross-entropy fused into one numerically stable node.

    ``logits`` (N, C) or (C,); the target is either class indices (the ``classes`` param:
    ints of shape (N,) or ()) or a second input of probabilities with the logits' shape.
    ``reduction``: "mean" (over N), "sum" or "none".
    """

    __slots__ = ("probs", "reduction", "classes")
    name = "cross_entropy"
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
        if logits.ndim == 2 and logits.shape[1] <= _FEW_CLASSES:
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

    __slots__ = ("reduction", "diff")
    name = "mse_loss"
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

    __slots__ = ("reduction", "count")
    name = "binary_cross_entropy"
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


# ---------------------------------------------------------------------------------------------
# Shape operations


class Reshape(Function):
    __slots__ = ()
    name = "reshape"

    def forward(self, x, shape=()):
        return x.reshape(shape)

    def backward(self, g, out, x):
        return (g.reshape(x.shape),)

    def explain(self, x, shape=()):
        return (
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
            f"into {shape}"
        )


class Transpose(Function):
    __slots__ = ("axes",)
    name = "transpose"

    def forward(self, x, axes=()):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g, out, x):
        return (g.transpose(tuple(np.argsort(self.axes))),)


class Expand(Function):
    """Broadcast to a larger shape (the backward of a sum)."""

    __slots__ = ()
    name = "expand"

    def forward(self, x, shape=()):
        return np.broadcast_to(x, shape)

    def backward(self, g, out, x):
        return (g,)  # the engine sums it back to x's shape


def _plain_index(index: Any) -> Any:
    """Tensors and lists in an index become arrays; remembers nothing else."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_advanced(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype != bool for p in parts)


class GetItem(Function):
    """``x[index]``: ints, slices, None, ..., integer arrays and boolean masks."""

    __slots__ = ("index",)
    name = "getitem"

    def forward(self, x, index=None):
        self.index = _plain_index(index)
        return np.asarray(x[self.index])

    def backward(self, g, out, x):
        return (scatter_add(g, index=self.index, shape=x.shape),)

    def explain(self, x, index=None):
        return f"getitem: index {index!r} does not fit a tensor of shape {x.shape}"


class ScatterAdd(Function):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""

    __slots__ = ("index",)
    name = "scatter_add"

    def forward(self, g, index=None, shape=()):
        self.index = index
        full = np.zeros(shape, dtype=g.dtype)
        if _is_advanced(index):
            np.add.at(full, index, g)
        else:
            full[index] = g
        return full

    def backward(self, g, out, src):
        return (g[self.index],)


class Concatenate(Function):
    __slots__ = ("axis",)
    name = "cat"

    def forward(self, *xs, axis=0):
        self.axis = axis
        return np.concatenate(xs, axis=axis)

    def backward(self, g, out, *xs):
        axis = self.axis % g.ndim
        grads, start = [], 0
        for x in xs:
            stop = start + x.shape[axis]
            grads.append(g[(slice(None),) * axis + (slice(start, stop),)])
            start = stop
        return grads

    def explain(self, *xs, axis=0):
        return f"cat: shapes {[x.shape for x in xs]} cannot be joined along axis {axis}"


class Stack(Function):
    __slots__ = ("axis",)
    name = "stack"

    def forward(self, *xs, axis=0):
        self.axis = axis
        return np.stack(xs, axis=axis)

    def backward(self, g, out, *xs):
        axis = self.axis % g.ndim
        return [g[(slice(None),) * axis + (i,)] for i in range(len(xs))]

    def explain(self, *xs, axis=0):
        return f"stack: shapes {[x.shape for x in xs]} must all be equal to stack along {axis}"


# The dual helpers used inside rules (see the module docstring).
exp = dual(Exp)
log = dual(Log)
sin = dual(Sin)
cos = dual(Cos)
sigmoid = dual(Sigmoid)
log_softmax = dual(LogSoftmax)
expand = dual(Expand)
scatter_add = dual(ScatterAdd)


def where(cond: Any, a: Any, b: Any) -> Any:
    """Dual ``where`` for rules: arrays give arrays, Tensors record a Where node."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return Where.apply(a, b, cond=value(cond))
    return np.where(cond, a, b)


# ---------------------------------------------------------------------------------------------
# Helpers behind Tensor methods and the public functions


def compare(ufunc: np.ufunc, a: Tensor, b: Any) -> Tensor:
    """A comparison: a bool Tensor outside the graph."""
    b_ = b._data if isinstance(b, Tensor) else b
    try:
        return Tensor._make(np.asarray(ufunc(a._data, b_)), False, None)
    except ValueError:
        raise ShapeError(
            f"{ufunc.__name__}: shapes {a.shape} and {np.shape(b_)} cannot be broadcast together"
        ) from None


def reshape(x: Tensor, *shape: Any) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape):
        raise ShapeError(f"reshape: the new shape must be integers, got {shape}")
    return Reshape.apply(x, shape=tuple(int(n) for n in shape))


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = _axes(start_dim, x.ndim, "flatten")[0], _axes(end_dim, x.ndim, "flatten")[0]
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = (*x.shape[:start], -1, *x.shape[end + 1 :])
    return reshape(x, shape)


def transpose(x: Tensor, *axes: Any) -> Tensor:
    """All axes (a permutation, as NumPy), two axes to swap (as PyTorch), or none (reverse)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        perm = tuple(reversed(range(x.ndim)))
    elif len(axes) == 2:  # PyTorch's transpose(dim0, dim1) swaps two axes
        i, j = (_axes(a, x.ndim, "transpose")[0] for a in axes)
        perm_list = list(range(x.ndim))
        perm_list[i], perm_list[j] = perm_list[j], perm_list[i]
        perm = tuple(perm_list)
    else:
        perm = tuple(a % x.ndim if x.ndim and -x.ndim <= a < x.ndim else a for a in axes)
        if sorted(perm) != list(range(x.ndim)):
            raise ShapeError(
                f"transpose: axes {axes} are not a permutation of a tensor with {x.ndim} dims"
            )
    return Transpose.apply(x, axes=perm)


def squeeze(x: Tensor, axis: int | Sequence[int] | None = None) -> Tensor:
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        # Like PyTorch, an axis whose size is not 1 is left alone.
        axes = tuple(a for a in _axes(axis, x.ndim, "squeeze") if x.ndim and x.shape[a] == 1)
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    ndim = x.ndim + 1
    if not -ndim <= axis < ndim:
        raise ShapeError(f"unsqueeze: axis {axis} is out of range for a result with {ndim} dims")
    shape = list(x.shape)
    shape.insert(axis % ndim, 1)
    return reshape(x, tuple(shape))


# ---------------------------------------------------------------------------------------------
# What each rule reads of the values (``Function.reads``; the default is all of them). A value
# a rule reads that is changed in place after the node was made makes backward raise, as
# PyTorch's version counter does; a value it does not read may change freely.

for _op in (Add, Sub, Neg, Sum, Mean, Where, Cast, Reshape, Transpose, Expand, GetItem,
            ScatterAdd, Concatenate, Stack):
    _op.reads = ()  # shapes and dtypes only
for _op in (Exp, Sqrt, Tanh, Sigmoid, Softmax, LogSoftmax):
    _op.reads = ("output",)
for _op in (Mul, MatMul, Linear):
    _op.reads = ("others",)  # the product rule: each input only for the other's gradient
for _op in (Abs, Log, Sin, Cos, ReLU, LeakyReLU, Softplus, Clip, Var, Maximum, Minimum,
            CrossEntropy, MeanSquaredError, BinaryCrossEntropy):
    _op.reads = ("inputs",)
del _op
