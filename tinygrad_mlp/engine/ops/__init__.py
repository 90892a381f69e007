"""The differentiable operations, one module per kind; each operation a small class with its
forward (NumPy) and its gradient rule side by side.

- ``rules``: what every rule shares (``value``, ``dual``, ``zeros_like``) and the argument
  checks (``reduced_axes``, ``one_axis``, ``number``), with how a rule is written;
- ``elementwise``: binary and unary operations and the comparisons; ``erf``: the error
  function on arrays (Cody's approximations);
- ``shape``: reshape, transpose, permute, broadcasting, indexing, cat and stack;
- ``reductions``: sum, mean, max/min (and ``max(dim=)``'s values and indices), var, std,
  prod, norm, logsumexp, softmax, log_softmax;
- ``linear``: ``MatMul`` and ``Linear``; ``losses``: the fused cross-entropy, MSE and BCE.

Everything public is offered here, as one namespace: the Tensor methods (``engine.methods``),
the ``tg.`` functions (``engine.functions``) and ``numpy_protocol`` call into it, ``nn``
builds layers and losses on the classes, the replay mirrors ``Linear``, the activations and
the losses, and ``FEW_CLASSES`` says when cross-entropy works on column-major logits.
"""

from __future__ import annotations

from ..autograd import Function, OperationError, ShapeError
from .elementwise import (
    Abs,
    Add,
    Cast,
    Clip,
    Clone,
    Cos,
    Div,
    Erf,
    Exp,
    Expm1,
    LeakyReLU,
    Log,
    Log1p,
    Maximum,
    Minimum,
    Mul,
    NanToNum,
    Neg,
    Pow,
    ReLU,
    Sigmoid,
    Sign,
    Sin,
    Softplus,
    Sqrt,
    Square,
    Sub,
    Tanh,
    Where,
    clip,
    compare,
    cos,
    exp,
    leaky_relu,
    log,
    sigmoid,
    sin,
    where,
)
from .erf import (
    erf_values,
)
from .linear import (
    Linear,
    MatMul,
    column_sums,
    dot,
    ones_row,
)
from .losses import (
    FEW_CLASSES,
    BinaryCrossEntropy,
    ClassIndexError,
    CrossEntropy,
    MeanSquaredError,
)
from .reductions import (
    LogSoftmax,
    LogSumExp,
    Max,
    MaxAlong,
    Mean,
    Min,
    MinAlong,
    Norm,
    Prod,
    Softmax,
    Std,
    Sum,
    ValuesIndices,
    Var,
    arg_extreme,
    extreme,
    extreme_along,
    log_softmax,
    norm_order,
    reduce,
)
from .rules import (
    REALS,
    ArgumentTypeError,
    as_tensor,
    dual,
    is_int,
    keepdims_shape,
    number,
    one_axis,
    reduced_axes,
    value,
    zeros_like,
)
from .shape import (
    Concatenate,
    Expand,
    GetItem,
    Reshape,
    ScatterAdd,
    Stack,
    Transpose,
    broadcast_to,
    cat,
    expand,
    expand_sizes,
    flat,
    flatten,
    joined_axis,
    permute,
    reshape,
    scatter_add,
    shape_argument,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)

__all__ = [
    "FEW_CLASSES",
    "REALS",
    "Abs",
    "Add",
    "ArgumentTypeError",
    "BinaryCrossEntropy",
    "Cast",
    "ClassIndexError",
    "Clip",
    "Clone",
    "Concatenate",
    "Cos",
    "CrossEntropy",
    "Div",
    "Erf",
    "Exp",
    "Expand",
    "Expm1",
    "Function",
    "GetItem",
    "LeakyReLU",
    "Linear",
    "Log",
    "Log1p",
    "LogSoftmax",
    "LogSumExp",
    "MatMul",
    "Max",
    "MaxAlong",
    "Maximum",
    "Mean",
    "MeanSquaredError",
    "Min",
    "MinAlong",
    "Minimum",
    "Mul",
    "NanToNum",
    "Neg",
    "Norm",
    "OperationError",
    "Pow",
    "Prod",
    "ReLU",
    "Reshape",
    "ScatterAdd",
    "ShapeError",
    "Sigmoid",
    "Sign",
    "Sin",
    "Softmax",
    "Softplus",
    "Sqrt",
    "Square",
    "Stack",
    "Std",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "ValuesIndices",
    "Var",
    "Where",
    "arg_extreme",
    "as_tensor",
    "broadcast_to",
    "cat",
    "clip",
    "column_sums",
    "compare",
    "cos",
    "dot",
    "dual",
    "erf_values",
    "exp",
    "expand",
    "expand_sizes",
    "extreme",
    "extreme_along",
    "flat",
    "flatten",
    "is_int",
    "joined_axis",
    "keepdims_shape",
    "leaky_relu",
    "log",
    "log_softmax",
    "norm_order",
    "number",
    "one_axis",
    "ones_row",
    "permute",
    "reduce",
    "reduced_axes",
    "reshape",
    "scatter_add",
    "shape_argument",
    "sigmoid",
    "sin",
    "squeeze",
    "stack",
    "transpose",
    "unsqueeze",
    "value",
    "where",
    "zeros_like",
]

# What each rule reads of the values (``Function.reads``; the default is all of them). A value
# a rule reads that is changed in place after the node was made makes backward raise, as
# PyTorch's version counter does; a value it does not read may change freely.
for _op in (Add, Sub, Neg, Sum, Mean, Where, Cast, Clone, Sign, Reshape, Transpose, Expand,
            GetItem, ScatterAdd, Concatenate, Stack):
    _op.reads = ()  # shapes and dtypes only (MaxAlong and MinAlong pick as GetItem does)
for _op in (Exp, Expm1, Sqrt, Tanh, Sigmoid, Softmax, LogSoftmax):
    _op.reads = ("output",)
for _op in (Mul, MatMul, Linear):
    _op.reads = ("others",)  # the product rule: each input only for the other's gradient
for _op in (Abs, Log, Log1p, Square, Erf, NanToNum, Sin, Cos, ReLU, LeakyReLU, Softplus, Clip,
            Var, Maximum, Minimum, CrossEntropy, MeanSquaredError, BinaryCrossEntropy):
    _op.reads = ("inputs",)
del _op

# NumPy's functions on Tensors (``np.exp(t)``): a table of these operations, so it comes last.
from .. import numpy_protocol  # noqa: E402, F401
