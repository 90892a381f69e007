"""The activations: their modules, and the one table every part of the library reads them from.

``ACTIVATIONS`` maps each activation's one spelling (``"leaky_relu"``) to an
:class:`ActivationSpec`: its module class, the engine operation that module records, its
rule on a Tensor (its ``nn.functional`` form, of the same name), its other spellings, its
parameter, whether it has a kink, and its initialisation gain. ``nn.MLP`` builds from it,
``nn.init.calculate_gain`` reads its gains, the command line offers its names, the backprop
checker and the converter recognise a hand-written activation by it (``find_activation``),
the compiled step knows which operation each module makes, and the pictures name it. A new
activation is added here, once, and all of them know it.

>>> find_activation("LeakyReLU").name, find_activation("logistic").name
('leaky_relu', 'sigmoid')
>>> ACTIVATIONS["relu"].make()
ReLU()
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine import functions as _f
from ..engine import ops
from ..engine.autograd import Function
from ..engine.tensor import Tensor
from . import checks
from . import functional as F
from .architecture import describable
from .module import Module


@describable
class ReLU(Module):
    """max(x, 0), elementwise.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.ReLU()(tg.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def forward(self, x: Any) -> Tensor:
        return ops.ReLU.apply(x)


@describable
class LeakyReLU(Module):
    """x where x > 0, else ``negative_slope * x``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.LeakyReLU(0.5)(tg.tensor([-1.0, 2.0])).tolist()
    [-0.5, 2.0]
    """

    negative_slope = checks.Setting(checks.finite)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Tensor:
        return _f.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def _config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


@describable
class Tanh(Module):
    """Hyperbolic tangent, elementwise.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.Tanh()(tg.tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, x: Any) -> Tensor:
        return ops.Tanh.apply(x)


@describable
class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.Sigmoid()(tg.tensor([0.0])).tolist()
    [0.5]
    """

    def forward(self, x: Any) -> Tensor:
        return ops.Sigmoid.apply(x)


@describable
class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, a smooth ReLU (identity past ``threshold``).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> round(nn.Softplus()(tg.tensor([0.0])).item(), 4)
    0.6931
    """

    beta = checks.Setting(checks.positive)
    threshold = checks.Setting(checks.finite)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"

    def _config(self) -> dict[str, Any]:
        return {"beta": self.beta, "threshold": self.threshold}


@describable
class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for "no activation").

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.Identity()(tg.tensor([1.0])).tolist()
    [1.0]
    """

    def forward(self, x: Any) -> Any:
        return x


@describable
class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim`` (``axis=`` is accepted too).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.Softmax(dim=1)(tg.zeros(1, 2)).tolist()
    [[0.5, 0.5]]
    """

    dim = checks.Setting(checks.integer)

    def __init__(self, dim: int | None = None, axis: int | None = None) -> None:
        super().__init__()
        self.dim = checks.dim_or_axis(dim, axis, "Softmax")

    def forward(self, x: Any) -> Tensor:
        return _f.softmax(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def _config(self) -> dict[str, Any]:
        return {"dim": self.dim}


@describable
class GELU(Module):
    """``x * Φ(x)``, Φ the standard normal's distribution function: ``0.5 * x * (1 +
    erf(x / sqrt(2)))``, or with ``approximate="tanh"`` PyTorch's tanh approximation.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> [round(v, 4) for v in nn.GELU()(tg.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.1587, 0.0, 0.8413]
    """

    approximate = checks.Setting(lambda v, name, caller: checks.choice(
        v, name, caller, F.GELU_APPROXIMATIONS))

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def _config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


@describable
class ELU(Module):
    """x where x > 0, else ``alpha * (exp(x) - 1)``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> [round(v, 4) for v in nn.ELU()(tg.tensor([-1.0, 2.0])).tolist()]
    [-0.6321, 2.0]
    """

    alpha = checks.Setting(checks.finite)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Any) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def _config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


# ---------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class ActivationSpec:
    """One activation as the whole library knows it.

    ``name`` is its one spelling (in ``nn.MLP(activation=...)``, the command line and saved
    files); ``module`` its ``nn`` class, whose ``__name__`` is also the class name in
    ``tinygrad_mlp.manual`` where it has one; ``op`` the one engine operation the module
    records, None when it records none (the identity) or several: those are marked
    ``composite`` (GELU, ELU), so that a tool reading one op per module (the compiled step)
    knows them apart from the identity; ``rule(x, value)`` the activation of a Tensor ``x``
    (the ``nn.functional`` function of the same name), ``value`` being the parameter
    (``negative_slope``) or None. ``kinked``: its derivative at the kink (0) is a matter of
    convention, so a hand-written derivative may differ there and still be right.
    ``gain(value)`` is the initialisation gain PyTorch's ``calculate_gain`` gives it, None
    where PyTorch has none.
    """

    name: str
    module: type[Module]
    op: type[Function] | None
    rule: Callable[[Tensor, float | None], Tensor]
    aliases: tuple[str, ...] = ()
    parameter: str | None = None
    default: float | None = None
    kinked: bool = False
    composite: bool = False
    gain: Callable[[float | None], float] | None = None

    @property
    def title(self) -> str:
        """The class name: ``LeakyReLU``."""
        return self.module.__name__

    def value_of(self, obj: Any) -> float | None:
        """The parameter's value on ``obj`` (a module, or a hand-written activation), or the
        default when ``obj`` does not say.

        >>> ACTIVATIONS["leaky_relu"].value_of(LeakyReLU(0.2))
        0.2
        """
        if self.parameter is None:
            return None
        return float(getattr(obj, self.parameter, self.default))

    def make(self, value: float | None = None) -> Module:
        """A fresh module, with ``value`` for the parameter (its default when None)."""
        if self.parameter is None or value is None:
            return self.module()
        return self.module(value)

    def apply(self, x: Tensor, like: Any = None) -> Tensor:
        """The activation of ``x``, with the parameter read from ``like`` (see ``value_of``)."""
        return self.rule(x, self.value_of(like))


def _leaky_gain(slope: Any) -> float:
    slope = 0.01 if slope is None else checks.finite(slope, "param", "calculate_gain")
    return math.sqrt(2.0 / (1 + slope**2))


ACTIVATIONS: dict[str, ActivationSpec] = {
    spec.name: spec
    for spec in (
        ActivationSpec("relu", ReLU, ops.ReLU, lambda x, v: F.relu(x), kinked=True,
                       gain=lambda v: math.sqrt(2.0)),
        ActivationSpec("tanh", Tanh, ops.Tanh, lambda x, v: F.tanh(x),
                       gain=lambda v: 5.0 / 3.0),
        ActivationSpec("sigmoid", Sigmoid, ops.Sigmoid, lambda x, v: F.sigmoid(x),
                       aliases=("logistic",), gain=lambda v: 1.0),
        ActivationSpec("leaky_relu", LeakyReLU, ops.LeakyReLU,
                       lambda x, v: F.leaky_relu(x, 0.01 if v is None else v),
                       aliases=("leaky", "lrelu"), parameter="negative_slope", default=0.01,
                       kinked=True, gain=_leaky_gain),
        ActivationSpec("softplus", Softplus, ops.Softplus, lambda x, v: F.softplus(x)),
        ActivationSpec("identity", Identity, None, lambda x, v: x, aliases=("linear", "none"),
                       gain=lambda v: 1.0),
        ActivationSpec("softmax", Softmax, ops.Softmax, lambda x, v: F.softmax(x, dim=-1)),
        ActivationSpec("gelu", GELU, None, lambda x, v: F.gelu(x), composite=True),
        ActivationSpec("elu", ELU, None, lambda x, v: F.elu(x, 1.0 if v is None else v),
                       parameter="alpha", default=1.0, kinked=True, composite=True),
    )
}

# Activations offered between layers (the command line's --activation).
HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "softplus")


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


_BY_KEY = {
    _key(spelling): spec
    for spec in ACTIVATIONS.values()
    for spelling in (spec.name, spec.title, *spec.aliases)
}


def find_activation(obj: Any) -> ActivationSpec | None:
    """The activation that ``obj`` is: a name in any spelling (``"LeakyReLU"``,
    ``"leaky-relu"``, an alias), an ``nn`` module or its class, or any object whose ``.name``
    or class name says it (a hand-written ``class Relu``). None when it is none of them.

    >>> find_activation(Tanh()).name, find_activation("nope") is None
    ('tanh', True)
    """
    if isinstance(obj, str):
        return _BY_KEY.get(_key(obj))
    cls = obj if isinstance(obj, type) else type(obj)
    for spec in ACTIVATIONS.values():
        if cls is spec.module:
            return spec
    name = getattr(obj, "name", None)
    if isinstance(name, str) and _key(name) in _BY_KEY:
        return _BY_KEY[_key(name)]
    return _BY_KEY.get(_key(cls.__name__))


def make_activation(spec: Any, what: str = "activation", caller: str = "MLP") -> Module:
    """A fresh activation module from a name, a Module class or a Module instance (copied, so
    that no two layers share one).

    >>> make_activation("tanh")
    Tanh()
    """
    if isinstance(spec, str):
        found = _BY_KEY.get(_key(spec))
        if found is None:
            valid = ", ".join(repr(name) for name in ACTIVATIONS)
            raise ValueError(
                f"{caller}: unknown {what} {spec!r}; valid names are {valid} "
                "(or pass a Module class or instance)"
            )
        return found.make()
    if isinstance(spec, type) and issubclass(spec, Module):
        return spec()
    if isinstance(spec, Module):
        return copy.deepcopy(spec)
    raise TypeError(
        f"{caller}: {what} must be a name, a Module class or a Module instance, "
        f"got {type(spec).__name__}"
    )
