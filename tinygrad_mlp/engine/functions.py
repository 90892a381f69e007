"""The operations as functions (``tg.exp(x)``, ``tg.cat([a, b])``, ...).

Each accepts Tensors, arrays or numbers and returns a Tensor; the work is done by the
operation classes in ``ops``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from .keywords import FIRST_AXIS, LAST_AXIS, NO_AXIS, NO_CORRECTION, NO_DDOF, NO_KEEPDIMS
from .ops import as_tensor
from .tensor import Tensor

__all__ = ["as_tensor"]  # and every function below

Axis = int | Sequence[int] | None


def exp(x: Any) -> Tensor:
    """e to the x. ``tg.exp(tg.tensor(0.0)).item() == 1.0``"""
    return ops.Exp.apply(x)


def expm1(x: Any) -> Tensor:
    """e^x - 1, accurate for tiny x.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> tg.expm1(tg.tensor(np.float64(1e-10))).item()
    1.00000000005e-10
    """
    return ops.Expm1.apply(x)


def log(x: Any) -> Tensor:
    """Natural logarithm. ``tg.log(tg.tensor(1.0)).item() == 0.0``"""
    return ops.Log.apply(x)


def log1p(x: Any) -> Tensor:
    """log(1 + x), accurate for tiny x.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> tg.log1p(tg.tensor(np.float64(1e-10))).item() / 1e-10  # log(1 + x) would give 1.00000008
    0.99999999995
    """
    return ops.Log1p.apply(x)


def sqrt(x: Any) -> Tensor:
    """Square root. ``tg.sqrt(tg.tensor(4.0)).item() == 2.0``"""
    return ops.Sqrt.apply(x)


def square(x: Any) -> Tensor:
    """x * x.

    >>> import tinygrad_mlp as tg
    >>> tg.square(tg.tensor([-3.0, 2.0])).tolist()
    [9.0, 4.0]
    """
    return ops.Square.apply(x)


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


def erf(x: Any) -> Tensor:
    """The error function, to float64 round-off (NumPy has none; GELU needs it).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> round(tg.erf(tg.tensor(np.float64(1.0))).item(), 15)
    0.842700792949715
    """
    return ops.Erf.apply(x)


def relu(x: Any) -> Tensor:
    """max(x, 0). ``tg.relu(tg.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]``"""
    return ops.ReLU.apply(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x. ``tg.leaky_relu(tg.tensor(-1.0), 0.1).item()``"""
    return ops.leaky_relu(x, negative_slope)


def softplus(x: Any) -> Tensor:
    """log(1 + e^x), stable for large x. ``tg.softplus(tg.tensor(0.0))`` is log 2."""
    return ops.Softplus.apply(x)


def abs(x: Any) -> Tensor:
    """|x|. ``tg.abs(tg.tensor(-2.0)).item() == 2.0``"""
    return ops.Abs.apply(x)


def sign(x: Any) -> Tensor:
    """-1, 0 or 1, differentiable with gradient 0 (as in PyTorch).

    >>> import tinygrad_mlp as tg
    >>> tg.sign(tg.tensor([-2.0, 0.0, 3.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    return ops.Sign.apply(x)


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN and infinities replaced by numbers; the gradient passes where x was finite.

    >>> import tinygrad_mlp as tg
    >>> tg.nan_to_num(tg.tensor([float("nan"), 1.0])).tolist()
    [0.0, 1.0]
    """
    return as_tensor(x).nan_to_num(nan, posinf, neginf)


def clone(x: Any) -> Tensor:
    """A copy that stays in the graph. ``tg.clone(tg.ones(2)).tolist() == [1.0, 1.0]``"""
    return as_tensor(x).clone()


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:
    """x limited to [min, max]; the bounds may be Tensors (which get gradients) and broadcast.

    >>> import tinygrad_mlp as tg
    >>> tg.clip(tg.tensor([-2.0, 2.0]), -1, 1).tolist()
    [-1.0, 1.0]
    """
    return ops.clip(x, min, max)


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


# The reductions take NumPy's axis=/keepdims= or PyTorch's dim=/keepdim= (not both).


def sum(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *, dim: Axis = NO_AXIS,
        keepdim: bool = NO_KEEPDIMS) -> Tensor:
    """Sum over ``axis``. ``tg.sum(tg.ones(2, 3), axis=1).tolist() == [3.0, 3.0]``"""
    return as_tensor(x).sum(axis, keepdims, dim=dim, keepdim=keepdim)


