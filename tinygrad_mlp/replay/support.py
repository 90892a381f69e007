"""What a replay supports: the model, loss and optimizer taken apart, or the reason they cannot be.

:func:`analyse` walks the model (``nn.Sequential`` / ``nn.MLP``, nested too, or a bare layer)
into :class:`~tinygrad_mlp.replay.forms.Layer` s, finds the loss's op and the optimizer's
update form, and gathers what the guards must watch (:meth:`Analysis.fingerprint`). What it
knows is read off the tables, never listed here again: a layer is supported when its module
class records an op that has a replay form (``forms.LAYER_FORMS``), the activations' module
classes and ops coming from ``nn.activations.ACTIVATIONS``; a loss when its op has one
(``forms.LOSS_FORMS``); an optimizer when its class has one (``updates.UPDATE_FORMS``).

>>> sorted(cls.__name__ for cls in supported_layers())
['Identity', 'Linear', 'ReLU', 'Sigmoid', 'Tanh']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import ops
from ..engine.autograd import Function
from ..engine.tensor import Tensor
from ..nn import functional as F
from ..nn.activations import ACTIVATIONS
from ..nn.layers import Linear
from ..nn.loss import CrossEntropyLoss, MSELoss
from ..nn.module import Module, Sequential
from ..optim import Optimizer
from .forms import LAYER_FORMS, LOSS_FORMS, Layer
from .updates import update_form
from .workspace import Unsupported

# The layers and losses of ``nn`` outside the activation table, and the op each records.
_LAYERS: dict[type[Module], type[Function]] = {Linear: ops.Linear}
_LOSS_MODULES: dict[type[Module], type[Function]] = {
    MSELoss: ops.MeanSquaredError, CrossEntropyLoss: ops.CrossEntropy,
}
_LOSS_FUNCTIONS: dict[Any, type[Function]] = {
    F.mse_loss: ops.MeanSquaredError, F.cross_entropy: ops.CrossEntropy,
}


def supported_layers() -> dict[type[Module], type[Function] | None]:
    """Each module class a replay knows, and the op it records (None: it records nothing,
    as the identity): ``nn.Linear`` and every activation of ``ACTIVATIONS`` whose op has a
    replay form."""
    table: dict[type[Module], type[Function] | None] = {
        cls: op for cls, op in _LAYERS.items() if op in LAYER_FORMS
    }
    for spec in ACTIVATIONS.values():
        # op None with composite=True (GELU, ELU) records several ops: not the identity.
        if (spec.op is None and not spec.composite) or spec.op in LAYER_FORMS:
            table[spec.module] = spec.op
    return table


def _describe(obj: Any) -> str:
    return type(obj).__name__


def plain(module: Any, base: type) -> bool:
    """``module`` behaves exactly as ``base`` does: no forward or call of its own."""
    cls = type(module)
    return (
        isinstance(module, base)
        and cls.forward is base.forward
        and cls.__call__ is Module.__call__
        and "forward" not in vars(module)
    )


def _known(module: Any, table: dict[type, Any]) -> type | None:
    """The class of ``table`` that ``module`` is, without changes of its own, or None."""
    for cls in type(module).__mro__:
        if cls in table:
            return cls if plain(module, cls) else None
    return None


@dataclass
class Analysis:
    """The model, loss and optimizer taken apart, with everything the guards must watch."""

    layers: list[Layer]
    containers: list[tuple[Module, tuple[Module, ...]]]
    loss_op: type[Function]
    reduction: str
    loss_module: Module | None
    update: Any  # the optimizer's entry of updates.UPDATE_FORMS
    groups: list[tuple[dict[str, Any], list[Tensor]]]
    dtype: np.dtype
    names: dict[int, str] = field(default_factory=dict)

    @property
    def loss_form(self) -> Any:
        return LOSS_FORMS[self.loss_op]

    def params(self) -> list[Tensor]:
        """Every parameter a step may touch (the layers' and the optimizer's), each once."""
        seen: dict[int, Tensor] = {}
        for layer in self.layers:
            for p in (layer.weight, layer.bias):
                if p is not None:
                    seen.setdefault(id(p), p)
        for _, params in self.groups:
            for p in params:
                seen.setdefault(id(p), p)
        return list(seen.values())

    def fingerprint(self) -> tuple:
        """Identities and flags that a recorded plan (or a refusal) depends on."""
        parts: list[Any] = [self.loss_op, self.reduction, self.update, self.dtype]
        parts += [(id(m), tuple(map(id, kids))) for m, kids in self.containers]
        for p in self.params():
            parts.append((id(p), id(p._data), p._requires_grad))
        for group, params in self.groups:
            parts.append((id(group), id(group["params"]), len(params),
                          self.update.pattern(group)))
        return tuple(parts)


class _Walk:
    """The model's layers in forward order, and its containers, each checked."""

    def __init__(self, model: Any) -> None:
        self.layers: list[Layer] = []
        self.containers: list[tuple[Module, tuple[Module, ...]]] = []
        self.known = supported_layers()
        self.unknown: list[tuple[str, Module]] = []  # (path, module) of each layer not known
        self.visit(model, "")
        if self.unknown:
            raise Unsupported(self._unknown_reason())

    def _unknown_reason(self) -> str:
        known = ", ".join(c.__name__ for c in self.known)
        what = f"(it replays Sequential/MLP of {known}, without a forward of their own)"
        if len(self.unknown) == 1:
            path, module = self.unknown[0]
            where = f"the model's layer {path!r}" if path else "the model"
            return f"{where} is a {_describe(module)}, which tg.compile does not replay {what}"
        listed = [f"{path!r} ({_describe(module)})" for path, module in self.unknown]
        layers = ", ".join(listed[:-1]) + " and " + listed[-1]
        return f"the model's layers {layers} are not replayed by tg.compile {what}"

    def visit(self, module: Any, path: str) -> None:
        where = f"the model's layer {path!r}" if path else "the model"
        if not isinstance(module, Module):
            raise Unsupported(f"{where} is a {_describe(module)}, not a Module")
        if _known(module, {Sequential: None}):
            children = tuple(module._modules.items())
            self.containers.append((module, tuple(child for _, child in children)))
            for name, child in children:
                self.visit(child, f"{path}.{name}" if path else name)
            return
        cls = _known(module, self.known)
        if cls is None:
            self.unknown.append((path, module))
            return
        op = self.known[cls]
        if op is ops.Linear:
            self.linear(module, where)
        elif op is not None:
            self.layers.append(Layer(module, op))

    def linear(self, module: Module, where: str) -> None:
        if any(layer.module is module for layer in self.layers):
            raise Unsupported(f"{where}: the same Linear layer is used twice (shared weights)")
        weight, bias = module.weight, module.bias
        if not isinstance(weight, Tensor) or weight._data.ndim != 2:
            raise Unsupported(f"{where}: a Linear layer's weight is not a 2-D Tensor")
        if bias is not None and (
            not isinstance(bias, Tensor) or bias._data.shape != (weight._data.shape[0],)
        ):
            raise Unsupported(
                f"{where}: a Linear layer's bias does not have the shape (out_features,)"
            )
        self.layers.append(Layer(module, ops.Linear, weight, bias))


