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
from typing import Any, NamedTuple

import numpy as np

from . import keywords
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


class ArgumentTypeError(TypeError):
    """An operation refused an argument of the wrong type; the message names both."""


def is_int(n: Any) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_))


def reduced_axes(axis: int | Sequence[int] | None, ndim: int, name: str) -> tuple[int, ...]:
    """Normalise ``axis`` (int, tuple or None) to a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if is_int(axis) else axis
    if not isinstance(axes, (tuple, list)) or not all(is_int(a) for a in axes):
        raise ArgumentTypeError(
            f"{name}: axis must be an int, a tuple of ints or None, got {axis!r} "
            f"({type(axis).__name__})"
        )
    result = []
    for a in axes:
        # As in PyTorch, a 0-d tensor accepts axis 0 and -1 (and has nothing to reduce).
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ShapeError(f"{name}: axis {a} is out of range for a tensor with {ndim} dims")
        result.append(int(a) % max(ndim, 1))
    if len(set(result)) != len(result):
        raise ShapeError(f"{name}: repeated axis in {axis}")
    return tuple(sorted(result)) if ndim else ()


def one_axis(axis: Any, ndim: int, name: str, argument: str = "axis") -> int:
    """``axis`` as one non-negative int below ``ndim`` (a 0-d tensor takes 0 and -1)."""
    if not is_int(axis):
        raise ArgumentTypeError(
            f"{name}: {argument} must be an int, got {axis!r} ({type(axis).__name__})"
        )
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ShapeError(f"{name}: {argument} {axis} is out of range for a tensor with {ndim} dims")
    return int(axis) % max(ndim, 1)


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


class Square(Function):
    __slots__ = ()
    name = "square"

    def forward(self, x):
        return np.square(x)

    def backward(self, g, out, x):
        return (g * (2 * x),)


class Log1p(Function):
    """log(1 + x), accurate for tiny x."""

    __slots__ = ()
    name = "log1p"
    float_result = True

    def forward(self, x):
        return np.log1p(x)

    def backward(self, g, out, x):
        return (g / (1 + x),)


class Expm1(Function):
    """e^x - 1, accurate for tiny x."""

    __slots__ = ()
    name = "expm1"
    float_result = True

    def forward(self, x):
        return np.expm1(x)

    def backward(self, g, out, x):
        return (g * (out + 1),)


class Erf(Function):
    """The error function (NumPy has none): W. J. Cody's rational approximations."""

    __slots__ = ()
    name = "erf"
    float_result = True

    def forward(self, x):
        return erf_values(x).astype(x.dtype, copy=False)

    def backward(self, g, out, x):
        return (g * _TWO_OVER_SQRT_PI * exp(-(x * x)),)


_TWO_OVER_SQRT_PI = 2 / np.sqrt(np.pi)

# Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969):
# erf on |x| <= 0.46875, erfc on 0.46875 < |x| <= 4 and erfc beyond, in his published
# coefficients (numerator, denominator) for IEEE double. Measured within 4 units in the last
# place of math.erf everywhere (tests/test_new_ops.py checks it against PyTorch).
_ERF_SMALL = ((3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
               3.20937758913846947e03, 1.85777706184603153e-1),
              (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
               2.84423683343917062e03))
_ERFC_MIDDLE = ((5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
                 2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
                 2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8),
                (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
                 1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
                 3.43936767414372164e03, 1.23033935480374942e03))
_ERFC_LARGE = ((3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
                1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2),
               (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
                6.05183413124413191e-2, 2.33520497626869185e-3))


def _rational(t: np.ndarray, coefficients: tuple) -> np.ndarray:
    """Cody's ratio of polynomials in ``t``, evaluated in his order (Horner, lead terms last)."""
    num, den = coefficients
    n, d = num[-1] * t, t
    for a, b in zip(num[:-2], den[:-1]):
        n, d = (n + a) * t, (d + b) * t
    return (n + num[-2]) / (d + den[-1])


