"""The layers: ``Linear``, ``Flatten``, ``Dropout`` and ``MLP`` (the activations live in
``activations``, the normalizations in ``normalization``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import functions as _f
from ..engine import ops
from ..engine.tensor import Tensor
from . import architecture, checks, init
from . import functional as F
from .activations import make_activation
from .architecture import describable
from .module import Module, Parameter, Sequential

# nn.Linear stores weights with at least this many entries column-major (see its __init__).
_COLUMN_MAJOR_FROM = 64 * 64


@describable
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
        self.in_features = checks.positive_int(in_features, "in_features", "Linear")
        self.out_features = checks.positive_int(out_features, "out_features", "Linear")
        checks.flag(bias, "bias", "Linear")
        dtype = checks.float_dtype(dtype, "Linear")
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

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        super()._state_shapes(config)
        n_in = checks.positive_int(config.get("in_features"), "in_features", "Linear")
        n_out = checks.positive_int(config.get("out_features"), "out_features", "Linear")
        shapes = {"weight": (n_out, n_in)}
        if checks.flag(config.get("bias", True), "bias", "Linear"):
            shapes["bias"] = (n_out,)
        return shapes


@describable
class Flatten(Module):
    """Merge dimensions ``start_dim`` to ``end_dim`` into one (by default: all but the batch).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.Flatten()(tg.zeros(4, 8, 8)).shape
    (4, 64)
    """

    start_dim = checks.Setting(checks.integer)
    end_dim = checks.Setting(checks.integer)

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Tensor:
        return _f.as_tensor(x).flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def _config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}


@describable
class Dropout(Module):
    """In training, zero each entry with probability ``p`` and scale the others by
    ``1 / (1 - p)``; in evaluation (``model.eval()``), pass the input through unchanged.

    Which entries are dropped is drawn from ``generator`` (a ``np.random.Generator``) when
    given, else from the default generator that ``tg.manual_seed`` seeds.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> drop = nn.Dropout(0.5)
    >>> tg.manual_seed(0)
    >>> sorted(set(drop(tg.ones(8)).tolist()))
    [0.0, 2.0]
    >>> drop.eval()(tg.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    p = checks.Setting(checks.probability)
    generator = checks.Setting(checks.generator)

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def _config(self) -> dict[str, Any]:
        # The generator is not saved: a rebuilt Dropout draws from the default one.
        return {"p": self.p}


@describable
class MLP(Sequential):
    """A multilayer perceptron: ``Linear`` layers with an activation between them.

    ``sizes`` lists the width of every layer, input first: ``[2, 16, 16, 1]`` makes three
    Linear layers. ``activation`` goes between them and ``output_activation`` (if any)
    after the last; each is a name from ``nn.ACTIVATIONS`` (``"relu"``, ``"tanh"``, ...; any
    spelling ``find_activation`` knows), a Module class or an instance. ``sizes`` may be a
    list, a tuple, a range or a 1-D integer array.

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
        sizes = layer_sizes(sizes)
        checks.flag(bias, "bias", "MLP")
        # Checked before any layer is made, so a bad name draws nothing from the generator.
        make_activation(activation, "activation")
        if output_activation is not None:
            make_activation(output_activation, "output_activation")
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(Linear(n_in, n_out, bias=bias))
            if i < len(sizes) - 2:
                layers.append(make_activation(activation, "activation"))
        if output_activation is not None:
            layers.append(make_activation(output_activation, "output_activation"))
        super().__init__(*layers)
        self.sizes = sizes

    def _config(self) -> dict[str, Any] | None:
        # The layer stack as it is, not the constructor's arguments: activations may be custom
        # instances (LeakyReLU(0.2)) and layers may have been replaced since.
        config = super()._config()
        return None if config is None else {"sizes": list(self.sizes), **config}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Module:
        # Around __init__, which would make the stack from sizes and activation names: the
        # recorded stack is built as it was and the sizes are set beside it.
        sizes = layer_sizes(config.get("sizes"))
        model = cls.__new__(cls)
        Sequential.__init__(model, architecture.build_children(config))
        model.sizes = sizes
        return model


    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        layer_sizes(config.get("sizes"))
        return super()._state_shapes(config)


def layer_sizes(sizes: Any) -> tuple[int, ...]:
    """``MLP``'s ``sizes`` checked: at least two positive ints, in a list, tuple, range or
    1-D integer array.

    >>> layer_sizes(np.array([2, 8, 1]))
    (2, 8, 1)
    """
    listed = isinstance(sizes, (Sequence, np.ndarray)) and not isinstance(sizes, (str, bytes))
    if not listed or (isinstance(sizes, np.ndarray) and sizes.ndim != 1) or len(sizes) < 2:
        raise ValueError(
            "MLP: sizes must list at least two layer widths (input and output), "
            f"e.g. [2, 16, 1]; got {sizes!r:.80}"
        )
    return tuple(checks.positive_int(n, f"sizes[{i}]", "MLP") for i, n in enumerate(sizes))
