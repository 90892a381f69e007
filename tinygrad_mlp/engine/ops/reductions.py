"""Reductions over one axis, several or all: sums, means, extremes, spreads, products, norms,
``logsumexp`` and the softmaxes; and ``max(dim=)``'s values with indices, as PyTorch's.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import keywords
from ..autograd import Function, ShapeError
from ..tensor import Tensor
from .elementwise import exp, where
from .rules import (
    ArgumentTypeError,
    dual,
    is_int,
    keepdims_shape,
    number,
    one_axis,
    reduced_axes,
    value,
    zeros_like,
)
from .shape import GetItem, expand


class _Reduction(Function):
    """Reduce over ``axis`` (int, tuple or None); remembers how to put the axes back."""

    __slots__ = ("axes", "kd_shape", "keepdims")

    def setup(self, x: np.ndarray, axis: Any, keepdims: bool) -> tuple[int, ...]:
        self.axes = reduced_axes(axis, x.ndim, self.name)
        self.kd_shape = keepdims_shape(x.shape, self.axes)
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
    reads = ()  # shapes and dtypes only

    def forward(self, x, axis=None, keepdims=False):
        return np.sum(x, axis=self.setup(x, axis, keepdims), keepdims=keepdims)

    def backward(self, g, out, x):
        return (expand(self.restore(g), shape=x.shape),)


class Mean(_Reduction):
    __slots__ = ()
    name = "mean"
    reads = ()  # shapes and dtypes only
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
    reads = ("inputs",)
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


class Std(Var):
    """The square root of ``var``; where it is 0 the gradient is 0, as in PyTorch."""

    __slots__ = ()
    name = "std"
    reads = ("inputs", "output")

    def forward(self, x, axis=None, keepdims=False, ddof=0):
        return np.sqrt(super().forward(x, axis, keepdims, ddof))

    def backward(self, g, out, x):
        zero = value(out) == 0
        if zero.any():
            g = where(zero, 0.0, g * (0.5 / where(zero, 1.0, out)))
        else:
            g = g * (0.5 / out)
        return super().backward(g, out, x)


class Prod(_Reduction):
    __slots__ = ()
    name = "prod"

    def forward(self, x, axis=None, keepdims=False):
        return np.prod(x, axis=self.setup(x, axis, keepdims), keepdims=keepdims)

    def backward(self, g, out, x):
        if (value(x) != 0).all():  # each element's share: the product over it
            return (self.restore(g) * (self.restore(out) / x),)
        return (self.restore(g) * _product_of_the_others(x, self.axes),)


def _product_of_the_others(x: Any, axes: tuple[int, ...]) -> Any:
    """For each element, the product of the other elements it was reduced with (exact with
    zeros, where ``out / x`` is 0/0)."""
    if not axes or value(x).size == 0:
        return zeros_like(x) + 1
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = x.transpose((*kept, *axes))  # the reduced axes last, flattened into one
    flat = moved.reshape(*moved.shape[: len(kept)], -1)
    if isinstance(flat, Tensor):  # recorded: each row with its own element set to 1
        n = flat.shape[-1]
        others = where(np.eye(n, dtype=bool), 1.0, flat[..., None, :]).prod(axis=-1)
    else:  # products of everything before and everything after each element
        ones = np.ones((*flat.shape[:-1], 1), flat.dtype)
        before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)
        others = before * after[..., ::-1]
    return others.reshape(moved.shape).transpose(tuple(np.argsort((*kept, *axes))))


class Norm(_Reduction):
    """The vector p-norm over ``axis`` (all elements for None), with PyTorch's gradients:
    0 where the norm is 0, and ties of the inf-norm share the gradient."""

    __slots__ = ("p",)
    name = "norm"
    float_result = True

    def forward(self, x, p=2.0, axis=None, keepdims=False):
        axes, self.p = self.setup(x, axis, keepdims), p
        if p == 2:
            return np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdims))
        size = np.abs(x)
        if p == np.inf:
            return np.max(size, axis=axes, keepdims=keepdims, initial=0)
        if p == -np.inf:
            return np.min(size, axis=axes, keepdims=keepdims, initial=np.inf)
        if p == 0:
            return np.sum(x != 0, axis=axes, keepdims=keepdims).astype(x.dtype)
        if p == 1:
            return np.sum(size, axis=axes, keepdims=keepdims)
        return np.sum(size**p, axis=axes, keepdims=keepdims) ** (1 / p)

    def backward(self, g, out, x):
        g, out, p = self.restore(g), self.restore(out), self.p
        x_, norm = value(x), value(out)
        direction = np.sign(x_)
        if p == 0:
            return (zeros_like(x),)
        if p == 1:
            return (g * direction,)
        if p in (np.inf, -np.inf):
            hit = np.abs(x_) == norm
            return (g * (direction * hit / hit.sum(axis=self.axes, keepdims=True)),)
        zero = norm == 0
        if p == 2:
            return (x * where(zero, 0.0, g / where(zero, 1.0, out)),)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** (p - 1) for p < 1
            powered = where(x_ == 0, 0.0, direction * abs(x) ** (p - 1))
        return (powered * where(zero, 0.0, g / where(zero, 1.0, out) ** (p - 1)),)


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
    reads = ("output",)
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
    reads = ("output",)
    float_result = True

    def forward(self, x, axis=-1):
        self.axis = axis
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def backward(self, g, out, x):
        return (g - exp(out) * g.sum(axis=self.axis, keepdims=True),)


# The dual helper used inside rules (see ``rules``).
log_softmax = dual(LogSoftmax)


# ---------------------------------------------------------------------------------------------
# Behind the methods and functions


class MaxAlong(GetItem):
    """``torch.max(x, dim)``'s values: the gradient goes to the element picked, not shared."""

    __slots__ = ()
    name = "max"


