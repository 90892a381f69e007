"""The normalization layers ``BatchNorm1d`` and ``LayerNorm``, as PyTorch has them.

``BatchNorm1d`` keeps running statistics as buffers (``running_mean``, ``running_var``,
``num_batches_tracked``): saved and loaded with the weights, never optimised; ``train()`` and
``eval()`` choose between the batch's statistics and the running ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.functions import as_tensor
from ..engine.tensor import Tensor
from . import checks
from . import functional as F
from .architecture import describable
from .module import Module, Parameter


def _momentum(value: Any, name: str, caller: str) -> float | None:
    # None: a cumulative average over all batches seen, as PyTorch.
    return None if value is None else checks.probability(value, name, caller)


def _affine(module: Module, shape: tuple[int, ...], dtype: np.dtype, weight: bool,
            bias: bool) -> None:
    """Register ``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None for each not
    wanted."""
    module.register_parameter("weight", Parameter(np.ones(shape, dtype)) if weight else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype)) if bias else None)


@describable
class BatchNorm1d(Module):
    """Normalize each feature of ``(N, C)`` (or ``(N, C, L)``) input over the batch.

    In training, by the batch's mean and (biased) variance, while ``running_mean`` and
    ``running_var`` (of the unbiased variance) move toward them by ``momentum`` (None: a
    cumulative average, by ``num_batches_tracked``); in evaluation, by the running statistics.
    Then ``* weight + bias`` per feature (``affine=True``; ``bias=False`` leaves the bias
    out). As ``torch.nn.BatchNorm1d``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> bn = nn.BatchNorm1d(2)
    >>> out = bn(tg.tensor([[0.0, 10.0], [2.0, 30.0]]))
    >>> [round(v, 3) for v in out.tolist()[1]], [round(v, 3) for v in bn.running_mean.tolist()]
    ([1.0, 1.0], [0.1, 2.0])
    >>> list(bn.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    """

    eps = checks.Setting(checks.positive)
    momentum = checks.Setting(_momentum)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = checks.positive_int(num_features, "num_features", name)
        self.eps, self.momentum = eps, momentum
        self.affine = checks.flag(affine, "affine", name)
        self.track_running_stats = checks.flag(track_running_stats, "track_running_stats", name)
        with_bias = checks.flag(bias, "bias", name)
        dtype = checks.float_dtype(dtype, name)
        _affine(self, (self.num_features,), dtype, self.affine, self.affine and with_bias)
        n = self.num_features
        tracked = self.track_running_stats
        for buffer, value in (("running_mean", np.zeros(n, dtype)),
                              ("running_var", np.ones(n, dtype)),
                              ("num_batches_tracked", np.array(0, np.int64))):
            self.register_buffer(buffer, Tensor._make(value, False, None) if tracked else None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches counted.

        >>> from tinygrad_mlp import nn
        >>> bn = nn.BatchNorm1d(1)
        >>> bn.reset_running_stats(); bn.running_var.tolist()
        [1.0]
        """
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        use_batch = self.training or self.running_mean is None
        # Every check first: a refused batch must not count as tracked.
        F.check_batch_norm_input(x, self.num_features, use_batch, type(self).__name__)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(
            x, self.running_mean if keep else None, self.running_var if keep else None,
            self.weight, self.bias, use_batch, factor, self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )

    def _config(self) -> dict[str, Any]:
        dtype = self.weight.dtype if self.weight is not None else (
            self.running_mean.dtype if self.running_mean is not None else np.dtype(np.float32))
        return {
            "num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
            "affine": self.affine, "track_running_stats": self.track_running_stats,
            "dtype": str(dtype), "bias": self.bias is not None,
        }

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        super()._state_shapes(config)
        n = checks.positive_int(config.get("num_features"), "num_features", cls.__name__)
        shapes: dict[str, tuple[int, ...]] = {}
        if checks.flag(config.get("affine", True), "affine", cls.__name__):
            shapes["weight"] = (n,)
            if checks.flag(config.get("bias", True), "bias", cls.__name__):
                shapes["bias"] = (n,)
        if checks.flag(config.get("track_running_stats", True), "track_running_stats",
                       cls.__name__):
            shapes.update(running_mean=(n,), running_var=(n,), num_batches_tracked=())
        return shapes


@describable
class LayerNorm(Module):
    """Normalize each sample over its last dimensions (``normalized_shape``): mean 0,
    variance 1 (``eps`` added), then ``* weight + bias`` elementwise
    (``elementwise_affine=True``; ``bias=False`` leaves the bias out). As
    ``torch.nn.LayerNorm``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> ln = nn.LayerNorm(2)
    >>> [round(v, 3) for v in ln(tg.tensor([[1.0, 3.0]])).tolist()[0]], list(ln.state_dict())
    ([-1.0, 1.0], ['weight', 'bias'])
    """

    eps = checks.Setting(checks.positive)

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.normalized_shape = checks.shape(normalized_shape, "normalized_shape", name)
        self.eps = eps
        self.elementwise_affine = checks.flag(elementwise_affine, "elementwise_affine", name)
        with_bias = checks.flag(bias, "bias", name)
        dtype = checks.float_dtype(dtype, name)
        affine = self.elementwise_affine
        _affine(self, self.normalized_shape, dtype, affine, affine and with_bias)

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )

    def _config(self) -> dict[str, Any]:
        dtype = self.weight.dtype if self.weight is not None else np.dtype(np.float32)
        return {
            "normalized_shape": list(self.normalized_shape), "eps": self.eps,
            "elementwise_affine": self.elementwise_affine, "bias": self.bias is not None,
            "dtype": str(dtype),
        }

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        super()._state_shapes(config)
        name = cls.__name__
        shape = checks.shape(config.get("normalized_shape"), "normalized_shape", name)
        if not checks.flag(config.get("elementwise_affine", True), "elementwise_affine", name):
            return {}
        with_bias = checks.flag(config.get("bias", True), "bias", name)
        return {"weight": shape, "bias": shape} if with_bias else {"weight": shape}
