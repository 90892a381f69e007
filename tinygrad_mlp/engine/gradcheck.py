"""``gradcheck``: analytic gradients against central finite differences, in float64.

What it guarantees: every entry of every input that requires grad is checked against every
output element; a non-finite gradient (NaN or inf, analytic or numerical) is a failure, never
a pass (NaN compares False with everything, so it must be looked for); ``eps``, ``atol`` and
``rtol`` are checked first (a zero or negative step would compare nothing). The finite
differences are the engine's one routine, :func:`numerics.partial_derivatives`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .backward import run_backward
from .modes import no_grad
from .numerics import non_finite, partial_derivatives
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Analytic and numerical gradients disagree; the message names the worst entry."""


def _outputs(fn: Callable, inputs: Sequence[Tensor]) -> list[Tensor]:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o if isinstance(o, Tensor) else Tensor(o, dtype=np.float64) for o in outs]


def _check_settings(eps: Any, atol: Any, rtol: Any) -> None:
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"gradcheck: {name} must be a real number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"gradcheck: {name} must be finite, got {value!r}")
    if eps <= 0:
        raise ValueError(f"gradcheck: eps must be positive (the finite-difference step), got {eps}")
    for name, value in (("atol", atol), ("rtol", rtol)):
        if value < 0:
            raise ValueError(f"gradcheck: {name} must not be negative, got {value}")


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare ``fn``'s analytic gradients with finite differences for every input entry.

    Inputs that require grad are checked. Float inputs are copied to float64 first (float32
    is too coarse for finite differences); integer inputs (indices, class labels) are passed
    as they are. Returns True, or raises ``GradcheckError`` naming the worst entry (or
    returns False with ``raise_exception=False``). A NaN or inf gradient, analytic or
    numerical, always fails.

    >>> import tinygrad_mlp as tg
    >>> x = tg.tensor([0.5, -1.0], requires_grad=True)
    >>> tg.gradcheck(lambda t: (t.tanh() * t).sum(), [x])
    True
    >>> tg.gradcheck(lambda t: t.log().sum(), [x], raise_exception=False)  # log(-1) is NaN
    False
    """
    _check_settings(eps, atol, rtol)
    given = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    xs = [_float64_copy(x) for x in given]
    checked = [i for i, x in enumerate(xs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")

    outs = _outputs(fn, xs)
    # One pair of forward passes per input entry gives that entry's column of every output's
    # Jacobian; differencing per output element too would cost outputs-times more passes.
    sizes = [o.numel() for o in outs]
    numeric = {i: _numerical_jacobians(fn, xs, i, eps, sizes) for i in checked}
    worst = (0.0, "")
    for k, out in enumerate(outs):
        if not out.requires_grad:
            continue
        for j in range(out.numel()):
            seed = np.zeros(out.shape)
            seed.flat[j] = 1.0
            analytic = run_backward([out], [seed], True, False, capture=[xs[i] for i in checked])
            for slot, i in enumerate(checked):
                x = xs[i]
                a = analytic[slot]
                a_flat = np.zeros(x.numel()) if a is None else np.asarray(a, np.float64).ravel()
                row = numeric[i][k][j] if x.numel() else ()
                for e, num in enumerate(row):
                    score = _score(a_flat[e], num, atol, rtol)
                    if score > max(worst[0], 1.0):
                        worst = (score, _mismatch(x, i, e, k, j, a_flat[e], num, atol, rtol))
    if worst[0]:
        if raise_exception:
            raise GradcheckError(worst[1])
        return False
    return True


def _score(analytic: float, numerical: float, atol: float, rtol: float) -> float:
    """How far outside the tolerance an entry is (above 1 fails; non-finite is worst)."""
    if non_finite(np.array([analytic, numerical])):
        return math.inf
    allowed = atol + rtol * abs(numerical)
    error = abs(analytic - numerical)
    if allowed == 0:
        return math.inf if error else 0.0
    return error / allowed


def _mismatch(x: Tensor, i: int, e: int, k: int, j: int, analytic: float, numerical: float,
              atol: float, rtol: float) -> str:
    index = np.unravel_index(e, x.shape) if x.ndim else ()
    where = f"gradcheck: input {i} entry {tuple(map(int, index))}, output {k} element {j}"
    bad = non_finite(np.array([analytic, numerical]))
    if bad:
        return (f"{where}: analytic {analytic:.8g} vs numerical {numerical:.8g} ({bad} in a "
                "gradient: a non-finite gradient never passes)")
    error, allowed = abs(analytic - numerical), atol + rtol * abs(numerical)
    return (f"{where}: analytic {analytic:.8g} vs numerical {numerical:.8g} "
            f"(abs error {error:.3g}, allowed {allowed:.3g})")


def _float64_copy(x: Any) -> Tensor:
    """A float64 copy of a float input (finite differences need it); others stay as they are,
    since an integer input is usually an index or a class label."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    dtype = np.float64 if x._data.dtype.kind == "f" else x._data.dtype
    return Tensor(np.array(x._data, dtype=dtype), requires_grad=x.requires_grad)


def _numerical_jacobians(
    fn: Callable, xs: list[Tensor], i: int, eps: float, sizes: list[int]
) -> list[np.ndarray]:
    """For each output, its (output elements, entries of input i) Jacobian by central
    differences (the entries of input i are moved in place, one at a time, and restored)."""

    def flat_outputs(_: np.ndarray) -> np.ndarray:
        with no_grad():
            outs = _outputs(fn, xs)
        return np.concatenate([np.asarray(o._data, np.float64).ravel() for o in outs])

    columns = partial_derivatives(flat_outputs, xs[i]._data, step=eps)  # (entries, outputs)
    if columns.size == 0:
        return [np.zeros((n, 0)) for n in sizes]  # an empty input: no entry is looked up
    splits = np.cumsum(sizes)[:-1]
    return [part.T for part in np.split(columns, splits, axis=1)]
