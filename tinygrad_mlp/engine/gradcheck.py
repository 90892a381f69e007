"""``gradcheck``: analytic gradients against central finite differences, in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import no_grad, run_backward
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Analytic and numerical gradients disagree; the message names the worst entry."""


def _outputs(fn: Callable, inputs: Sequence[Tensor]) -> list[Tensor]:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o if isinstance(o, Tensor) else Tensor(o, dtype=np.float64) for o in outs]


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
    returns False with ``raise_exception=False``).

    >>> import tinygrad_mlp as tg
    >>> x = tg.tensor([0.5, -1.0], requires_grad=True)
    >>> tg.gradcheck(lambda t: (t.tanh() * t).sum(), [x])
    True
    """
    given = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    xs = [_float64_copy(x) for x in given]
    checked = [i for i, x in enumerate(xs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")

    outs = _outputs(fn, xs)
    # One pair of forward passes per input entry gives that entry's column of every output's
    # Jacobian; differencing per output element too would cost outputs-times more passes.
    numeric = {i: _numerical_jacobians(fn, xs, i, eps) for i in checked}
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
                for e in range(x.numel()):
                    num = numeric[i][k][j, e]
                    error = abs(a_flat[e] - num)
                    allowed = atol + rtol * abs(num)
                    if error > allowed and error / allowed > worst[0]:
                        index = np.unravel_index(e, x.shape) if x.ndim else ()
                        worst = (
                            error / allowed,
                            f"gradcheck: input {i} entry {tuple(map(int, index))}, output "
                            f"{k} element {j}: analytic {a_flat[e]:.8g} vs numerical "
                            f"{num:.8g} (abs error {error:.3g}, allowed {allowed:.3g})",
                        )
    if worst[0]:
        if raise_exception:
            raise GradcheckError(worst[1])
        return False
    return True


def _float64_copy(x: Any) -> Tensor:
    """A float64 copy of a float input (finite differences need it); others stay as they are,
    since an integer input is usually an index or a class label."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    dtype = np.float64 if x._data.dtype.kind == "f" else x._data.dtype
    return Tensor(np.array(x._data, dtype=dtype), requires_grad=x.requires_grad)


def _numerical_jacobians(
    fn: Callable, xs: list[Tensor], i: int, eps: float
) -> list[np.ndarray]:
    """For each output, its (output elements, entries of input i) Jacobian by central
    differences."""
    x = xs[i]._data
    columns: list[list[np.ndarray]] = []
    for e in range(x.size):
        original = x.flat[e]
        try:
            with no_grad():
                x.flat[e] = original + eps
                plus = [np.asarray(o._data, np.float64).ravel() for o in _outputs(fn, xs)]
                x.flat[e] = original - eps
                minus = [np.asarray(o._data, np.float64).ravel() for o in _outputs(fn, xs)]
        finally:
            x.flat[e] = original
        columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    if not columns:
        return []  # an empty input: no entry will be looked up
    return [np.stack([column[k] for column in columns], axis=1) for k in range(len(columns[0]))]
