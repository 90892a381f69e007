"""Loss modules: each holds its ``reduction`` and calls the function of the same name in
``nn.functional`` (where the formulas and the shape checks live)."""

from __future__ import annotations

from typing import Any

from ..engine.tensor import Tensor
from . import checks
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        # Checked here too, so a typo fails where the loss is made, not at the first batch.
        checks.check_reduction(reduction, type(self).__name__)
        self.reduction = reduction


class MSELoss(_Loss):
    """Mean squared error, ``F.mse_loss``; input and target must have the same shape.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.MSELoss()(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 4.0])).item()
    2.0
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on logits, ``F.cross_entropy``: integer class targets ``(N,)``
    or class probabilities ``(N, C)``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> round(nn.CrossEntropyLoss()(tg.zeros(2, 4), [0, 3]).item(), 4)
    1.3863
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.cross_entropy(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities, ``F.binary_cross_entropy`` (logs clamped at
    -100). Prefer ``BCEWithLogitsLoss`` on raw outputs.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> round(nn.BCELoss()(tg.tensor([0.5]), tg.tensor([0.0])).item(), 4)
    0.6931
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of ``sigmoid(input)``, stable for any logit,
    ``F.binary_cross_entropy_with_logits``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> round(nn.BCEWithLogitsLoss()(tg.tensor([0.0]), tg.tensor([0.0])).item(), 4)
    0.6931
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)
