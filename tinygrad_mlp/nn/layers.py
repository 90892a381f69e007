"""The layers: ``Linear``, ``Flatten`` and ``MLP`` (the activations live in ``activations``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import functions as _f
from ..engine import ops
from ..engine.tensor import Tensor
from . import init
from .activations import make_activation
from .module import Module, Parameter, Sequential, _children, _describable

# nn.Linear stores weights with at least this many entries column-major (see its __init__).
_COLUMN_MAJOR_FROM = 64 * 64


@_describable
class Linear(Module):
    """``y = x @ weight.T + bias``, with PyTorch's layout and initialisation.

    ``weight`` has shape ``(out_features, in_features)``; weight and bias start uniform in
    ``±1/sqrt(in_features)``, drawn from the default generator (``tg.manual_seed``).
    Parameters are float32 unless ``dtype=`` says otherwise.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> layer = nn.Linear(3, 2)
    >>> layer.weight.shape, layer(tg.ones(5, 3)).shape
    ((2, 3), (5, 2))
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        for what, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Linear: {what} must be a positive int, got {n!r}")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype.kind != "f":
            raise TypeError(f"Linear: parameters must have a float dtype, got {dtype}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        # A big weight is stored column-major: weight.T is then a plain row-major matrix and
        # BLAS multiplies ``x @ weight.T`` as fast as the hand-written ``x @ W`` (a transposed
        # right-hand operand costs it up to 1.5x), at the price of a slower ``g @ weight`` in
        # backward, which the first layer does not need. Measured over whole training steps
        # this wins from about 64 x 64 weights on and loses below. Shape and values are the
        # same either way.
        order = "F" if self.in_features * self.out_features >= _COLUMN_MAJOR_FROM else "C"
        self.weight = Parameter(
            np.empty((self.out_features, self.in_features), dtype, order=order)
        )
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights (and bias) uniform in ``±1/sqrt(in_features)``.

        >>> from tinygrad_mlp import nn
        >>> layer = nn.Linear(4, 1)
        >>> layer.reset_parameters()
        >>> bool((layer.weight.abs() <= 0.5).all())
        True
        """
        bound = 1.0 / math.sqrt(self.in_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Any) -> Tensor:
        # Straight to the fused operation: this call is on every training step's hot path.
        if self.bias is None:
            return ops.Linear.apply(x, self.weight)
        return ops.Linear.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )

    def _config(self) -> dict[str, Any]:
        # The weight's dtype, so that a double() model comes back in float64.
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
            "dtype": str(self.weight.dtype),
        }


@_describable
class Flatten(Module):
    """Merge dimensions ``start_dim`` to ``end_dim`` into one (by default: all but the batch).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.Flatten()(tg.zeros(4, 8, 8)).shape
    (4, 64)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Tensor:
        return _f.as_tensor(x).flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def _config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}


@_describable
class MLP(Sequential):
    """A multilayer perceptron: ``Linear`` layers with an activation between them.

    ``sizes`` lists the width of every layer, input first: ``[2, 16, 16, 1]`` makes three
    Linear layers. ``activation`` goes between them and ``output_activation`` (if any)
    after the last; each is a name (``"relu"``, ``"tanh"``, ``"sigmoid"``,
    ``"leaky_relu"``, ``"softplus"``, ``"identity"``), a Module class or an instance.

    >>> from tinygrad_mlp import nn
    >>> nn.MLP([2, 16, 1])
    MLP(
      (0): Linear(in_features=2, out_features=16, bias=True)
      (1): ReLU()
      (2): Linear(in_features=16, out_features=1, bias=True)
    )
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: Any = "relu",
        output_activation: Any = None,
        bias: bool = True,
    ) -> None:
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
            raise ValueError(
                f"MLP: sizes must list at least two layer widths (input and output), "
                f"e.g. [2, 16, 1]; got {sizes!r}"
            )
        for i, n in enumerate(sizes):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"MLP: sizes[{i}] must be a positive int, got {n!r}")
        # Checked before any layer is made, so a bad name draws nothing from the generator.
        make_activation(activation, "activation")
        if output_activation is not None:
            make_activation(output_activation, "output_activation")
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(Linear(int(n_in), int(n_out), bias=bias))
            if i < len(sizes) - 2:
                layers.append(make_activation(activation, "activation"))
        if output_activation is not None:
            layers.append(make_activation(output_activation, "output_activation"))
        super().__init__(*layers)
        self.sizes = tuple(int(n) for n in sizes)

    def _config(self) -> dict[str, Any] | None:
        # The layer stack as it is, not the constructor's arguments: activations may be custom
        # instances (LeakyReLU(0.2)) and layers may have been replaced since.
        config = super()._config()
        return None if config is None else {"sizes": list(self.sizes), **config}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Module:
        # Around __init__, which would make the stack from sizes and activation names: the
        # recorded stack is built as it was and the sizes are set beside it.
        model = cls.__new__(cls)
        Sequential.__init__(model, _children(config))
        model.sizes = tuple(int(n) for n in config["sizes"])
        return model
