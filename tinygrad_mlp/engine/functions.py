"""The operations as functions (``tg.exp(x)``, ``tg.cat([a, b])``, ...).

Each accepts Tensors, arrays or numbers and returns a Tensor; the work is done by the
operation classes in ``ops.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from .tensor import Tensor

Axis = int | Sequence[int] | None


def as_tensor(x: Any) -> Tensor:
    """``x`` itself when it is a Tensor, else a new constant Tensor made from it.

    >>> import tinygrad_mlp as tg
    >>> tg.as_tensor([1.0]).dtype
    dtype('float32')
    """
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x: Any) -> Tensor:
    """e to the x. ``tg.exp(tg.tensor(0.0)).item() == 1.0``"""
    return ops.Exp.apply(x)


def log(x: Any) -> Tensor:
    """Natural logarithm. ``tg.log(tg.tensor(1.0)).item() == 0.0``"""
    return ops.Log.apply(x)


def sqrt(x: Any) -> Tensor:
    """Square root. ``tg.sqrt(tg.tensor(4.0)).item() == 2.0``"""
    return ops.Sqrt.apply(x)


def sin(x: Any) -> Tensor:
    """Sine. ``tg.sin(tg.tensor(0.0)).item() == 0.0``"""
    return ops.Sin.apply(x)


def cos(x: Any) -> Tensor:
    """Cosine. ``tg.cos(tg.tensor(0.0)).item() == 1.0``"""
    return ops.Cos.apply(x)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent. ``tg.tanh(tg.tensor(0.0)).item() == 0.0``"""
    return ops.Tanh.apply(x)


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x), without overflow for large |x|.

    ``tg.sigmoid(tg.tensor(0.0)).item() == 0.5``
    """
    return ops.Sigmoid.apply(x)


def relu(x: Any) -> Tensor:
    """max(x, 0). ``tg.relu(tg.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]``"""
    return ops.ReLU.apply(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x. ``tg.leaky_relu(tg.tensor(-1.0), 0.1).item()``"""
    return ops.LeakyReLU.apply(x, negative_slope=negative_slope)


def softplus(x: Any) -> Tensor:
    """log(1 + e^x), stable for large x. ``tg.softplus(tg.tensor(0.0))`` is log 2."""
    return ops.Softplus.apply(x)


def abs(x: Any) -> Tensor:
    """|x|. ``tg.abs(tg.tensor(-2.0)).item() == 2.0``"""
    return ops.Abs.apply(x)


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:
    """x limited to [min, max]. ``tg.clip(tg.tensor([-2.0, 2.0]), -1, 1).tolist() == [-1, 1]``"""
    return ops.Clip.apply(x, low=min, high=max)


clamp = clip


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum (ties share the gradient). ``tg.maximum(tg.tensor(1.0), 2.0)``"""
    return ops.Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum (ties share the gradient). ``tg.minimum(tg.tensor(1.0), 2.0)``"""
    return ops.Minimum.apply(a, b)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b``; differentiable in ``a`` and ``b``.

    >>> import tinygrad_mlp as tg
    >>> x = tg.tensor([-1.0, 2.0])
    >>> tg.where(x > 0, x, 0.0).tolist()
    [0.0, 2.0]
    """
    cond_ = cond._data if isinstance(cond, Tensor) else np.asarray(cond)
    if cond_.dtype != bool:
        raise TypeError(f"where: the condition must be boolean, got dtype {cond_.dtype}")
    return ops.Where.apply(a, b, cond=cond_)


def matmul(a: Any, b: Any) -> Tensor:
    """``a @ b``. ``tg.matmul(tg.ones(2, 3), tg.ones(3)).tolist() == [3.0, 3.0]``"""
    return ops.MatMul.apply(a, b)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias`` as one node (PyTorch's layout: weight is (out, in)).

    >>> import tinygrad_mlp as tg
    >>> tg.linear(tg.ones(4, 3), tg.ones(2, 3), tg.zeros(2)).shape
    (4, 2)
    """
    if bias is None:
        return ops.Linear.apply(x, weight)
    return ops.Linear.apply(x, weight, bias)


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis``. ``tg.sum(tg.ones(2, 3), axis=1).tolist() == [3.0, 3.0]``"""
    return as_tensor(x).sum(axis, keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``. ``tg.mean(tg.tensor([1.0, 3.0])).item() == 2.0``"""
    return as_tensor(x).mean(axis, keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``. ``tg.max(tg.tensor([1.0, 3.0])).item() == 3.0``"""
    return as_tensor(x).max(axis, keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``. ``tg.min(tg.tensor([1.0, 3.0])).item() == 1.0``"""
    return as_tensor(x).min(axis, keepdims)


def var(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis``. ``tg.var(tg.tensor([1.0, 3.0])).item() == 1.0``"""
    return as_tensor(x).var(axis, keepdims, ddof)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) without overflow. ``tg.logsumexp(tg.tensor([1000.0, 1000.0]))``"""
    return as_tensor(x).logsumexp(axis, keepdims)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, stable for large x.

    >>> import tinygrad_mlp as tg
    >>> tg.softmax(tg.tensor([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    return ops.Softmax.apply(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """log(softmax(x)) along ``axis``, stable for large x. ``tg.log_softmax(tg.zeros(2))``"""
    return ops.LogSoftmax.apply(x, axis=axis)


def reshape(x: Any, *shape: Any) -> Tensor:
    """``x`` with a new shape. ``tg.reshape(tg.zeros(6), 2, 3).shape == (2, 3)``"""
    return as_tensor(x).reshape(*shape)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Axes ``start_dim``..``end_dim`` merged into one. ``tg.flatten(tg.zeros(2, 3)).shape``"""
    return as_tensor(x).flatten(start_dim, end_dim)


def transpose(x: Any, *axes: Any) -> Tensor:
    """Axes permuted (all given), two swapped (two given), or reversed (none given)."""
    return as_tensor(x).transpose(*axes)


def squeeze(x: Any, axis: Axis = None) -> Tensor:
    """Size-1 axes removed. ``tg.squeeze(tg.zeros(2, 1)).shape == (2,)``"""
    return as_tensor(x).squeeze(axis)


def unsqueeze(x: Any, axis: int) -> Tensor:
    """A size-1 axis inserted. ``tg.unsqueeze(tg.zeros(2), 0).shape == (1, 2)``"""
    return as_tensor(x).unsqueeze(axis)


def cat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis.

    >>> import tinygrad_mlp as tg
    >>> tg.cat([tg.zeros(2), tg.ones(3)]).shape
    (5,)
    """
    if len(tensors) == 0:
        raise ValueError("cat: expected a non-empty list of tensors")
    return ops.Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join equally shaped tensors along a new axis.

    >>> import tinygrad_mlp as tg
    >>> tg.stack([tg.zeros(2), tg.ones(2)]).shape
    (2, 2)
    """
    if len(tensors) == 0:
        raise ValueError("stack: expected a non-empty list of tensors")
    return ops.Stack.apply(*tensors, axis=axis)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (not differentiable). ``tg.argmax(tg.tensor([1, 3])).item()``"""
    return as_tensor(x).argmax(axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value (not differentiable). ``tg.argmin(tg.tensor([1, 3])).item()``"""
    return as_tensor(x).argmin(axis, keepdims)
