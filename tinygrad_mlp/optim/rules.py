"""The update rules, as PyTorch's: ``SGD`` (momentum, dampening, Nesterov, weight decay),
``Adam`` and ``AdamW``. Each computes its step without writing anything (``_update``) and
checks it with one dot product per parameter, or per group for the plain SGD step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .commit import Writes
from .optimizer import NonFiniteGradient, Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, as ``torch.optim.SGD``.

    With gradient ``g`` (plus ``weight_decay * p``), the buffer starts as ``b = g`` on the
    first step and is ``b = momentum * b + (1 - dampening) * g`` after; the step is
    ``p -= lr * b`` (or ``lr * (g + momentum * b)`` with ``nesterov=True``).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import optim
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
    >>> round(w.item(), 4)
    0.46
    """

    _settings = frozenset({"lr", "momentum", "dampening", "weight_decay", "nesterov"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
            nesterov=nesterov,
        )
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        weight_decay = float(group["weight_decay"])
        if not momentum and not weight_decay and self._plain_step(group, lr):
            return
        keep, nesterov = 1.0 - float(group["dampening"]), group["nesterov"]
        state, isfinite = self.state, math.isfinite
        writes: Writes = self._writes  # type: ignore[assignment]
        for p, data, grad in self._gradients(group["params"]):
            d_p = grad
            if weight_decay:
                d_p = d_p + data * weight_decay
            entries = None
            if momentum:
                saved = state.get(p)
                buf = saved.get("momentum_buffer") if saved else None
                if buf is None:
                    # PyTorch's first step: the buffer is the gradient itself, undampened.
                    buf = d_p.astype(data.dtype)
                else:
                    if buf.dtype != data.dtype:  # the model was cast since the last step
                        buf = buf.astype(data.dtype)
                    buf = buf * momentum
                    buf += d_p if keep == 1.0 else d_p * keep
                entries = {"momentum_buffer": buf}
                d_p = d_p + buf * momentum if nesterov else buf
            # (array * number, not number * array: NumPy takes the faster path, same bits)
            delta = d_p * lr
            # One dot product is finite exactly when every entry is (or it overflowed):
            # a NaN or inf anywhere in the gradient or the buffer reaches the update.
            # (ravel("K") reads the array in memory order: a view of either layout.)
            flat = delta.ravel("K")
            if not isfinite(flat.dot(flat)):
                self._refuse_non_finite(p, grad, delta)
            if entries is not None:
                writes.entries.append((p, entries))
            writes.subtracts.append((data, delta))

    def _plain_step(self, group: dict[str, Any], lr: float) -> bool:
        """The plain step, ``p -= lr * g``, for a whole group: computed into one flat buffer
        kept for the group (``Optimizer._new_scratch``), so that one dot product checks every
        parameter's update at once. False (nothing added) when the group needs the general
        path: a parameter without a gradient, a parameter array replaced since the buffer
        was made (the buffer is made again), or parameters of several dtypes.

        The loop is the optimizer's hot path, so it checks only what can change from step to
        step: a gradient's shape and dtype are the parameter's (the engine and the ``.grad``
        setter see to that; one forced past the setter makes NumPy refuse, and the general
        path says what is wrong), and the arrays' writability is checked when the buffer is
        made.
        """
        params = group["params"]
        scratch = self._scratch.get(id(group))
        if scratch is None or scratch[0] is not group or len(scratch[1]) != len(params):
            scratch = self._new_scratch(group)
            if scratch is None:
                return False
        _, datas, flat, views = scratch
        multiply = np.multiply
        try:
            for p, known, view in zip(params, datas, views):
                grad = p._grad
                if grad is None or known is not p._data:
                    if grad is not None:
                        self._scratch.pop(id(group), None)  # made again at the next step
                    return False
                multiply(grad._data, lr, view)  # the same bits as lr * g, into the buffer
        except (AttributeError, TypeError, ValueError):
            return False  # a .grad forced past its setter: the general path names it
        if not math.isfinite(flat.dot(flat)):
            try:
                for p, view in zip(params, views):
                    self._refuse_non_finite(p, p._grad._data, view)
            except NonFiniteGradient:
                flat[...] = 0.0  # no NaN left behind in the views of the next step
                raise
        self._writes.blocks.append((datas, views))  # type: ignore[union-attr]
        return True


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``: bias-corrected moving averages of ``g`` and ``g**2``.

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2); for decoupled decay use
    ``AdamW``. Per step ``t``: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``,
    ``p -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import optim
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> opt = optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> round(w.item(), 4)
    0.9
    """

    _decoupled = False
    _settings = frozenset({"lr", "betas", "eps", "weight_decay"})
    _state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if isinstance(betas, list):
            betas = tuple(betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        state, isfinite = self.state, math.isfinite
        writes: Writes = self._writes  # type: ignore[assignment]
        for p, param, grad in self._gradients(group["params"]):
            g = grad
            saved = state.get(p)
            if not saved:
                step, m, v = 1, np.zeros_like(param), np.zeros_like(param)
            else:
                step, m, v = saved["step"] + 1, saved["exp_avg"], saved["exp_avg_sq"]
                if m.dtype != param.dtype:  # the model was cast since the last step
                    m, v = m.astype(param.dtype), v.astype(param.dtype)
            scale = None
            if weight_decay:
                if self._decoupled:
                    scale = 1.0 - lr * weight_decay
                else:
                    g = g + param * weight_decay
            m = m * beta1
            m += g * (1.0 - beta1)
            v = v * beta2
            v += np.square(g) * (1.0 - beta2)
            delta = np.sqrt(v)
            delta /= math.sqrt(1.0 - beta2**step)
            delta += eps
            np.divide(m, delta, out=delta)  # reuse the buffer for the step itself
            delta *= lr / (1.0 - beta1**step)
            # NaN or inf in either the step or the second moment (an overflowing g**2 that
            # the step alone would hide) makes this one dot product non-finite, whichever
            # entries it pairs.
            if not isfinite(delta.ravel("K").dot(v.ravel("K"))):
                self._refuse_non_finite(p, grad, v, delta)
            writes.entries.append((p, {"step": step, "exp_avg": m, "exp_avg_sq": v}))
            if scale is not None:
                writes.scales.append((param, scale))
            writes.subtracts.append((param, delta))


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``: ``p -= lr * wd * p``
    before the Adam step, instead of adding ``wd * p`` to the gradient.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import optim
    >>> optim.AdamW([tg.zeros(1, requires_grad=True)]).param_groups[0]["weight_decay"]
    0.01
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)
