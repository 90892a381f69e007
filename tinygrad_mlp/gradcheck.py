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

    Inputs that require grad are checked; they are copied to float64 first (float32 is too
    coarse for finite differences). Returns True, or raises ``GradcheckError`` naming the
    worst entry (or returns False with ``raise_exception=False``).

    >>> import tinygrad_mlp as tg
    >>> x = tg.tensor([0.5, -1.0], requires_grad=True)
    >>> tg.gradcheck(lambda t: (t.tanh() * t).sum(), [x])
    True
    """
    given = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    xs = [
        Tensor(np.array(x._data if isinstance(x, Tensor) else x, dtype=np.float64),
               requires_grad=isinstance(x, Tensor) and x.requires_grad)
        for x in given
    ]
    checked = [i for i, x in enumerate(xs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")

    outs = _outputs(fn, xs)
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
                    numeric = _central_difference(fn, xs, i, e, k, j, eps)
                    error = abs(a_flat[e] - numeric)
                    if error > atol + rtol * abs(numeric):
                        excess = error / (atol + rtol * abs(numeric))
                        if excess > worst[0]:
                            index = np.unravel_index(e, x.shape) if x.ndim else ()
                            worst = (
                                excess,
                                f"gradcheck: input {i} entry {tuple(map(int, index))}, output "
                                f"{k} element {j}: analytic {a_flat[e]:.8g} vs numerical "
                                f"{numeric:.8g} (abs error {error:.3g}, allowed "
                                f"{atol + rtol * abs(numeric):.3g})",
                            )
    if worst[0]:
        if raise_exception:
            raise GradcheckError(worst[1])
        return False
    return True


def _central_difference(
    fn: Callable, xs: list[Tensor], i: int, e: int, k: int, j: int, eps: float
) -> float:
    x = xs[i]._data
    original = x.flat[e]
    try:
        with no_grad():
            x.flat[e] = original + eps
            plus = np.asarray(_outputs(fn, xs)[k]._data, np.float64).flat[j]
            x.flat[e] = original - eps
            minus = np.asarray(_outputs(fn, xs)[k]._data, np.float64).flat[j]
    finally:
        x.flat[e] = original
    return float((plus - minus) / (2 * eps))
