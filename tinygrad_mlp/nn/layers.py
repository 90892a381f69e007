"""The layers: ``Linear``, the activations, ``Flatten``, ``Identity``, ``Softmax`` and ``MLP``."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import functions as _f
from ..engine import ops
from ..engine.tensor import Tensor
from . import functional as F
from . import init
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
class ReLU(Module):
    """max(x, 0), elementwise.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.ReLU()(tg.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def forward(self, x: Any) -> Tensor:
        return ops.ReLU.apply(x)


@_describable
class LeakyReLU(Module):
    """x where x > 0, else ``negative_slope * x``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.LeakyReLU(0.5)(tg.tensor([-1.0, 2.0])).tolist()
    [-0.5, 2.0]
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Tensor:
        return _f.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def _config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


@_describable
class Tanh(Module):
    """Hyperbolic tangent, elementwise.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.Tanh()(tg.tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, x: Any) -> Tensor:
        return ops.Tanh.apply(x)


@_describable
class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.Sigmoid()(tg.tensor([0.0])).tolist()
    [0.5]
    """

    def forward(self, x: Any) -> Tensor:
        return ops.Sigmoid.apply(x)


@_describable
class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, a smooth ReLU (identity past ``threshold``).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> round(nn.Softplus()(tg.tensor([0.0])).item(), 4)
    0.6931
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"

    def _config(self) -> dict[str, Any]:
        return {"beta": self.beta, "threshold": self.threshold}


@_describable
class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for "no activation").

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.Identity()(tg.tensor([1.0])).tolist()
    [1.0]
    """

    def forward(self, x: Any) -> Any:
        return x


@_describable
class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim`` (``axis=`` is accepted too).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.Softmax(dim=1)(tg.zeros(1, 2)).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, dim: int | None = None, axis: int | None = None) -> None:
        super().__init__()
        if dim is not None and axis is not None and dim != axis:
            raise TypeError(f"Softmax: give dim or axis, not both (got dim={dim}, axis={axis})")
        self.dim = dim if dim is not None else (axis if axis is not None else -1)

    def forward(self, x: Any) -> Tensor:
        return _f.softmax(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def _config(self) -> dict[str, Any]:
        return {"dim": self.dim}


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


ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "leaky_relu": LeakyReLU,
    "softplus": Softplus,
    "identity": Identity,
}


def _activation(spec: Any, what: str) -> Module:
    """A fresh activation module from a name, a Module class or a Module instance."""
    if isinstance(spec, str):
        if spec.lower() not in ACTIVATIONS:
            valid = ", ".join(repr(name) for name in ACTIVATIONS)
            raise ValueError(
                f"MLP: unknown {what} {spec!r}; valid names are {valid} "
                "(or pass a Module class or instance)"
            )
        return ACTIVATIONS[spec.lower()]()
    if isinstance(spec, type) and issubclass(spec, Module):
        return spec()
    if isinstance(spec, Module):
        # A copy per position, so that no two layers share an activation's state.
        return copy.deepcopy(spec)
    raise TypeError(
        f"MLP: {what} must be a name, a Module class or a Module instance, "
        f"got {type(spec).__name__}"
    )


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
        _activation(activation, "activation")
        if output_activation is not None:
            _activation(output_activation, "output_activation")
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(Linear(int(n_in), int(n_out), bias=bias))
            if i < len(sizes) - 2:
                layers.append(_activation(activation, "activation"))
        if output_activation is not None:
            layers.append(_activation(output_activation, "output_activation"))
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
