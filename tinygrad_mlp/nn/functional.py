"""Layers and losses as plain functions, with PyTorch's names (``torch.nn.functional``).

Every activation of ``nn.ACTIVATIONS`` has its function here, under the table's name
(``relu``, ``leaky_relu``, ``gelu``, ...): it is the rule the table and the modules use.
``dropout``, ``batch_norm`` and ``layer_norm`` are the functional forms of those layers.

Losses take ``input`` (a Tensor: predictions, probabilities or logits) and ``target`` (a
Tensor or an ``np.ndarray``) and a ``reduction`` of ``"mean"`` (the default), ``"sum"`` or
``"none"`` (one loss per element, or per row for cross-entropy). Input and target must have
the same shape: a loss never broadcasts them, because ``(N, 1)`` against ``(N,)`` silently
compares every prediction with every target.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine import functions as _f
from ..engine import ops
from ..engine.functions import as_tensor
from ..engine.ops import CrossEntropy
from ..engine.tensor import Tensor, default_rng
from . import checks
from .checks import check_reduction

GELU_APPROXIMATIONS = ("none", "tanh")
_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

# -- layers and activations ----------------------------------------------------------------------


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """``input @ weight.T + bias`` as one graph node; ``weight`` is ``(out, in)``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> F.linear(tg.ones(4, 3), tg.ones(2, 3)).shape
    (4, 2)
    """
    return _f.linear(input, weight, bias)


def relu(input: Any) -> Tensor:
    """max(x, 0).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> F.relu(tg.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return _f.relu(input)


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else ``negative_slope * x``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> F.leaky_relu(tg.tensor([-2.0, 2.0]), 0.5).tolist()
    [-1.0, 2.0]
    """
    if not isinstance(negative_slope, Tensor):
        checks.finite(negative_slope, "negative_slope", "leaky_relu")
    return _f.leaky_relu(input, negative_slope)


def tanh(input: Any) -> Tensor:
    """Hyperbolic tangent.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> F.tanh(tg.tensor([0.0])).tolist()
    [0.0]
    """
    return _f.tanh(input)


def sigmoid(input: Any) -> Tensor:
    """1 / (1 + exp(-x)), without overflow.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> F.sigmoid(tg.tensor([0.0])).tolist()
    [0.5]
    """
    return _f.sigmoid(input)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> round(F.softplus(tg.tensor([0.0])).item(), 4)
    0.6931
    """
    if beta != 1.0 or threshold != 20.0:  # the defaults need no check
        beta = checks.positive(beta, "beta", "softplus")
        threshold = checks.finite(threshold, "threshold", "softplus")
    x = as_tensor(input)
    if beta == 1:
        out = x.softplus()
        scaled = x._data
    else:
        out = (x * beta).softplus() / beta
        scaled = x._data * beta
    # PyTorch's switch to the identity; it only ever matters in the last bits, so the
    # extra node is added only when some entry is past the threshold.
    above = scaled > threshold
    return _f.where(above, x, out) if above.any() else out


def softmax(input: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (or NumPy's ``axis=``; -1 when neither is given),
    stable for large x.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> F.softmax(tg.zeros(2, 2), dim=1).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    return _f.softmax(input, axis=checks.dim_or_axis(dim, axis, "softmax"))


def log_softmax(input: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """log(softmax(x)) along ``dim`` (or ``axis=``; -1 when neither is given), stable for
    large x.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> round(F.log_softmax(tg.zeros(2), dim=0).tolist()[0], 4)
    -0.6931
    """
    return _f.log_softmax(input, axis=checks.dim_or_axis(dim, axis, "log_softmax"))


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """``x * Φ(x)`` = ``0.5 * x * (1 + erf(x / sqrt(2)))``; with ``approximate="tanh"``,
    ``0.5 * x * (1 + tanh(sqrt(2 / π) * (x + 0.044715 * x³)))``, as PyTorch.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> [round(v, 4) for v in F.gelu(tg.tensor([-1.0, 1.0]), approximate="tanh").tolist()]
    [-0.1588, 0.8412]
    """
    checks.choice(approximate, "approximate", "gelu", GELU_APPROXIMATIONS)
    x = as_tensor(input)
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * _SQRT_2_OVER_PI
        return 0.5 * x * (1.0 + inner.tanh())
    return 0.5 * x * (1.0 + (x * _SQRT_HALF).erf())


def elu(input: Any, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else ``alpha * (exp(x) - 1)`` (by ``expm1``, exact near 0).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> [round(v, 4) for v in F.elu(tg.tensor([-1.0, 3.0]), alpha=2.0).tolist()]
    [-1.2642, 3.0]
    """
    alpha = checks.finite(alpha, "alpha", "elu")
    x = as_tensor(input)
    positive = x._data > 0
    # expm1 only of the non-positive part: of a large x it would overflow, and the unused
    # branch's gradient (0 times inf) would be NaN.
    negative = _f.where(positive, 0.0, x)
    return _f.where(positive, x, alpha * negative.expm1())


def dropout(
    input: Any, p: float = 0.5, training: bool = True, generator: np.random.Generator | None = None
) -> Tensor:
    """Zero each entry with probability ``p`` and scale the rest by ``1 / (1 - p)`` (in
    training; the identity when ``training=False``). The entries dropped are drawn from
    ``generator``, else from the default generator that ``tg.manual_seed`` seeds.

    >>> import numpy as np
    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> out = F.dropout(tg.ones(1000), 0.25, generator=np.random.default_rng(0))
    >>> sorted(round(v, 4) for v in set(out.tolist()))
    [0.0, 1.3333]
    """
    p = checks.probability(p, "p", "dropout")
    checks.flag(training, "training", "dropout")
    # The default generator is asked for now, not at import: manual_seed replaces it.
    rng = checks.generator(generator, "generator", "dropout") or default_rng()
    x = as_tensor(input)
    if not training or p == 0.0:
        return x
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    keep = rng.random(x.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return x * (keep * scale).astype(dtype)


def _channels(x: Tensor, caller: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """For batch norm of ``(N, C)`` or ``(N, C, L)``: the axes to reduce and the shape of
    one value per channel that broadcasts against ``x``."""
    if x.ndim not in (2, 3):
        raise ValueError(f"{caller}: expected 2D or 3D input (got {x.ndim}D input)")
    return ((0,), (1, x.shape[1])) if x.ndim == 2 else ((0, 2), (1, x.shape[1], 1))


def check_batch_norm_input(x: Tensor, num_features: int | None, training: bool,
                           caller: str) -> None:
    """What batch norm refuses, checked before anything changes (running statistics)."""
    _channels(x, caller)
    if num_features is not None and x.shape[1] != num_features:
        raise ValueError(
            f"{caller}: expected {num_features} features in dimension 1 of the input, got "
            f"input of shape {x.shape}"
        )
    if training and x.numel() // max(x.shape[1], 1) <= 1:
        raise ValueError(
            f"{caller}: expected more than 1 value per channel when training, got input of "
            f"shape {x.shape}"
        )


def batch_norm(
    input: Any,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (dimension 1) of ``(N, C)`` or ``(N, C, L)`` input, as
    PyTorch: in training by the batch's mean and biased variance, moving ``running_mean``
    and ``running_var`` (the unbiased variance) toward them by ``momentum``, in place; else
    by the running statistics. Then ``* weight + bias`` per channel.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> mean, var = tg.zeros(2, dtype=tg.float64), tg.ones(2, dtype=tg.float64)
    >>> x = tg.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=tg.float64)
    >>> out = F.batch_norm(x, mean, var, training=True)
    >>> [round(v, 3) for v in out.tolist()[0]], mean.tolist()
    ([-1.0, -1.0], [0.1, 0.2])
    """
    caller = "batch_norm"
    x = as_tensor(input)
    checks.flag(training, "training", caller)
    momentum = checks.probability(momentum, "momentum", caller)
    eps = checks.positive(eps, "eps", caller)
    check_batch_norm_input(x, None, training, caller)
    axes, shape = _channels(x, caller)
    if training or running_mean is None or running_var is None:
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        if training:
            count = x.numel() // x.shape[1]
            unbiased = var._data.reshape(-1) * (count / (count - 1))
            for running, batch in ((running_mean, mean._data.reshape(-1)),
                                   (running_var, unbiased)):
                if running is not None:
                    running._data *= 1.0 - momentum
                    running._data += momentum * batch.astype(running.dtype, copy=False)
    else:
        # Copies: a later training step changes the running statistics in place.
        mean = Tensor._make(running_mean._data.reshape(shape).astype(x.dtype), False, None)
        var = Tensor._make(running_var._data.reshape(shape).astype(x.dtype), False, None)
    out = (x - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * as_tensor(weight).reshape(*shape)
    if bias is not None:
        out = out + as_tensor(bias).reshape(*shape)
    return out


def layer_norm(
    input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` dimensions (mean 0, biased variance
    1, ``eps`` added to it), then ``* weight + bias`` elementwise, as PyTorch.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> [round(v, 3) for v in F.layer_norm(tg.tensor([[1.0, 3.0]]), [2]).tolist()[0]]
    [-1.0, 1.0]
    """
    caller = "layer_norm"
    shape = checks.shape(normalized_shape, "normalized_shape", caller)
    eps = checks.positive(eps, "eps", caller)
    x = as_tensor(input)
    if len(shape) > x.ndim or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(
            f"{caller}: expected input with shape (*, {', '.join(map(str, shape))}), got "
            f"input of shape {x.shape}"
        )
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    out = (x - mean) / (x.var(axis=axes, keepdims=True) + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# -- losses ---------------------------------------------------------------------------------------


def _as_target(target: Any, name: str) -> Tensor:
    if isinstance(target, Tensor):
        return target
    array = np.asarray(target)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: target must hold numbers, got dtype {array.dtype}")
    return Tensor._make(array, False, None)


def _same_shape(input: Tensor, target: Tensor, name: str) -> None:
    if input.shape == target.shape:
        return
    hint = ""
    if input.shape == (*target.shape, 1):
        hint = " (reshape the target with target.reshape(-1, 1), or the input with .reshape(-1))"
    elif target.shape == (*input.shape, 1):
        hint = " (reshape the input with input.reshape(-1, 1), or the target with .reshape(-1))"
    raise ValueError(
        f"{name}: input has shape {input.shape} but target has shape {target.shape}; they "
        f"must be the same, because broadcasting them would silently compare every "
        f"prediction with every target{hint}"
    )


def _like_input(target: Tensor, input: Tensor) -> Tensor:
    # A float64 target must not quietly turn a float32 model's loss into float64.
    return target if target.dtype == input.dtype else target.astype(input.dtype)


def _same_shape_pair(input: Any, target: Any, reduction: str, name: str) -> tuple[Tensor, Tensor]:
    """The checks of a loss whose input and target are elementwise pairs, then both Tensors."""
    check_reduction(reduction, name)
    input = as_tensor(input)
    target = _as_target(target, name)
    _same_shape(input, target, name)
    return input, _like_input(target, input)


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    return losses.sum() if reduction == "sum" else losses


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target) ** 2``, averaged (or summed) over all elements.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> F.mse_loss(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 4.0])).item()
    2.0
    """
    input, target = _same_shape_pair(input, target, reduction, "mse_loss")
    return ops.MeanSquaredError.apply(input, target, reduction=reduction)


def cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of logits ``(N, C)`` (or ``(C,)``), fused into one stable node.

    ``target`` holds class indices (integers of shape ``(N,)``) or class probabilities
    (floats of the input's shape). ``"mean"`` averages over the N rows.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> round(F.cross_entropy(tg.zeros(2, 4), [0, 3]).item(), 4)
    1.3863
    """
    name = "cross_entropy"
    check_reduction(reduction, name)
    input = as_tensor(input)
    if input.ndim not in (1, 2):
        raise ValueError(
            f"{name}: input must be logits of shape (N, C) or (C,), got shape {input.shape}"
        )
    target = _as_target(target, name)
    kind = target.dtype.kind
    if kind in "iu":
        if target.shape != input.shape[:-1]:
            fits = target.numel() == math.prod(input.shape[:-1])
            hint = "; flatten it with target.reshape(-1)" if fits else ""
            raise ValueError(
                f"{name}: class-index target must have shape {input.shape[:-1]} for input of "
                f"shape {input.shape}, got {target.shape}{hint}"
            )
        return CrossEntropy.apply(input, classes=target._data, reduction=reduction)
    if kind == "f":
        if target.shape != input.shape:
            hint = ""
            if target.shape == input.shape[:-1]:
                hint = (
                    "; class indices must be integers: convert them with "
                    "target.astype(np.int64)"
                )
            raise ValueError(
                f"{name}: a probability target must have the input's shape {input.shape}, "
                f"got {target.shape}{hint}"
            )
        return CrossEntropy.apply(input, _like_input(target, input), reduction=reduction)
    raise TypeError(
        f"{name}: target must be integer class indices or float probabilities, "
        f"got dtype {target.dtype}"
    )


def binary_cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against ``target`` in [0, 1].

    Logs are clamped at -100, as in PyTorch. On raw scores (logits) use
    ``binary_cross_entropy_with_logits``: it is stabler and needs no sigmoid.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> round(F.binary_cross_entropy(tg.tensor([0.5]), tg.tensor([1.0])).item(), 4)
    0.6931
    """
    input, target = _same_shape_pair(input, target, reduction, "binary_cross_entropy")
    p = input._data
    # NaN passes (it gives a NaN loss, which a training loop reports as divergence).
    if (p < 0).any() or (p > 1).any():
        raise ValueError(
            f"binary_cross_entropy: input must hold probabilities in [0, 1], got values from "
            f"{np.nanmin(p):g} to {np.nanmax(p):g}; apply a sigmoid first, or better, pass "
            "the raw outputs to binary_cross_entropy_with_logits (BCEWithLogitsLoss)"
        )
    return ops.BinaryCrossEntropy.apply(input, target, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Any, target: Any, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from the logits.

    It is ``softplus(x) - x * y``: no log of 0 and no overflow for any logit.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> round(F.binary_cross_entropy_with_logits(tg.tensor([0.0]), tg.tensor([1.0])).item(), 4)
    0.6931
    """
    input, target = _same_shape_pair(
        input, target, reduction, "binary_cross_entropy_with_logits"
    )
    return _reduce(input.softplus() - input * target, reduction)
