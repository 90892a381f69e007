"""The operation methods of ``Tensor``: operators, ``t.exp()``, ``t.sum(dim=0)``, ... each a
thin door into an operation of ``ops``.

``Tensor`` inherits them from :class:`TensorMethods` (``tensor.py`` holds the class itself,
its conversions and the constructors). ``ops`` needs the Tensor class to exist before it can
be imported, so ``tensor.py`` binds this module's ``ops`` once both are there.

Methods follow PyTorch (``transpose(0, 1)`` swaps two axes, ``max(dim=1)`` gives values and
indices, ``dim=``/``keepdim=`` beside ``axis=``/``keepdims=``); NumPy's own functions on
Tensors follow NumPy (see ``numpy_protocol``).

>>> import tinygrad_mlp as tg
>>> x = tg.tensor([[1.0, 5.0], [4.0, 2.0]])
>>> x.sum(dim=0).tolist(), x.max(dim=1).indices.tolist(), x.transpose((0, 1)).shape
([5.0, 7.0], [1, 0], (2, 2))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import keywords
from .keywords import LAST_AXIS, NO_AXIS, NO_CORRECTION, NO_DDOF, NO_KEEPDIMS

if TYPE_CHECKING:
    from .tensor import Tensor

ops: Any = None  # the module of the operations, bound by tensor.py


class TensorMethods:
    """What a Tensor can do: every operation as an operator or a method."""

    __slots__ = ()

    # -- operators ----------------------------------------------------------------------------

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy's ufuncs record the Tensor operation (``np.exp(t)`` is ``t.exp()``); this is
        also how ``ndarray * Tensor`` arrives. See ``numpy_protocol``."""
        return ops.numpy_protocol.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """NumPy's functions record the Tensor operation (``np.sum(t)`` is ``t.sum()``)."""
        return ops.numpy_protocol.array_function(func, args, kwargs)

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(other, self)

    def dot(self, other: Any) -> Tensor:
        """NumPy's ``a.dot(b)`` (learners' ``W.dot(X)``): a matrix product for matrices, the
        inner product of vectors (PyTorch's ``dot``, which takes only vectors)."""
        return ops.dot(self, other)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return ops.Abs.apply(self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=index)

    # Comparisons are not differentiable: they give bool tensors outside the graph.
    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:  # as PyTorch: ``t == None`` (``t in [None, ...]``) is plainly False
            return False
        return ops.compare(np.equal, self, other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:
            return True
        return ops.compare(np.not_equal, self, other)

    def __lt__(self, other: Any) -> Tensor:
        return ops.compare(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return ops.compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return ops.compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return ops.compare(np.greater_equal, self, other)

    def __invert__(self) -> Tensor:
        return ops.compare(np.logical_not, self)

    def __and__(self, other: Any) -> Tensor:
        return ops.compare(np.logical_and, self, other)

    def __or__(self, other: Any) -> Tensor:
        return ops.compare(np.logical_or, self, other)

    # -- methods ------------------------------------------------------------------------------

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def expm1(self) -> Tensor:
        """e^x - 1, accurate for tiny x."""
        return ops.Expm1.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def log1p(self) -> Tensor:
        """log(1 + x), accurate for tiny x."""
        return ops.Log1p.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def square(self) -> Tensor:
        return ops.Square.apply(self)

    def sin(self) -> Tensor:
        return ops.Sin.apply(self)

    def cos(self) -> Tensor:
        return ops.Cos.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def erf(self) -> Tensor:
        """The error function, to float64 round-off (a few units in the last place)."""
        return ops.Erf.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return ops.leaky_relu(self, negative_slope)

    def softplus(self) -> Tensor:
        return ops.Softplus.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def sign(self) -> Tensor:
        """-1, 0 or 1; differentiable with gradient 0, as in PyTorch."""
        return ops.Sign.apply(self)

    def nan_to_num(
        self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
    ) -> Tensor:
        """NaN and infinities replaced by numbers; the gradient passes where x is finite."""
        return ops.NanToNum.apply(self, nan=nan, posinf=posinf, neginf=neginf)

    def clone(self) -> Tensor:
        """A copy that stays in the graph (``detach()`` leaves it)."""
        return ops.Clone.apply(self)

    copy = clone  # NumPy's name, so that a learner's ``A.copy()`` keeps the graph

    def isnan(self) -> Tensor:
        return ops.compare(np.isnan, self)

    def isinf(self) -> Tensor:
        return ops.compare(np.isinf, self)

    def isfinite(self) -> Tensor:
        return ops.compare(np.isfinite, self)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        """``x`` limited to [min, max]; bounds may be numbers, arrays or Tensors (which get
        gradients), and broadcast like operands."""
        return ops.clip(self, min, max)

    clamp = clip

    def sum(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
            keepdim: Any = NO_KEEPDIMS) -> Tensor:
        return ops.reduce(ops.Sum, self, axis, keepdims, dim, keepdim)

    def mean(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
             keepdim: Any = NO_KEEPDIMS) -> Tensor:
        return ops.reduce(ops.Mean, self, axis, keepdims, dim, keepdim)

    def prod(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
             keepdim: Any = NO_KEEPDIMS) -> Tensor:
        return ops.reduce(ops.Prod, self, axis, keepdims, dim, keepdim)

    def max(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
            keepdim: Any = NO_KEEPDIMS) -> Any:
        """The largest values over ``axis``; ``max(dim=d)`` with an int ``d`` returns
        ``(values, indices)`` as ``torch.max`` does."""
        return ops.extreme(self, "max", axis, keepdims, dim, keepdim)

    def min(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
            keepdim: Any = NO_KEEPDIMS) -> Any:
        """The smallest values over ``axis``; ``min(dim=d)`` with an int ``d`` returns
        ``(values, indices)`` as ``torch.min`` does."""
        return ops.extreme(self, "min", axis, keepdims, dim, keepdim)

    def amax(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
             keepdim: Any = NO_KEEPDIMS) -> Tensor:
        """The largest values over one or several axes (ties share the gradient)."""
        return ops.reduce(ops.Max, self, axis, keepdims, dim, keepdim, name="amax")

    def amin(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
             keepdim: Any = NO_KEEPDIMS) -> Tensor:
        """The smallest values over one or several axes (ties share the gradient)."""
        return ops.reduce(ops.Min, self, axis, keepdims, dim, keepdim, name="amin")

    def var(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, ddof: Any = NO_DDOF, *,
            dim: Any = NO_AXIS, keepdim: Any = NO_KEEPDIMS,
            correction: Any = NO_CORRECTION) -> Tensor:
        """The variance, with ``ddof`` (NumPy) or ``correction`` (PyTorch) degrees of freedom
        taken off: 0 unless given, but 1 (PyTorch's default) when the axis is given as dim=."""
        ddof = ops.number(keywords.ddof("var", ddof, correction, dim), "var", "ddof")
        return ops.reduce(ops.Var, self, axis, keepdims, dim, keepdim, ddof=ddof)

    def std(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, ddof: Any = NO_DDOF, *,
            dim: Any = NO_AXIS, keepdim: Any = NO_KEEPDIMS,
            correction: Any = NO_CORRECTION) -> Tensor:
        """The standard deviation: the square root of ``var`` with the same arguments."""
        ddof = ops.number(keywords.ddof("std", ddof, correction, dim), "std", "ddof")
        return ops.reduce(ops.Std, self, axis, keepdims, dim, keepdim, ddof=ddof)

    def norm(self, p: Any = 2, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *,
             dim: Any = NO_AXIS, keepdim: Any = NO_KEEPDIMS) -> Tensor:
        """The vector p-norm over ``axis`` (all elements when None), as ``torch.norm``:
        ``p`` a number, ``inf``, ``-inf`` or "fro" (the 2-norm)."""
        return ops.reduce(ops.Norm, self, axis, keepdims, dim, keepdim, p=ops.norm_order(p))

    def logsumexp(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *,
                  dim: Any = NO_AXIS, keepdim: Any = NO_KEEPDIMS) -> Tensor:
        return ops.reduce(ops.LogSumExp, self, axis, keepdims, dim, keepdim)

    def softmax(self, axis: Any = LAST_AXIS, *, dim: Any = LAST_AXIS) -> Tensor:
        axis = keywords.pick("softmax", axis, dim)
        return ops.Softmax.apply(self, axis=ops.one_axis(axis, self.ndim, "softmax"))

    def log_softmax(self, axis: Any = LAST_AXIS, *, dim: Any = LAST_AXIS) -> Tensor:
        axis = keywords.pick("log_softmax", axis, dim)
        return ops.LogSoftmax.apply(self, axis=ops.one_axis(axis, self.ndim, "log_softmax"))

    def argmax(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
               keepdim: Any = NO_KEEPDIMS) -> Tensor:
        return ops.arg_extreme(np.argmax, self, *keywords.reduction(
            "argmax", axis, keepdims, dim, keepdim))

    def argmin(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
               keepdim: Any = NO_KEEPDIMS) -> Tensor:
        return ops.arg_extreme(np.argmin, self, *keywords.reduction(
            "argmin", axis, keepdims, dim, keepdim))

    def all(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
            keepdim: Any = NO_KEEPDIMS) -> Tensor:
        axis, keepdims = keywords.reduction("all", axis, keepdims, dim, keepdim)
        axes = ops.reduced_axes(axis, self.ndim, "all")
        return self._make(np.all(self._data, axis=axes, keepdims=keepdims), False, None)

    def any(self, axis: Any = NO_AXIS, keepdims: Any = NO_KEEPDIMS, *, dim: Any = NO_AXIS,
            keepdim: Any = NO_KEEPDIMS) -> Tensor:
        axis, keepdims = keywords.reduction("any", axis, keepdims, dim, keepdim)
        axes = ops.reduced_axes(axis, self.ndim, "any")
        return self._make(np.any(self._data, axis=axes, keepdims=keepdims), False, None)

    def reshape(self, *sizes: Any, shape: Any = None) -> Tensor:
        """The same values in a new shape: ``reshape(2, 3)``, ``reshape((2, 3))`` or
        ``reshape(shape=(2, 3))``; one size may be -1 (the size that fits)."""
        if shape is not None:
            if sizes:
                raise TypeError("reshape: give the shape once, as sizes or as shape=, not both")
            sizes = (shape,)
        return ops.reshape(self, *sizes)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return ops.flatten(self, start_dim, end_dim)

    def ravel(self) -> Tensor:
        """All elements along one axis (as ``flatten()``)."""
        return ops.reshape(self, -1)

    def transpose(self, *axes: Any) -> Tensor:
        """``transpose(0, 1)`` swaps two axes (PyTorch); one tuple is a permutation of all
        axes (NumPy's ``transpose((1, 0, 2))``); none or None reverses them."""
        return ops.transpose(self, *axes)

    def permute(self, *dims: Any) -> Tensor:
        """The axes in the order given: ``permute(2, 0, 1)`` or ``permute((2, 0, 1))``."""
        return ops.permute(self, dims[0] if len(dims) == 1 and not ops.is_int(dims[0]) else dims)

    @property
    def T(self) -> Tensor:
        """The axes reversed (for a matrix, its transpose)."""
        return ops.Transpose.apply(self, axes=tuple(reversed(range(self._data.ndim))))

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of transposed matrices)."""
        return ops.transpose(self, -2, -1)

    def squeeze(self, axis: Any = NO_AXIS, *, dim: Any = NO_AXIS) -> Tensor:
        return ops.squeeze(self, keywords.pick("squeeze", axis, dim))

    def unsqueeze(self, axis: Any = NO_AXIS, *, dim: Any = NO_AXIS) -> Tensor:
        return ops.unsqueeze(self, keywords.pick("unsqueeze", axis, dim))

    def expand(self, *sizes: Any) -> Tensor:
        """Broadcast to ``sizes`` without copying (PyTorch's: -1 keeps a size)."""
        return ops.expand_sizes(self, *sizes)

    def broadcast_to(self, shape: Any) -> Tensor:
        """Broadcast to ``shape`` without copying (as ``np.broadcast_to``)."""
        return ops.broadcast_to(self, shape)
