"""``clip_grad_norm_``: cap the size of a gradient step."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from . import checks


def _tensors(parameters: Any) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Iterable):
        raise TypeError(
            "clip_grad_norm_: parameters must be a Tensor or an iterable of Tensors (such as "
            f"model.parameters()), got {type(parameters).__name__}"
        )
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"clip_grad_norm_: parameters[{i}] is a {type(p).__name__}, not a Tensor"
            )
    return params


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as if they were one vector (``norm_type`` 2 by
    default; ``float("inf")`` for the largest entry). As in PyTorch, the gradients are
    multiplied by ``max_norm / (total + 1e-6)`` when that is below 1. Returns the total norm
    before clipping as a 0-d Tensor. Gradients are replaced by new arrays, never written into.
    With a non-finite norm the gradients are scaled as in PyTorch (a NaN norm makes every
    gradient NaN, an inf one makes the finite entries 0), unless ``error_if_nonfinite=True``,
    which raises ``RuntimeError`` instead.

    >>> import tinygrad_mlp as tg
    >>> w = tg.tensor([0.0, 0.0], requires_grad=True)
    >>> (w * tg.tensor([3.0, 4.0])).sum().backward()
    >>> float(tg.nn.utils.clip_grad_norm_([w], max_norm=1.0))
    5.0
    >>> [round(v, 4) for v in w.grad.tolist()]
    [0.6, 0.8]
    """
    params = _tensors(parameters)
    if not (checks.is_number(max_norm) and max_norm >= 0):  # NaN fails too
        raise ValueError(
            "clip_grad_norm_: max_norm must be a number of 0 or more (a negative cap would "
            f"reverse every gradient), got {max_norm!r}"
        )
    if not (checks.is_number(norm_type) and (norm_type > 0 or norm_type == math.inf)):
        raise ValueError(
            "clip_grad_norm_: norm_type must be a positive number or float('inf'), got "
            f"{norm_type!r}"
        )
    norm_type = float(norm_type)
    checks.flag(error_if_nonfinite, "error_if_nonfinite", "clip_grad_norm_")
    grads = [p for p in params if p.grad is not None]
    if not grads:
        return Tensor._make(np.asarray(0.0, dtype=np.float32), False, None)
    # Accumulated in float64: squares of float32 gradients overflow long before the norm does.
    if math.isinf(norm_type):
        # np.max, unlike the builtin max, lets a NaN through whatever its position.
        total = float(np.max([np.max(np.abs(p.grad._data), initial=0.0) for p in grads]))
    else:
        total = 0.0
        for p in grads:
            g = p.grad._data.astype(np.float64, copy=False).ravel()
            total += float(g @ g) if norm_type == 2.0 else float(np.sum(np.abs(g) ** norm_type))
        total = total ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            f"non-finite ({total}), so it cannot be clipped; pass error_if_nonfinite=False "
            "to clip anyway"
        )
    coef = max_norm / (total + 1e-6)
    # As in PyTorch, a NaN norm gives a NaN coefficient and so NaN gradients, and an inf
    # norm a coefficient of 0: ``not coef >= 1`` is true for NaN, where ``coef < 1`` is not.
    if not coef >= 1.0:
        # inf * 0 is NaN, as in PyTorch, and PyTorch says nothing about it either.
        with np.errstate(invalid="ignore"):
            for p in grads:
                p.grad = Tensor._make(p.grad._data * coef, False, None)
    return Tensor._make(np.asarray(total, dtype=grads[0].grad._data.dtype), False, None)
