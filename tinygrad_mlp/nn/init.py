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

import numpy as np

from ..engine.tensor import Tensor, default_rng

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4.0,
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table).

    ``leaky_relu`` uses ``param`` as its negative slope (0.01 when None).

    >>> round(calculate_gain("relu"), 4)
    1.4142
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity in _GAINS:
        return _GAINS[nonlinearity]
    valid = ", ".join(repr(name) for name in sorted([*_GAINS, "leaky_relu"]))
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; valid: {valid}")


def _calculate_fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    shape = t.shape
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {shape})"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _rng(generator: np.random.Generator | None, rng: np.random.Generator | None):
    if generator is not None and rng is not None:
        raise ValueError("give generator= or rng=, not both")
    # Asked for now, not at import: manual_seed replaces the default generator.
    return generator or rng or default_rng()


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
    t._data[...] = _rng(generator, rng).uniform(a, b, t.shape)
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
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    t._data[...] = _rng(generator, rng).normal(mean, std, t.shape)
    return t


def constant_(t: Tensor, val: float) -> Tensor:
    """Fill ``t`` with ``val``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.constant_(tg.zeros(2), 0.5).tolist()
    [0.5, 0.5]
    """
    t._data[...] = val
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
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
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
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(t, 0.0, std, generator=generator, rng=rng)


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str, caller: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{caller}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


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
