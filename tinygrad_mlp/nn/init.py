"""Weight initialisation, with PyTorch's names and formulas (``torch.nn.init``).

Each function fills a tensor in place and returns it. Nothing is recorded for backward:
the values are written straight into ``.data``. Random ones draw from ``generator=``
(a ``np.random.Generator``; ``rng=`` is the same) or else from the default generator that
``tg.manual_seed`` seeds.

For a weight of shape ``(out, in)`` the fans are ``fan_in = in`` and ``fan_out = out``
(times the receptive field size for tensors with more than two dimensions).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine.tensor import Tensor, default_rng
from . import checks
from .activations import ACTIVATIONS, find_activation

# PyTorch's names that are not activations here: the linear layers' (gain 1) and SELU's.
_OTHER_GAINS = {
    **dict.fromkeys(["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                     "conv_transpose3d"], 1.0),
    "selu": 3.0 / 4.0,
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table), read from the gains of
    ``nn.ACTIVATIONS``.

    ``leaky_relu`` uses ``param`` as its negative slope (0.01 when None).

    >>> round(calculate_gain("relu"), 4), round(calculate_gain("leaky_relu", 0.2), 4)
    (1.4142, 1.3868)
    """
    if nonlinearity in _OTHER_GAINS:
        return _OTHER_GAINS[nonlinearity]
    spec = find_activation(nonlinearity) if isinstance(nonlinearity, str) else None
    if spec is not None and spec.gain is not None:
        return spec.gain(param)
    known = [name for name, s in ACTIVATIONS.items() if s.gain is not None]
    valid = ", ".join(repr(name) for name in sorted([*known, "linear", *_OTHER_GAINS]))
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; valid: {valid}")


def _calculate_fan_in_and_fan_out(t: Tensor, caller: str = "init") -> tuple[int, int]:
    shape = _filled(t, caller).shape
    if len(shape) < 2:
        raise ValueError(
            f"{caller}: Fan in and fan out can not be computed for tensor with fewer than 2 "
            f"dimensions (got shape {shape})"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _filled(t: Any, caller: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{caller}: expected a Tensor to fill, got {type(t).__name__}")
    return t


def _rng(generator: Any, rng: Any, caller: str) -> np.random.Generator:
    if generator is not None and rng is not None:
        raise ValueError(f"{caller}: give generator= or rng=, not both")
    chosen = checks.generator(generator, "generator", caller) or checks.generator(
        rng, "rng", caller)
    # Asked for now, not at import: manual_seed replaces the default generator.
    return chosen or default_rng()


def uniform_(
    t: Tensor, a: float = 0.0, b: float = 1.0, *,
    generator: np.random.Generator | None = None, rng: np.random.Generator | None = None,
) -> Tensor:
    """Fill ``t`` with samples from the uniform distribution on [a, b).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> w = nn.init.uniform_(tg.zeros(1000), -1, 1)
    >>> bool((w.abs() <= 1).all())
    True
    """
    a, b = checks.finite(a, "a", "uniform_"), checks.finite(b, "b", "uniform_")
    if a > b:
        raise ValueError(f"uniform_: expects a <= b (the range [a, b)), got a={a}, b={b}")
    _filled(t, "uniform_")._data[...] = _rng(generator, rng, "uniform_").uniform(a, b, t.shape)
    return t


def normal_(
    t: Tensor, mean: float = 0.0, std: float = 1.0, *,
    generator: np.random.Generator | None = None, rng: np.random.Generator | None = None,
) -> Tensor:
    """Fill ``t`` with samples from the normal distribution N(mean, std**2).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.normal_(tg.zeros(3, 2), std=0.1).shape
    (3, 2)
    """
    mean = checks.finite(mean, "mean", "normal_")
    if checks.finite(std, "std", "normal_") < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    _filled(t, "normal_")._data[...] = _rng(generator, rng, "normal_").normal(mean, std, t.shape)
    return t


def constant_(t: Tensor, val: float) -> Tensor:
    """Fill ``t`` with ``val``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.constant_(tg.zeros(2), 0.5).tolist()
    [0.5, 0.5]
    """
    if not checks.is_number(val):
        raise TypeError(f"constant_: val must be a number, got {val!r:.60}")
    _filled(t, "constant_")._data[...] = val
    return t


def zeros_(t: Tensor) -> Tensor:
    """Fill ``t`` with zeros.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.zeros_(tg.ones(2)).tolist()
    [0.0, 0.0]
    """
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    """Fill ``t`` with ones.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.ones_(tg.zeros(2)).tolist()
    [1.0, 1.0]
    """
    return constant_(t, 1.0)


def xavier_uniform_(
    t: Tensor, gain: float = 1.0, *,
    generator: np.random.Generator | None = None, rng: np.random.Generator | None = None,
) -> Tensor:
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> w = nn.init.xavier_uniform_(tg.zeros(30, 20))
    >>> bool((w.abs() <= (6 / 50) ** 0.5).all())
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t, "xavier_uniform_")
    gain = checks.finite(gain, "gain", "xavier_uniform_")
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator=generator, rng=rng)


def xavier_normal_(
    t: Tensor, gain: float = 1.0, *,
    generator: np.random.Generator | None = None, rng: np.random.Generator | None = None,
) -> Tensor:
    """Glorot normal: N(0, std**2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.xavier_normal_(tg.zeros(30, 20)).shape
    (30, 20)
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t, "xavier_normal_")
    std = checks.finite(gain, "gain", "xavier_normal_") * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(t, 0.0, std, generator=generator, rng=rng)


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str, caller: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{caller}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t, caller)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, checks.finite(a, "a", caller)) / math.sqrt(fan)


def kaiming_uniform_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
    generator: np.random.Generator | None = None, rng: np.random.Generator | None = None,
) -> Tensor:
    """He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``, ``gain`` from ``nonlinearity``.

    ``a`` is the negative slope of a leaky ReLU; ``mode`` picks ``fan_in`` (keeps the
    forward variance) or ``fan_out`` (keeps the backward variance).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> w = nn.init.kaiming_uniform_(tg.zeros(30, 20), nonlinearity="relu")
    >>> bool((w.abs() <= (6 / 20) ** 0.5).all())
    True
    """
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(t, -bound, bound, generator=generator, rng=rng)


def kaiming_normal_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
    generator: np.random.Generator | None = None, rng: np.random.Generator | None = None,
) -> Tensor:
    """He normal: N(0, std**2) with ``std = gain / sqrt(fan)``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.kaiming_normal_(tg.zeros(30, 20), mode="fan_out").shape
    (30, 20)
    """
    std = _kaiming_std(t, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(t, 0.0, std, generator=generator, rng=rng)