def erf_values(x: Any) -> np.ndarray:
    """erf of a float array, computed in float64 (NaN stays NaN, ±inf gives ±1).

    >>> float(erf_values(np.array(0.5)))
    0.5204998778130465
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.abs(x)
    out = np.empty_like(y)
    small = y <= 0.46875
    out[small] = x[small] * _rational(y[small] ** 2, _ERF_SMALL)
    rest = ~small  # NaN goes here and stays NaN
    y = np.minimum(y[rest], 27.0)  # erfc(27) underflows to 0: erf is +-1 from there on
    middle = y <= 4.0
    erfc = np.empty_like(y)
    erfc[middle] = _rational(y[middle], _ERFC_MIDDLE)
    far = y[~middle]
    t = 1.0 / (far * far)
    erfc[~middle] = (1 / np.sqrt(np.pi) - t * _rational(t, _ERFC_LARGE)) / far
    # exp(-y^2) split in two, as Cody does, so that y^2 loses no digits.
    head = np.trunc(y * 16.0) / 16.0
    erfc *= np.exp(-head * head) * np.exp(-(y - head) * (y + head))
    out[rest] = np.copysign((0.5 - erfc) + 0.5, x[rest])
    return out


class Sign(Function):
    """-1, 0 or 1; its gradient is 0 everywhere (as in PyTorch), not missing."""

    __slots__ = ()
    name = "sign"

    def forward(self, x):
        return np.sign(x)

    def backward(self, g, out, x):
        return (zeros_like(g),)


class NanToNum(Function):
    """NaN and infinities replaced by numbers; the gradient passes where x was finite."""

    __slots__ = ()
    name = "nan_to_num"

    def forward(self, x, nan=0.0, posinf=None, neginf=None):
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, g, out, x):
        return (where(np.isfinite(value(x)), g, 0.0),)


class Clone(Function):
    """A copy of ``x`` that stays in the graph (the gradient passes unchanged)."""

    __slots__ = ()
    name = "clone"

    def forward(self, x):
        return x.copy()

    def backward(self, g, out, x):
        return (g,)


class Clip(Function):
    """``x`` limited to [low, high]. The bounds given (``has`` says which) are inputs too, so
    they broadcast like operands and are differentiable when they are Tensors."""

    __slots__ = ("has",)
    name = "clip"

    def forward(self, x, *bounds, has=(True, True)):
        self.has = has
        low, high = self.split(bounds)
        return np.clip(x, low, high)

    def split(self, bounds: Sequence[Any]) -> tuple[Any, Any]:
        has_low, has_high = self.has
        return (bounds[0] if has_low else None), (bounds[-1] if has_high else None)

    def backward(self, g, out, x, *bounds):
        # As in PyTorch, x gets the gradient where low <= x <= high (bounds included); a
        # bound gets it where it is the output (high wins when low > high, as in np.clip).
        x_ = value(x)
        low, high = (None if b is None else value(b) for b in self.split(bounds))
        above = True if low is None else x_ >= low
        below = True if high is None else x_ <= high
        grads = [where(np.logical_and(above, below), g, 0.0)]
        if low is not None:
            wins = ~above if high is None else ~above & (low <= high)
            grads.append(where(wins, g, 0.0))
        if high is not None:
            wins = ~below if low is None else np.maximum(x_, low) > high
            grads.append(where(wins, g, 0.0))
        return grads


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
        self.axes = reduced_axes(axis, x.ndim, self.name)
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


class Std(Var):
    """The square root of ``var``; where it is 0 the gradient is 0, as in PyTorch."""

    __slots__ = ()
    name = "std"

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


# Up to this many classes, cross-entropy works on column-major logits (see its forward); the
# replay reads it to mirror that choice.
FEW_CLASSES = 64
_FEW_CLASSES = FEW_CLASSES  # the name the replay reads until it moves to FEW_CLASSES


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
        array = np.asarray(index)
        # ``t[[]]`` picks nothing (as in NumPy and PyTorch): an empty list is no float index.
        return array.astype(np.intp) if array.size == 0 and array.dtype.kind == "f" else array
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


def zeros_like(g: Any) -> Any:
    """Zeros of ``g``'s shape and dtype: an array for an array, a constant Tensor for a Tensor."""
    zeros = np.zeros(value(g).shape, value(g).dtype)
    return Tensor._make(zeros, False, None) if isinstance(g, Tensor) else zeros


