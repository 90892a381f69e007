"""Elementwise operations: binary ones that broadcast like NumPy, unary ones, and the
comparisons (bool Tensors outside the graph). Each a small class, forward and rule side by
side (see ``rules`` for how a rule is written).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd import Function, OperationError, ShapeError
from ..tensor import Tensor
from .erf import erf_values
from .rules import REALS, ArgumentTypeError, dual, number, value, zeros_like

# ---------------------------------------------------------------------------------------------
# Binary


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
    reads = ()  # shapes and dtypes only

    def forward(self, a, b):
        return a + b

    def backward(self, g, out, a, b):
        return g, g


class Sub(_Elementwise):
    __slots__ = ()
    name = "sub"
    reads = ()  # shapes and dtypes only

    def forward(self, a, b):
        return a - b

    def backward(self, g, out, a, b):
        return g, -g


class Mul(_Elementwise):
    __slots__ = ()
    name = "mul"
    reads = ("others",)  # the product rule: each input only for the other's gradient

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
    reads = ("inputs",)

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
    reads = ("inputs",)

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
    reads = ()  # shapes and dtypes only

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


# ---------------------------------------------------------------------------------------------
# Unary


class Neg(Function):
    __slots__ = ()
    name = "neg"
    reads = ()  # shapes and dtypes only

    def forward(self, x):
        return -x

    def backward(self, g, out, x):
        return (-g,)


class Abs(Function):
    __slots__ = ()
    name = "abs"
    reads = ("inputs",)

    def forward(self, x):
        return np.abs(x)

    def backward(self, g, out, x):
        return (g * np.sign(value(x)),)


class Exp(Function):
    __slots__ = ()
    name = "exp"
    reads = ("output",)
    float_result = True

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return (g * out,)


class Log(Function):
    __slots__ = ()
    name = "log"
    reads = ("inputs",)
    float_result = True

    def forward(self, x):
        return np.log(x)

    def backward(self, g, out, x):
        return (g / x,)


class Sqrt(Function):
    __slots__ = ()
    name = "sqrt"
    reads = ("output",)
    float_result = True

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g, out, x):
        return (g * 0.5 / out,)


class Sin(Function):
    __slots__ = ()
    name = "sin"
    reads = ("inputs",)
    float_result = True

    def forward(self, x):
        return np.sin(x)

    def backward(self, g, out, x):
        return (g * cos(x),)


class Cos(Function):
    __slots__ = ()
    name = "cos"
    reads = ("inputs",)
    float_result = True

    def forward(self, x):
        return np.cos(x)

    def backward(self, g, out, x):
        return (-g * sin(x),)


class Tanh(Function):
    __slots__ = ()
    name = "tanh"
    reads = ("output",)
    float_result = True

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, out, x):
        return (g * (1 - out * out),)


class Sigmoid(Function):
    __slots__ = ()
    name = "sigmoid"
    reads = ("output",)
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
    reads = ("inputs",)

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g, out, x):
        return (g * (value(x) > 0),)


class LeakyReLU(Function):
    __slots__ = ("slope",)
    name = "leaky_relu"
    reads = ("inputs",)

    def forward(self, x, negative_slope=0.01):
        self.slope = negative_slope
        return np.where(x > 0, x, x * negative_slope)

    def backward(self, g, out, x):
        return (where(value(x) > 0, g, g * self.slope),)


class Softplus(Function):
    __slots__ = ()
    name = "softplus"
    reads = ("inputs",)
    float_result = True

    def forward(self, x):
        return np.logaddexp(0, x)

    def backward(self, g, out, x):
        return (g * sigmoid(x),)


class Square(Function):
    __slots__ = ()
    name = "square"
    reads = ("inputs",)

    def forward(self, x):
        return np.square(x)

    def backward(self, g, out, x):
        return (g * (2 * x),)


class Log1p(Function):
    """log(1 + x), accurate for tiny x."""

    __slots__ = ()
    name = "log1p"
    reads = ("inputs",)
    float_result = True

    def forward(self, x):
        return np.log1p(x)

    def backward(self, g, out, x):
        return (g / (1 + x),)


class Expm1(Function):
    """e^x - 1, accurate for tiny x."""

    __slots__ = ()
    name = "expm1"
    reads = ("output",)
    float_result = True

    def forward(self, x):
        return np.expm1(x)

    def backward(self, g, out, x):
        return (g * (out + 1),)


class Erf(Function):
    """The error function (NumPy has none): W. J. Cody's rational approximations."""

    __slots__ = ()
    name = "erf"
    reads = ("inputs",)
    float_result = True

    def forward(self, x):
        return erf_values(x).astype(x.dtype, copy=False)

    def backward(self, g, out, x):
        return (g * _TWO_OVER_SQRT_PI * exp(-(x * x)),)


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)  # a Python float: float32 gradients stay float32


class Sign(Function):
    """-1, 0 or 1; its gradient is 0 everywhere (as in PyTorch), not missing."""

    __slots__ = ()
    name = "sign"
    reads = ()  # shapes and dtypes only

    def forward(self, x):
        return np.sign(x)

    def backward(self, g, out, x):
        return (zeros_like(g),)


class NanToNum(Function):
    """NaN and infinities replaced by numbers; the gradient passes where x was finite."""

    __slots__ = ()
    name = "nan_to_num"
    reads = ("inputs",)

    def forward(self, x, nan=0.0, posinf=None, neginf=None):
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, g, out, x):
        return (where(np.isfinite(value(x)), g, 0.0),)


class Clone(Function):
    """A copy of ``x`` that stays in the graph (the gradient passes unchanged)."""

    __slots__ = ()
    name = "clone"
    reads = ()  # shapes and dtypes only

    def forward(self, x):
        return x.copy()

    def backward(self, g, out, x):
        return (g,)


class Clip(Function):
    """``x`` limited to [low, high]. The bounds given (``has`` says which) are inputs too, so
    they broadcast like operands and are differentiable when they are Tensors."""

    __slots__ = ("has",)
    name = "clip"
    reads = ("inputs",)

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
    reads = ()  # shapes and dtypes only

    def forward(self, x, dtype=None):
        return x.astype(dtype)

    def backward(self, g, out, x):
        return (g.astype(x.dtype),)


# The dual helpers used inside rules (see ``rules``).
# The dual helpers used inside rules (see the module docstring).
exp = dual(Exp)
log = dual(Log)
sin = dual(Sin)
cos = dual(Cos)
sigmoid = dual(Sigmoid)


def where(cond: Any, a: Any, b: Any) -> Any:
    """Dual ``where`` for rules: arrays give arrays, Tensors record a Where node."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return Where.apply(a, b, cond=value(cond))
    return np.where(cond, a, b)


# ---------------------------------------------------------------------------------------------
# Behind the methods and functions


def _plain_operand(x: Any, name: str) -> Any:
    """A comparison's operand as NumPy takes it; strings and objects are refused."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray) or isinstance(x, REALS):
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


def leaky_relu(x: Any, negative_slope: float) -> Tensor:
    """LeakyReLU with its slope checked up front (a Tensor slope would get no gradient)."""
    return LeakyReLU.apply(x, negative_slope=number(negative_slope, "leaky_relu", "negative_slope"))


def clip(x: Any, low: Any = None, high: Any = None) -> Tensor:
    """``x`` limited to [low, high]; either bound may be None, a number, an array or a Tensor."""
    if low is None and high is None:
        raise OperationError("clip: give at least one of min and max")
    bounds = [b for b in (low, high) if b is not None]
    return Clip.apply(x, *bounds, has=(low is not None, high is not None))
