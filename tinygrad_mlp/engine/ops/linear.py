"""Products of matrices: ``a @ b`` like ``np.matmul``, and ``Linear``, the layer every MLP is
made of, as one node.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .elementwise import Mul
from .rules import ArgumentTypeError, value


class MatMul(Function):
    """``a @ b`` for 1-D, 2-D and batched operands, like ``np.matmul``."""

    __slots__ = ()
    name = "matmul"
    reads = ("others",)  # the product rule: each input only for the other's gradient

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
def ones_row(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones(n, dtype)
    ones.flags.writeable = False  # shared between calls
    return ones


def column_sums(g: Any) -> Any:
    """``g.sum(axis=0)`` of a 2-D gradient. On arrays it is a product with a row of ones, which
    BLAS does 2-3x faster than NumPy's reduction (the bias gradient of every Linear layer)."""
    if type(g) is not np.ndarray:
        return g.sum(axis=0)
    return ones_row(g.shape[0], g.dtype) @ g


class Linear(Function):
    """``x @ weight.T + bias`` as one node: the layer every MLP is made of."""

    __slots__ = ()
    name = "linear"
    reads = ("others",)  # the product rule: each input only for the other's gradient

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
        gb = column_sums(g) if bias is not None and need[2] else None
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


def dot(a: Any, b: Any) -> Tensor:
    """NumPy's ``dot``: a product with a scalar, else a sum over the last axis of ``a`` and
    the first of a vector or matrix ``b`` (what ``matmul`` does for those)."""
    a_dims, b_dims = np.ndim(value(a)), np.ndim(value(b))
    if a_dims == 0 or b_dims == 0:
        return Mul.apply(a, b)
    if b_dims > 2:
        raise ArgumentTypeError(
            f"dot on Tensors takes a second operand with at most 2 dims, got {b_dims}; "
            "np.matmul (which broadcasts batches instead) or a reshape does that"
        )
    return MatMul.apply(a, b)