class MinAlong(GetItem):
    __slots__ = ()
    name = "min"


class ValuesIndices(NamedTuple):
    """What ``t.max(dim=d)`` and ``t.min(dim=d)`` return, as ``torch.max``: the values and
    where they are along ``d``."""

    values: Tensor
    indices: Tensor


def extreme(x: Tensor, name: str, axis: Any, keepdims: Any, dim: Any, keepdim: Any) -> Any:
    """``max``/``min`` (``name``): NumPy's values over ``axis``, or with an int ``dim=``
    PyTorch's ``(values, indices)``."""
    axis, keepdims = keywords.reduction(name, axis, keepdims, dim, keepdim)
    if keywords.given(dim) and dim is not None:
        return extreme_along(x, dim, keepdims, name)
    return (Max if name == "max" else Min).apply(x, axis=axis, keepdims=keepdims)


def extreme_along(x: Tensor, dim: Any, keepdim: bool, name: str) -> ValuesIndices:
    """The max or min (``name``) along one axis, with its indices (PyTorch's ``max(dim=)``)."""
    if not is_int(dim):
        raise ArgumentTypeError(
            f"{name}: dim must be an int to get (values, indices), got {dim!r}; amax/amin "
            "reduce over several axes"
        )
    axis = one_axis(dim, x.ndim, name, "dim")
    data = x._data.reshape(1) if x.ndim == 0 else x._data
    if data.shape[axis] == 0:
        raise ShapeError(f"{name}: cannot reduce over the empty dim {dim} (shape {x.shape})")
    found = (np.argmax if name == "max" else np.argmin)(data, axis=axis, keepdims=keepdim)
    index: tuple = ()
    if x.ndim:  # integer arrays on every axis: the result has found's shape
        out_ndim = found.ndim
        index = tuple(
            found if i == axis else np.arange(n).reshape(
                [n if k == (i if keepdim or i < axis else i - 1) else 1 for k in range(out_ndim)]
            )
            for i, n in enumerate(data.shape)
        )
    op = MaxAlong if name == "max" else MinAlong
    indices = found.reshape(()) if x.ndim == 0 else found
    return ValuesIndices(op.apply(x, index=index), Tensor._make(indices, False, None))


def reduce(op: type[Function], x: Any, axis: Any, keepdims: Any, dim: Any, keepdim: Any,
           name: str | None = None, **params: Any) -> Tensor:
    """A reduction, its axes given as NumPy's axis=/keepdims= or PyTorch's dim=/keepdim=."""
    axis, keepdims = keywords.reduction(name or op.name, axis, keepdims, dim, keepdim)
    return op.apply(x, axis=axis, keepdims=keepdims, **params)


def arg_extreme(find: Any, x: Tensor, axis: Any, keepdims: bool) -> Tensor:
    """``np.argmax``/``np.argmin`` (``find``) over one axis or all: an int64 Tensor."""
    name = find.__name__
    if axis is not None:
        axis = one_axis(axis, x.ndim, name)
    if x._data.size == 0:
        raise ShapeError(f"{name}: cannot take the {name} of an empty tensor (shape {x.shape})")
    data = x._data if x.ndim or axis is None else x._data.reshape(1)
    found = find(data, axis=axis, keepdims=keepdims)
    return Tensor._make(np.asarray(found, dtype=np.int64).reshape(np.shape(found)), False, None)


def norm_order(p: Any) -> float:
    """``p`` of a vector norm: a number, inf, -inf, or "fro" (the 2-norm)."""
    if p == "fro":
        return 2.0
    if isinstance(p, str):
        raise ArgumentTypeError(
            f"norm: p={p!r} is not a vector norm; use a number, inf, -inf or 'fro'"
        )
    return float(number(p, "norm", "p"))
