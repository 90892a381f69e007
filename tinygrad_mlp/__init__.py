"""tinygrad_mlp: a small reverse-mode autograd engine on NumPy, for learning and debugging backprop.

>>> import tinygrad_mlp as tg
>>> x = tg.tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2. 4.])
"""

from . import autograd  # first: the Tensor and the operations build on it
from .autograd import (
    AnomalyError,
    ShapeError,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
)
from .functions import (
    abs,
    argmax,
    argmin,
    as_tensor,
    cat,
    clamp,
    clip,
    cos,
    exp,
    flatten,
    leaky_relu,
    linear,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    softplus,
    sqrt,
    squeeze,
    stack,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from .gradcheck import GradcheckError, gradcheck
from .tensor import (
    Tensor,
    arange,
    eye,
    float32,
    float64,
    full,
    int32,
    int64,
    manual_seed,
    ones,
    rand,
    randn,
    tensor,
    uniform,
    zeros,
)

__version__ = "0.1.0"

__all__ = [
    "AnomalyError", "GradcheckError", "ShapeError", "Tensor", "abs", "arange", "argmax",
    "argmin", "as_tensor", "autograd", "cat", "clamp", "clip", "cos", "detect_anomaly",
    "enable_grad", "exp", "eye", "flatten", "float32", "float64", "full", "grad", "gradcheck",
    "int32", "int64", "is_grad_enabled", "leaky_relu", "linear", "log", "log_softmax",
    "logsumexp", "manual_seed", "matmul", "max", "maximum", "mean", "min", "minimum",
    "no_grad", "ones", "rand", "randn", "relu", "reshape", "sigmoid", "sin", "softmax",
    "softplus", "sqrt", "squeeze", "stack", "sum", "tanh", "tensor", "transpose", "uniform",
    "unsqueeze", "var", "where", "zeros",
]
