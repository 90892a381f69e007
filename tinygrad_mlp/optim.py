"""Optimizers with PyTorch's names, arguments and update rules: ``SGD``, ``Adam``, ``AdamW``.

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` and the hyperparameters,
which may be changed between steps, e.g. ``group["lr"] *= 0.1``) and ``state`` (per parameter:
its buffers as NumPy arrays). ``step()`` updates every parameter that has a ``.grad`` in place;
gradients are only read, never written. Parameters that do not require grad are accepted (the
usual way to freeze part of a model) and, having no ``.grad``, are left alone. ``step()``
checks every gradient (a Tensor of its parameter's shape) before it changes anything, and
keeps each state buffer in its parameter's current dtype (after ``model.double()``, say).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .engine.autograd import enable_grad
from .engine.tensor import Tensor


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``step`` and the state dict.

    Subclasses define ``_update(group)`` (one step for one group) and, to check their
    hyperparameters, ``_validate(group)``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import optim
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> opt = optim.SGD([w], lr=0.1)
    >>> len(opt.param_groups), opt.param_groups[0]["lr"]
    (1, 0.1)
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        # Keyed by the parameter itself, as in PyTorch. Safe although Tensor.__eq__ is
        # elementwise: the hash is the identity, and a dict compares keys by ``is`` first.
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                "dicts, but got a Tensor; wrap it in a list: [w]"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (the rest from defaults).

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import optim
        >>> opt = optim.SGD([tg.zeros(1, requires_grad=True)], lr=0.1)
        >>> opt.add_param_group({"params": [tg.zeros(1, requires_grad=True)], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (one computed from others)")
        known = {id(p) for group in self.param_groups for p in group["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in known for p in params):
            raise ValueError("some parameters appear more than once (in one or more groups)")
        group = {**self.defaults, **param_group, "params": params}
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict[str, Any]) -> None:
        if not group["lr"] >= 0.0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters: ``.grad`` becomes None (or new zeros).

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import optim
        >>> w = tg.tensor([1.0], requires_grad=True)
        >>> (w * 2).sum().backward()
        >>> optim.SGD([w], lr=0.1).zero_grad()
        >>> w.grad is None
        True
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p._grad = None
                elif p._grad is not None:
                    p._grad = Tensor._make(np.zeros_like(p._data), False, None)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()`` if given.

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import optim
        >>> w = tg.tensor([1.0], requires_grad=True)
        >>> (w * 2).sum().backward()
        >>> optim.SGD([w], lr=0.1).step()
        >>> round(w.item(), 4)
        0.8
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # Every gradient is checked before anything changes, so a bad one leaves all the
        # parameters and the state as they were (one cheap pass: a type and a shape each).
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is not None and (type(g) is not Tensor or g._data.shape != p._data.shape):
                    self._check_grad(p)
        for group in self.param_groups:
            self._update(group)
        return loss

    def _check_grad(self, p: Tensor) -> None:
        """Raise, naming the parameter, unless ``p.grad`` is a Tensor of ``p``'s shape."""
        g = p.grad
        if isinstance(g, Tensor) and g.shape == p.shape:
            return  # a Tensor subclass: fine after all
        index = next(i for i, q in enumerate(self._all_params()) if q is p)
        which = f"parameter {index}" + (f" ({p.name!r})" if p.name else "")
        if not isinstance(g, Tensor):
            raise TypeError(
                f"{type(self).__name__}.step: the .grad of {which} is a {type(g).__name__}, "
                "not a Tensor; nothing was updated (wrap an array: p.grad = tg.tensor(array))"
            )
        raise ValueError(
            f"{type(self).__name__}.step: the .grad of {which} has shape {g.shape}, but "
            f"the parameter has shape {p.shape}; nothing was updated"
        )

    def _update(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _all_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """The state as PyTorch lays it out, with parameters replaced by their index.

        ``{"state": {index: {name: array or number}}, "param_groups": [{..., "params":
        [indices]}]}``; arrays are copies.

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import optim
        >>> opt = optim.SGD([tg.zeros(1, requires_grad=True)], lr=0.1)
        >>> opt.state_dict()["param_groups"][0]["params"]
        [0]
        """
        index = {id(p): i for i, p in enumerate(self._all_params())}
        groups = [
            {**{k: v for k, v in group.items() if k != "params"},
             "params": [index[id(p)] for p in group["params"]]}
            for group in self.param_groups
        ]
        state = {
            index[id(p)]: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
            for p, s in self.state.items()
            if s
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and buffers saved by ``state_dict`` (copied, checked first).

        Parameters are matched by position, so the optimizer must have been built over the
        same parameters in the same order. Buffers are cast to each parameter's dtype.

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import optim
        >>> w = tg.zeros(1, requires_grad=True)
        >>> opt = optim.Adam([w], lr=0.1)
        >>> opt.load_state_dict(optim.Adam([w], lr=0.5).state_dict())
        >>> opt.param_groups[0]["lr"]
        0.5
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, but the "
                f"optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        for i, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict has {len(saved['params'])} parameters in group {i}, "
                    f"but the optimizer's group has {len(mine['params'])}"
                )
            by_index.update(zip((int(k) for k in saved["params"]), mine["params"]))
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, saved_state in state_dict["state"].items():
            if int(key) not in by_index:
                raise ValueError(f"loaded state dict has state for unknown parameter {key}")
            p = by_index[int(key)]
            for name, value in saved_state.items():
                if name == "step" or value is None:  # a count, or a buffer not made yet
                    state[p][name] = value if value is None else int(value)
                    continue
                array = np.array(value, dtype=p.dtype)  # a copy: later steps write into it
                if array.shape != p.shape:
                    raise ValueError(
                        f"loaded state '{name}' of parameter {key} has shape {array.shape}, "
                        f"but the parameter has shape {p.shape}"
                    )
                state[p][name] = array
        for mine, saved in zip(self.param_groups, saved_groups):
            mine.update({k: v for k, v in saved.items() if k != "params"})
        self.state = state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


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

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        _check(group["momentum"] >= 0.0, f"Invalid momentum value: {group['momentum']}")
        _check(group["weight_decay"] >= 0.0, f"Invalid weight_decay value: {group['weight_decay']}")
        _check(
            not group["nesterov"] or (group["momentum"] > 0 and group["dampening"] == 0),
            "Nesterov momentum requires a momentum and zero dampening",
        )

    def _update(self, group: dict[str, Any]) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        keep = 1.0 - float(group["dampening"])
        weight_decay, nesterov = float(group["weight_decay"]), group["nesterov"]
        for p in group["params"]:
            if p._grad is None:
                continue
            d_p = p._grad._data
            if weight_decay:
                d_p = d_p + weight_decay * p._data
            if momentum:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    # PyTorch's first step: the buffer is the gradient itself, undampened.
                    state["momentum_buffer"] = buf = d_p.astype(p._data.dtype)
                else:
                    if buf.dtype != p._data.dtype:  # the model was cast since the last step
                        state["momentum_buffer"] = buf = buf.astype(p._data.dtype)
                    buf *= momentum
                    buf += d_p if keep == 1.0 else keep * d_p
                d_p = d_p + momentum * buf if nesterov else buf
            p._data -= lr * d_p


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

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        _check(group["eps"] >= 0.0, f"Invalid epsilon value: {group['eps']}")
        for i, beta in enumerate(group["betas"]):
            _check(0.0 <= beta < 1.0, f"Invalid beta parameter at index {i}: {beta}")
        _check(group["weight_decay"] >= 0.0, f"Invalid weight_decay value: {group['weight_decay']}")

    def _update(self, group: dict[str, Any]) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        for p in group["params"]:
            if p._grad is None:
                continue
            g, param = p._grad._data, p._data
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(param)
                state["exp_avg_sq"] = np.zeros_like(param)
            elif state["exp_avg"].dtype != param.dtype:  # the model was cast since the last step
                state["exp_avg"] = state["exp_avg"].astype(param.dtype)
                state["exp_avg_sq"] = state["exp_avg_sq"].astype(param.dtype)
            state["step"] = step = state["step"] + 1
            if weight_decay:
                if self._decoupled:
                    param *= 1.0 - lr * weight_decay
                else:
                    g = g + weight_decay * param
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * np.square(g)
            denom = np.sqrt(v)
            denom /= math.sqrt(1.0 - beta2**step)
            denom += eps
            np.divide(m, denom, out=denom)  # reuse the buffer for the step itself
            denom *= lr / (1.0 - beta1**step)
            param -= denom


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
