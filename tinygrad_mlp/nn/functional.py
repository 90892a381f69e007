"""Layers and losses as plain functions, with PyTorch's names (``torch.nn.functional``).

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
from ..engine.tensor import Tensor
from .checks import check_reduction

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


def softmax(input: Any, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, stable for large x.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> F.softmax(tg.zeros(2, 2), dim=1).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    return _f.softmax(input, axis=dim)


def log_softmax(input: Any, dim: int = -1) -> Tensor:
    """log(softmax(x)) along ``dim``, stable for large x.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.nn import functional as F
    >>> round(F.log_softmax(tg.zeros(2), dim=0).tolist()[0], 4)
    -0.6931
    """
    return _f.log_softmax(input, axis=dim)


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