def where(cond: Any, a: Any, b: Any) -> Any:
    """Dual ``where`` for rules: arrays give arrays, Tensors record a Where node."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return Where.apply(a, b, cond=value(cond))
    return np.where(cond, a, b)


# ---------------------------------------------------------------------------------------------
# Helpers behind Tensor methods and the public functions


def _plain_operand(x: Any, name: str) -> Any:
    """A comparison's operand as NumPy takes it; strings and objects are refused."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray) or isinstance(x, _REALS):
        kind = x.dtype.kind if isinstance(x, np.ndarray) else "f"
    else:
        kind = np.asarray(x).dtype.kind
    if kind not in "biuf":
        raise ArgumentTypeError(
            f"{name}: cannot compare a tensor with {type(x).__name__} data "
            f"(dtype kind {kind!r}); expected numbers, arrays of numbers or Tensors"
        )
    return x


def compare(ufunc: np.ufunc, *operands: Any) -> Tensor:
    """A comparison or logical operation: a bool Tensor outside the graph."""
    plain = [_plain_operand(x, ufunc.__name__) for x in operands]
    try:
        return Tensor._make(np.asarray(ufunc(*plain)), False, None)
    except ValueError:
        shapes = " and ".join(str(np.shape(x)) for x in plain)
        raise ShapeError(
            f"{ufunc.__name__}: shapes {shapes} cannot be broadcast together"
        ) from None


_REALS = (int, float, np.integer, np.floating)  # bool is an int: the callers that care say so


def number(x: Any, name: str, argument: str) -> float:
    """``x`` checked to be a real number (not a bool, string, array or Tensor)."""
    if not isinstance(x, _REALS) or isinstance(x, (bool, np.bool_)):
        raise ArgumentTypeError(
            f"{name}: {argument} must be a number, got {x!r} ({type(x).__name__})"
        )
    return x


def leaky_relu(x: Any, negative_slope: float) -> Tensor:
    """LeakyReLU with its slope checked up front (a Tensor slope would get no gradient)."""
    return LeakyReLU.apply(x, negative_slope=number(negative_slope, "leaky_relu", "negative_slope"))


def clip(x: Any, low: Any = None, high: Any = None) -> Tensor:
    """``x`` limited to [low, high]; either bound may be None, a number, an array or a Tensor."""
    if low is None and high is None:
        raise OperationError("clip: give at least one of min and max")
    bounds = [b for b in (low, high) if b is not None]
    return Clip.apply(x, *bounds, has=(low is not None, high is not None))