def _loss(loss_fn: Any) -> tuple[type[Function], str, Module | None]:
    """The loss's op, reduction and module (None for a function of ``nn.functional``)."""
    for function, op in _LOSS_FUNCTIONS.items():
        if loss_fn is function and op in LOSS_FORMS:
            return op, "mean", None
    cls = _known(loss_fn, _LOSS_MODULES) if isinstance(loss_fn, Module) else None
    if cls is not None and _LOSS_MODULES[cls] in LOSS_FORMS:
        return _LOSS_MODULES[cls], loss_fn.reduction, loss_fn
    names = ", ".join([*(f"nn.{c.__name__}" for c in _LOSS_MODULES),
                       *(f"F.{f.__name__}" for f in _LOSS_FUNCTIONS)])
    raise Unsupported(f"the loss {_describe(loss_fn)} is not replayed (only {names})")


def _update(optimizer: Any) -> Any:
    """The optimizer's entry of ``updates.UPDATE_FORMS``, when it is a plain one."""
    cls = type(optimizer)
    form = update_form(optimizer)
    if (
        not isinstance(optimizer, Optimizer) or form is None
        or any(name in vars(optimizer) for name in ("step", "zero_grad", "_update"))
        or cls.step is not Optimizer.step or cls.zero_grad is not Optimizer.zero_grad
        or cls._update is not form.optimizer._update
    ):
        raise Unsupported(
            f"the optimizer {_describe(optimizer)} is not replayed (only optim.SGD, Adam "
            "and AdamW, without changes of their own)"
        )
    return form


def _check_parameters(layers: list[Layer], groups: list[tuple[dict, list[Tensor]]]) -> np.dtype:
    """The parameters' one float dtype; each used once and, if trainable, optimized."""
    dtypes = {p._data.dtype for layer in layers for p in (layer.weight, layer.bias)
              if p is not None}
    if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
        found = ", ".join(sorted(map(str, dtypes))) or "none"
        raise Unsupported(f"the parameters must share one float dtype, found {found}")
    in_optimizer = {id(p) for _, params in groups for p in params}
    used: set[int] = set()
    for layer in layers:
        for p in (layer.weight, layer.bias):
            if p is None:
                continue
            if id(p) in used:
                raise Unsupported("a parameter is used by two layers (shared weights)")
            used.add(id(p))
            if p._requires_grad and id(p) not in in_optimizer:
                raise Unsupported(
                    "a parameter requires grad but is not in the optimizer: eager steps "
                    "accumulate its .grad from step to step"
                )
    return next(iter(dtypes))


def _mark_gradients(layers: list[Layer]) -> None:
    """Which gradients the eager rules compute (an input or parameter that requires grad)."""
    flowing = False  # does the current value require grad?
    for layer in layers:
        if layer.op is ops.Linear:
            layer.need_x = flowing
            layer.need_w = layer.weight._requires_grad
            layer.need_b = layer.bias is not None and layer.bias._requires_grad
            layer.recorded = layer.need_x or layer.need_w or layer.need_b
        else:
            layer.recorded = flowing
        flowing = layer.recorded
    if not flowing:
        raise Unsupported("no parameter requires grad: the loss cannot be backpropagated")


def analyse(model: Any, loss_fn: Any, optimizer: Any) -> Analysis:
    """Take the step apart, or raise :class:`Unsupported` saying what is not supported."""
    walk = _Walk(model)
    layers = walk.layers
    if not layers or layers[0].op is not ops.Linear:
        raise Unsupported("the model's first computing layer must be a Linear layer")
    loss_op, reduction, loss_module = _loss(loss_fn)
    if reduction not in ("mean", "sum"):
        raise Unsupported(f"reduction={reduction!r} gives no single loss to backpropagate")
    update = _update(optimizer)
    groups = [(group, list(group["params"])) for group in optimizer.param_groups]
    dtype = _check_parameters(layers, groups)
    try:
        for group, _ in groups:
            update.pattern(group)
    except (TypeError, ValueError, KeyError):
        raise Unsupported("a hyperparameter of the optimizer is not a number") from None
    _mark_gradients(layers)
    names = {id(p): name for name, p in model.named_parameters()}
    return Analysis(layers, walk.containers, loss_op, reduction, loss_module, update, groups,
                    dtype, names)
