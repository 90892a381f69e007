"""The builder: one training step, for one input signature, written as a replay.

:class:`Builder` lays out the memory (the gradient arena, the scratch), names what the
guards watch, and then asks the forms, layer by layer, for the step's lines: the forward of
each layer (``forms.LAYER_FORMS``), the loss and its gradient (``forms.LOSS_FORMS``), the
backward of each layer in reverse, and the optimizer's update (``updates.UPDATE_FORMS``).
It knows no rule of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import ops
from ..engine.tensor import Tensor
from ..optim import Optimizer
from .arena import Gradients
from .support import Analysis
from .updates import write_updates
from .workspace import Unsupported, Workspace


class Builder:
    """Writes the replay of one step for one input signature."""

    def __init__(self, analysis: Analysis, x: np.ndarray, x_tensor: bool, y: np.ndarray,
                 optimizer: Optimizer) -> None:
        self.a, self.x, self.y, self.opt = analysis, x, y, optimizer
        self.x_tensor = x_tensor
        self.dt = analysis.dtype
        linears = [layer for layer in analysis.layers if layer.op is ops.Linear]
        self._check_inputs(linears[0].weight._data, linears[-1].weight._data)
        widths = [x.shape[1]] + [layer.weight._data.shape[0] for layer in linears]
        self.ws = Workspace(self.dt, x.shape[0], widths)
        # Gradients of the trainable parameters, grouped as the optimizer groups them, each
        # in the layout its layer's eager rule gives it.
        owner = {id(p): layer for layer in analysis.layers for p in (layer.weight, layer.bias)
                 if p is not None}
        self.trainable = [p for _, params in analysis.groups for p in params
                          if p._requires_grad and id(p) in owner]
        orders = [owner[id(p)].form.grad_order(owner[id(p)], p) for p in self.trainable]
        self.gradients = Gradients([p._data.shape for p in self.trainable], orders, self.dt)
        self.ws.grads = {id(p): view for p, view in zip(self.trainable,
                                                         self.gradients.grad_views)}
        self._bind_names(linears)

    def _bind_names(self, linears: list[Any]) -> None:
        """Readable names: ``layer<k>`` for the k-th Linear, ``W<k>``/``B<k>`` its parameters,
        ``w<k>``/``b<k>`` their arrays, ``gw<k>``/``gb<k>`` their gradients (and ``tw<k>``,
        ``uw<k>`` temporaries of the update)."""
        bind, g = self.ws.writer.bind, self.gradients
        index = {id(p): i for i, p in enumerate(self.trainable)}
        for k, layer in enumerate(linears):
            bind(f"layer{k}", layer.module)
            for short, p in (("w", layer.weight), ("b", layer.bias)):
                if p is None:
                    continue
                bind(f"{short.upper()}{k}", p)
                bind(f"{short}{k}", p._data)
                if id(p) in index:
                    i = index[id(p)]
                    bind(f"g{short}{k}", g.grad_views[i])
                    bind(f"t{short}{k}", g.temp_views[i])
                    bind(f"u{short}{k}", g.temp2_views[i])
                    bind(f"grad_{short}{k}", Tensor._make(g.grad_views[i], False, None))

    def _check_inputs(self, first: np.ndarray, last: np.ndarray) -> None:
        x, y = self.x, self.y
        if x.ndim != 2 or x.shape[0] < 1:
            raise Unsupported(f"x has shape {x.shape}: only a non-empty 2-D batch is replayed")
        if x.dtype.kind not in "biuf":
            raise Unsupported(f"x has dtype {x.dtype}")
        if self.x_tensor and x.dtype.kind == "f" and x.dtype != self.dt:
            raise Unsupported(
                f"x is a {x.dtype} Tensor but the model is {self.dt}: NumPy promotes it"
            )
        if x.shape[1] != first.shape[1]:
            raise Unsupported("x does not fit the first layer")
        self.a.loss_form.check_target((x.shape[0], last.shape[0]), y)

    # -- the whole function ----------------------------------------------------------------

    def build(self) -> tuple[Callable[..., Any], str]:
        """The replay function and its source."""
        self._guard_model()
        self._guard_optimizer()
        out = self.forward()
        g = self.a.loss_form.write(self.ws, out, self.y, self.a.reduction)
        self.backward(g)
        self._set_grads()
        # A NaN or inf: the optimizer's own step decides, from the state as it was (it
        # refuses one, changing nothing, as in an eager loop).
        refuse = f"{self.ws.name('OPT', self.opt)}.step(); return asarray(loss)"
        write_updates(self.ws, self.opt, self.gradients, self.trainable, refuse)
        self.ws.emit("return asarray(loss)")
        return self.ws.function(), self.ws.source()

    def _guard_model(self) -> None:
        ws, a = self.ws, self.a
        for module, _ in a.containers:  # the same children under the same names
            m, kids = ws.name("S", module), ws.name("KIDS", dict(module._modules))
            ws.guard(f"if {m}._modules != {kids}: return None")
        for layer in a.layers:
            if layer.op is not ops.Linear:
                continue
            name = ws.name("layer", layer.module)
            for attr, p in (("weight", layer.weight), ("bias", layer.bias)):
                if p is None:
                    ws.guard(f"if {name}.{attr} is not None: return None")
                    continue
                P, data = ws.name("P", p), ws.name("p", p._data)
                ws.guard(
                    f"if {name}.{attr} is not {P} or {P}._data is not {data} or "
                    f"{P}._requires_grad is not {p._requires_grad}: return None"
                )
        if a.loss_module is not None:
            red = ws.name("RED", a.reduction)
            ws.guard(f"if {ws.name('LOSSFN', a.loss_module)}.reduction != {red}: return None")

    def _guard_optimizer(self) -> None:
        ws, a = self.ws, self.a
        opt = ws.name("OPT", self.opt)
        groups = ws.name("GROUPS", self.opt.param_groups)
        ws.guard(f"if {opt}.param_groups is not {groups} or len({groups}) != {len(a.groups)}: "
                 "return None")
        ws.guard(f"if {opt}.state is not {ws.name('STATE', self.opt.state)}: return None")
        for group, params in a.groups:
            G, plist = ws.name("group", group), ws.name("PARAMS", group["params"])
            ws.guard(f"if {G}['params'] is not {plist} or len({plist}) != {len(params)}: "
                     "return None")

    def forward(self) -> str:
        """The model's forward pass; returns the name of its output."""
        ws = self.ws
        if self.x.dtype == self.dt:
            cur = "x"
        elif self.x_tensor:  # _promote: an integer Tensor becomes the float beside it
            ws.emit(f"xc = x.astype({ws.name('DT', self.dt)})")
            cur = "xc"
        else:  # _lift: an array beside a float Tensor takes its dtype
            ws.emit(f"xc = asarray(x, {ws.name('DT', self.dt)})")
            cur = "xc"
        fresh = False  # cur is a value that nothing reads in backward
        for layer in self.a.layers:
            layer.input = cur
            cur, fresh = layer.form.write_forward(ws, layer, cur, fresh)
            layer.output = cur
        return cur

    def backward(self, g: str) -> None:
        for layer in reversed(self.a.layers):
            if not layer.recorded:
                break
            g = layer.form.write_backward(self.ws, layer, g)

    def _set_grads(self) -> None:
        """``.grad`` as eager leaves it: trainable parameters hold their gradient (a Tensor
        on the arena's view), the optimizer's other parameters None (zero_grad did that)."""
        ws = self.ws
        for p, view in zip(self.trainable, self.gradients.grad_views):
            P, data = ws.name("P", p), ws.name("p", p._data)
            T = f"grad_{data}"
            ws.emit(f"{P}._grad = {T}; {T}._data = {ws.name('g', view)}")
        trainable = {id(p) for p in self.trainable}
        for _, params in self.a.groups:
            for p in params:
                if id(p) not in trainable:
                    ws.emit(f"{ws.name('X', p)}._grad = None")