def shape_argument(shape: tuple, name: str) -> tuple[int, ...]:
    """Sizes given as ints or as one tuple/list, checked to be integers."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(is_int(n) for n in shape):
        raise ShapeError(f"{name}: sizes must be integers, got {shape}")
    return tuple(int(n) for n in shape)


def reshape(x: Tensor, *shape: Any) -> Tensor:
    shape = shape_argument(shape, "reshape")
    if any(n < -1 for n in shape) or shape.count(-1) > 1:
        raise ShapeError(
            f"reshape: invalid shape {shape}: sizes must be >= 0, except one -1 that stands "
            "for the size that fits"
        )
    return Reshape.apply(x, shape=shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, 1)
    start = one_axis(start_dim, x.ndim, "flatten", "start_dim")
    end = one_axis(end_dim, x.ndim, "flatten", "end_dim")
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = (*x.shape[:start], -1, *x.shape[end + 1 :])
    return reshape(x, shape)


def permute(x: Tensor, axes: Sequence[Any], name: str = "permute") -> Tensor:
    """The axes in a new order: ``axes`` names every axis once (NumPy's ``transpose(axes)``)."""
    if not isinstance(axes, (tuple, list)) or not all(is_int(a) for a in axes):
        raise ArgumentTypeError(f"{name}: expected a permutation of the axes as ints, got {axes!r}")
    n = x.ndim
    perm = tuple(int(a) % n if n and -n <= a < n else a for a in axes)
    if sorted(perm) != list(range(n)):
        raise ShapeError(
            f"{name}: {tuple(axes)} is not a permutation of the {n} axes of a tensor of "
            f"shape {x.shape}"
        )
    return Transpose.apply(x, axes=perm)


def transpose(x: Tensor, *axes: Any) -> Tensor:
    """PyTorch's swap of two axes (``transpose(0, 1)``), NumPy's permutation of all axes
    (``transpose((1, 0, 2))`` or ``transpose(1, 0, 2)``), or all axes reversed (no axes or
    None). One tuple is always NumPy's permutation, never PyTorch's swap."""
    if axes in ((), (None,)):
        return Transpose.apply(x, axes=tuple(reversed(range(x.ndim))))
    if len(axes) == 1:  # one tuple, or the one axis of a vector (NumPy's transpose(0))
        return permute(x, axes if is_int(axes[0]) else axes[0], "transpose")
    if len(axes) == 2:
        i, j = (one_axis(a, x.ndim, "transpose", f"dim{k}") for k, a in enumerate(axes))
        perm = list(range(x.ndim))
        perm[i], perm[j] = perm[j], perm[i]
        return Transpose.apply(x, axes=tuple(perm))
    return permute(x, axes, "transpose")


def squeeze(x: Tensor, axis: int | Sequence[int] | None = None, strict: bool = False) -> Tensor:
    """Size-1 axes removed: all of them, or those of ``axis``. An axis whose size is not 1 is
    left alone, as in PyTorch, unless ``strict`` (NumPy's ``np.squeeze`` refuses it)."""
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        axes = reduced_axes(axis, x.ndim, "squeeze")
        if strict and any(x.shape[a] != 1 for a in axes):
            raise ShapeError(
                f"squeeze: cannot squeeze axis {axis} of a tensor of shape {x.shape}: its size "
                "is not 1"
            )
        axes = tuple(a for a in axes if x.ndim and x.shape[a] == 1)
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    shape = list(x.shape)
    shape.insert(one_axis(axis, x.ndim + 1, "unsqueeze"), 1)
    return reshape(x, tuple(shape))


def broadcast_to(x: Tensor, shape: Any, name: str = "broadcast_to") -> Tensor:
    """``x`` repeated (without copying) to ``shape``, as ``np.broadcast_to``."""
    shape = shape_argument((shape,), name)
    fits = len(shape) >= x.ndim and all(
        n == m or n == 1 for n, m in zip(reversed(x.shape), reversed(shape))
    )
    if not fits or any(n < 0 for n in shape):
        raise ShapeError(f"{name}: a tensor of shape {x.shape} cannot be broadcast to {shape}")
    return Expand.apply(x, shape=shape)


def expand_sizes(x: Tensor, *sizes: Any) -> Tensor:
    """PyTorch's ``expand``: ``broadcast_to`` where -1 keeps an existing axis's size."""
    sizes = shape_argument(sizes, "expand")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(
            f"expand: {len(sizes)} sizes given for a tensor with {x.ndim} dims; give at least "
            f"{x.ndim}"
        )
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    return broadcast_to(x, shape, "expand")


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


def as_tensor(x: Any) -> Tensor:
    """``x`` itself when it is a Tensor, else a new constant Tensor made from it.

    >>> import tinygrad_mlp as tg
    >>> tg.as_tensor([1.0]).dtype
    dtype('float32')
    """
    return x if isinstance(x, Tensor) else Tensor(x)


def joined_axis(name: str, axis: Any, dim: Any) -> Any:
    """``axis`` (NumPy) or ``dim`` (PyTorch) of ``cat``/``stack``; PyTorch refuses dim=None."""
    if keywords.given(dim) and dim is None:
        raise ArgumentTypeError(
            f"{name}: dim=None is not allowed (PyTorch refuses it too); axis=None joins the "
            "flattened tensors, as np.concatenate does"
        )
    return keywords.pick(name, axis, dim)


def _joined(tensors: Any, name: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise ArgumentTypeError(f"{name}: expected a non-empty list or tuple of tensors, got "
                        f"{type(tensors).__name__}")
    return list(tensors)


def cat(tensors: Sequence[Any], axis: int | None) -> Tensor:
    """Join along an existing axis; ``axis=None`` joins the flattened values (NumPy's)."""
    tensors = _joined(tensors, "cat")
    if axis is None:
        tensors, axis = [flat(t) for t in tensors], 0
    ndim = np.ndim(value(tensors[0]))
    return Concatenate.apply(*tensors, axis=one_axis(axis, ndim, "cat"))


def stack(tensors: Sequence[Any], axis: int) -> Tensor:
    """Join equally shaped tensors along a new axis."""
    tensors = _joined(tensors, "stack")
    return Stack.apply(*tensors, axis=one_axis(axis, np.ndim(value(tensors[0])) + 1, "stack"))


def flat(x: Any) -> Any:
    """``x`` as one axis: a Tensor reshaped in the graph, anything else as ``np.ravel``."""
    return reshape(x, -1) if isinstance(x, Tensor) else np.ravel(x)


# NumPy's functions on Tensors (``np.exp(t)``): a table of these operations, so it comes last.
from . import numpy_protocol  # noqa: E402, F401