def mean(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *, dim: Axis = NO_AXIS,
         keepdim: bool = NO_KEEPDIMS) -> Tensor:
    """Mean over ``axis``. ``tg.mean(tg.tensor([1.0, 3.0])).item() == 2.0``"""
    return as_tensor(x).mean(axis, keepdims, dim=dim, keepdim=keepdim)


def prod(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *, dim: Axis = NO_AXIS,
         keepdim: bool = NO_KEEPDIMS) -> Tensor:
    """Product over ``axis`` (exact gradients with zeros too).

    >>> import tinygrad_mlp as tg
    >>> tg.prod(tg.tensor([2.0, 3.0, 4.0])).item()
    24.0
    """
    return as_tensor(x).prod(axis, keepdims, dim=dim, keepdim=keepdim)


def max(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *, dim: Axis = NO_AXIS,
        keepdim: bool = NO_KEEPDIMS) -> Any:
    """Maximum over ``axis``; with ``dim=`` an int, ``(values, indices)`` as ``torch.max``.

    >>> import tinygrad_mlp as tg
    >>> tg.max(tg.tensor([1.0, 3.0])).item(), tg.max(tg.tensor([[1.0, 3.0]]), dim=1).indices
    (3.0, tensor([1]))
    """
    return as_tensor(x).max(axis, keepdims, dim=dim, keepdim=keepdim)


def min(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *, dim: Axis = NO_AXIS,
        keepdim: bool = NO_KEEPDIMS) -> Any:
    """Minimum over ``axis``; with ``dim=`` an int, ``(values, indices)`` as ``torch.min``."""
    return as_tensor(x).min(axis, keepdims, dim=dim, keepdim=keepdim)


def amax(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *, dim: Axis = NO_AXIS,
         keepdim: bool = NO_KEEPDIMS) -> Tensor:
    """Maximum values over one or several axes. ``tg.amax(tg.eye(2), dim=(0, 1)).item()``"""
    return as_tensor(x).amax(axis, keepdims, dim=dim, keepdim=keepdim)


def amin(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *, dim: Axis = NO_AXIS,
         keepdim: bool = NO_KEEPDIMS) -> Tensor:
    """Minimum values over one or several axes. ``tg.amin(tg.eye(2), dim=(0, 1)).item()``"""
    return as_tensor(x).amin(axis, keepdims, dim=dim, keepdim=keepdim)


def var(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, ddof: float = NO_DDOF, *,
        dim: Axis = NO_AXIS, keepdim: bool = NO_KEEPDIMS,
        correction: float | None = NO_CORRECTION) -> Tensor:
    """Variance over ``axis`` (ddof 0 unless given; PyTorch's correction 1 with ``dim=``).

    >>> import tinygrad_mlp as tg
    >>> tg.var(tg.tensor([1.0, 3.0])).item(), tg.var(tg.tensor([1.0, 3.0]), dim=0).item()
    (1.0, 2.0)
    """
    return as_tensor(x).var(axis, keepdims, ddof, dim=dim, keepdim=keepdim, correction=correction)


def std(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, ddof: float = NO_DDOF, *,
        dim: Axis = NO_AXIS, keepdim: bool = NO_KEEPDIMS,
        correction: float | None = NO_CORRECTION) -> Tensor:
    """Standard deviation: the square root of ``var`` with the same arguments.

    >>> import tinygrad_mlp as tg
    >>> tg.std(tg.tensor([1.0, 3.0])).item()
    1.0
    """
    return as_tensor(x).std(axis, keepdims, ddof, dim=dim, keepdim=keepdim, correction=correction)


def norm(x: Any, p: Any = 2, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *,
         dim: Axis = NO_AXIS, keepdim: bool = NO_KEEPDIMS) -> Tensor:
    """The vector p-norm over ``axis`` (all elements when None), as ``torch.norm``.

    >>> import tinygrad_mlp as tg
    >>> tg.norm(tg.tensor([3.0, 4.0])).item(), tg.norm(tg.tensor([3.0, -4.0]), p=1).item()
    (5.0, 7.0)
    """
    return as_tensor(x).norm(p, axis, keepdims, dim=dim, keepdim=keepdim)


def logsumexp(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *,
              dim: Axis = NO_AXIS, keepdim: bool = NO_KEEPDIMS) -> Tensor:
    """log(sum(exp(x))) without overflow. ``tg.logsumexp(tg.tensor([1000.0, 1000.0]))``"""
    return as_tensor(x).logsumexp(axis, keepdims, dim=dim, keepdim=keepdim)


def softmax(x: Any, axis: int = LAST_AXIS, *, dim: int = LAST_AXIS) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis`` (or ``dim``), stable for large x.

    >>> import tinygrad_mlp as tg
    >>> tg.softmax(tg.tensor([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    return as_tensor(x).softmax(axis, dim=dim)


def log_softmax(x: Any, axis: int = LAST_AXIS, *, dim: int = LAST_AXIS) -> Tensor:
    """log(softmax(x)) along ``axis`` (or ``dim``), stable. ``tg.log_softmax(tg.zeros(2))``"""
    return as_tensor(x).log_softmax(axis, dim=dim)


def reshape(x: Any, *shape: Any) -> Tensor:
    """``x`` with a new shape. ``tg.reshape(tg.zeros(6), 2, 3).shape == (2, 3)``"""
    return as_tensor(x).reshape(*shape)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Axes ``start_dim``..``end_dim`` merged into one. ``tg.flatten(tg.zeros(2, 3)).shape``"""
    return as_tensor(x).flatten(start_dim, end_dim)


def transpose(x: Any, *axes: Any) -> Tensor:
    """Two axes swapped (two given, as PyTorch), a permutation (one tuple, as NumPy), or all
    reversed (none given). ``tg.transpose(tg.zeros(2, 3), 0, 1).shape == (3, 2)``"""
    return as_tensor(x).transpose(*axes)


def permute(x: Any, *dims: Any) -> Tensor:
    """The axes in the order given. ``tg.permute(tg.zeros(2, 3, 4), 2, 0, 1).shape``"""
    return as_tensor(x).permute(*dims)


def squeeze(x: Any, axis: Axis = NO_AXIS, *, dim: Axis = NO_AXIS) -> Tensor:
    """Size-1 axes removed. ``tg.squeeze(tg.zeros(2, 1)).shape == (2,)``"""
    return as_tensor(x).squeeze(axis, dim=dim)


def unsqueeze(x: Any, axis: int = NO_AXIS, *, dim: int = NO_AXIS) -> Tensor:
    """A size-1 axis inserted. ``tg.unsqueeze(tg.zeros(2), 0).shape == (1, 2)``"""
    return as_tensor(x).unsqueeze(axis, dim=dim)


def broadcast_to(x: Any, shape: Any) -> Tensor:
    """``x`` repeated (without copying) to ``shape``.

    >>> import tinygrad_mlp as tg
    >>> tg.broadcast_to(tg.ones(3), (2, 3)).shape
    (2, 3)
    """
    return as_tensor(x).broadcast_to(shape)


def cat(tensors: Sequence[Any], axis: int | None = FIRST_AXIS, *,
        dim: int = FIRST_AXIS) -> Tensor:
    """Join tensors along an existing axis (or, with ``axis=None``, their flattened values).

    >>> import tinygrad_mlp as tg
    >>> tg.cat([tg.zeros(2), tg.ones(3)]).shape, tg.cat([tg.zeros((2, 2))] * 2, axis=None).shape
    ((5,), (8,))
    """
    return ops.cat(tensors, ops.joined_axis("cat", axis, dim))


def stack(tensors: Sequence[Any], axis: int = FIRST_AXIS, *, dim: int = FIRST_AXIS) -> Tensor:
    """Join equally shaped tensors along a new axis.

    >>> import tinygrad_mlp as tg
    >>> tg.stack([tg.zeros(2), tg.ones(2)]).shape
    (2, 2)
    """
    return ops.stack(tensors, ops.joined_axis("stack", axis, dim))


def argmax(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *, dim: Axis = NO_AXIS,
           keepdim: bool = NO_KEEPDIMS) -> Tensor:
    """Index of the largest value (not differentiable). ``tg.argmax(tg.tensor([1, 3])).item()``"""
    return as_tensor(x).argmax(axis, keepdims, dim=dim, keepdim=keepdim)


def argmin(x: Any, axis: Axis = NO_AXIS, keepdims: bool = NO_KEEPDIMS, *, dim: Axis = NO_AXIS,
           keepdim: bool = NO_KEEPDIMS) -> Tensor:
    """Index of the smallest value (not differentiable). ``tg.argmin(tg.tensor([1, 3])).item()``"""
    return as_tensor(x).argmin(axis, keepdims, dim=dim, keepdim=keepdim)
