"""The replay forms of the optimizers: each update rule as NumPy calls, in one table keyed by
the optimizer class (``UPDATE_FORMS``: ``optim.SGD``, ``optim.Adam``, ``optim.AdamW``).

Each entry writes the calls that the optimizer's own ``step`` makes (``optim.py``), in the
same order and dtypes, for one parameter group: bit-identical to the eager update
(``tests/test_replay_forms.py`` runs each against ``optimizer.step()`` on random values).
Hyperparameters are read from the group at every step, so a new ``lr`` counts at once;
``pattern(group)`` is what decides which calls are made (is the momentum zero? the weight
decay?), and a replay returns to eager when it changes. Elementwise work over a whole group
is one call on a span of the gradient arena (``GF``, ``TF``, ``UF``: see ``arena.py``).

>>> from tinygrad_mlp import optim
>>> sorted(cls.__name__ for cls in UPDATE_FORMS)
['Adam', 'AdamW', 'SGD']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine.tensor import Tensor
from ..optim import SGD, Adam, AdamW, Optimizer
from .arena import Gradients
from .workspace import Workspace


@dataclass
class GroupSite:
    """The names one parameter group's update is written with.

    ``key`` numbers the group's variables (``lr0``, ``mom0``); per parameter: the Tensor
    (``params``), its array (``data``), its gradient and two temporaries of its layout;
    ``span_*``: the stretch of each arena that the group covers.
    """

    group: str
    key: int
    state: str
    dtype: str
    params: list[str]
    data: list[str]
    grads: list[str]
    temps: list[str]
    temps2: list[str]
    span_g: str
    span_t: str
    span_u: str


def _truth(name: str, expected: bool) -> str:
    """A test that is true when ``name`` is no longer truthy as ``expected``."""
    return name if not expected else f"not {name}"


class SGDForm:
    """``optim.SGD``: weight decay, momentum (dampened or not, Nesterov or not), the step."""

    optimizer = SGD

    def pattern(self, group: dict[str, Any]) -> tuple:
        """Which of the hyperparameters are zero, as ``SGD._update`` tests them."""
        decay = bool(float(group["weight_decay"]))
        if not float(group["momentum"]):
            return (False, decay)
        return (True, decay, 1.0 - float(group["dampening"]) == 1.0, bool(group["nesterov"]))

    def write(self, ws: Workspace, site: GroupSite, pattern: tuple) -> None:
        momentum, decay, undamped, nesterov = (*pattern, True, False)[:4]
        k, G = site.key, site.group
        lr = f"lr{k}"
        ws.setup(f"{lr} = float({G}['lr']); mom{k} = float({G}['momentum']); "
                 f"wd{k} = float({G}['weight_decay'])")
        tests = [_truth(f"mom{k}", momentum), _truth(f"wd{k}", decay)]
        if momentum:
            ws.setup(f"keep{k} = 1.0 - float({G}['dampening']); nest{k} = {G}['nesterov']")
            tests += [f"keep{k} {'!=' if undamped else '=='} 1.0", _truth(f"nest{k}", nesterov)]
        ws.setup(f"if {' or '.join(tests)}: return None")
        ws.emit(f"# SGD, parameter group {G}")
        dp = list(site.grads)
        if decay:  # d_p = d_p + weight_decay * p
            for data, t in zip(site.data, site.temps):
                ws.emit(f"multiply({data}, wd{k}, {t})")
            ws.emit(f"add({site.span_g}, {site.span_t}, {site.span_t})")
            dp = list(site.temps)
        if not momentum:  # p -= lr * d_p
            ws.emit(f"multiply({site.span_t if decay else site.span_g}, {lr}, {site.span_u})")
            for data, u in zip(site.data, site.temps2):
                ws.emit(f"subtract({data}, {u}, {data})")
            return
        for i, P in enumerate(site.params):
            self._momentum(ws, site, k, P, site.data[i], dp[i], site.temps[i], site.temps2[i],
                           undamped, nesterov)

    def _momentum(self, ws: Workspace, site: GroupSite, k: int, P: str, data: str, dp: str,
                  t: str, u: str, undamped: bool, nesterov: bool) -> None:
        ws.emit(f"st = {site.state}[{P}]; buf = st.get('momentum_buffer')")
        ws.emit("if buf is None:")
        ws.emit(f"    buf = st['momentum_buffer'] = {dp}.astype({site.dtype})")
        ws.emit("else:")
        ws.emit(f"    if buf.dtype != {site.dtype}:  # the model was cast since the last step")
        ws.emit(f"        buf = st['momentum_buffer'] = buf.astype({site.dtype})")
        ws.emit(f"    multiply(buf, mom{k}, buf)")
        if undamped:
            ws.emit(f"    add(buf, {dp}, buf)")
        else:
            ws.emit(f"    multiply(keep{k}, {dp}, {u}); add(buf, {u}, buf)")
        if nesterov:  # d_p = d_p + momentum * buf
            ws.emit(f"multiply(mom{k}, buf, {u}); add({dp}, {u}, {t})")
            ws.emit(f"multiply({t}, lr{k}, {u})")
        else:
            ws.emit(f"multiply(buf, lr{k}, {u})")
        ws.emit(f"subtract({data}, {u}, {data})")


class AdamForm:
    """``optim.Adam`` (L2 weight decay added to the gradient) and, ``decoupled``,
    ``optim.AdamW`` (the parameter shrunk first): moments, bias corrections, the step."""

    def __init__(self, optimizer: type[Optimizer], decoupled: bool) -> None:
        self.optimizer, self.decoupled = optimizer, decoupled

    def pattern(self, group: dict[str, Any]) -> tuple:
        return (bool(float(group["weight_decay"])),)

    def write(self, ws: Workspace, site: GroupSite, pattern: tuple) -> None:
        (decay,) = pattern
        k, G = site.key, site.group
        lr, eps, wd, b1, b2 = (f"{n}{k}" for n in ("lr", "eps", "wd", "b1_", "b2_"))
        ws.setup(f"{lr} = float({G}['lr']); {eps} = float({G}['eps'])")
        ws.setup(f"{wd} = float({G}['weight_decay']); betas = {G}['betas']")
        ws.setup(f"{b1}, {b2} = float(betas[0]), float(betas[1])")
        ws.setup(f"if {_truth(wd, decay)}: return None")
        ws.emit(f"# {self.optimizer.__name__}, parameter group {G}")
        for i, P in enumerate(site.params):
            data, t, u, g = site.data[i], site.temps[i], site.temps2[i], site.grads[i]
            ws.emit(f"st = {site.state}[{P}]")
            ws.emit("if not st:")
            ws.emit(f"    st['step'] = 0; st['exp_avg'] = zeros_like({data})")
            ws.emit(f"    st['exp_avg_sq'] = zeros_like({data})")
            ws.emit(f"elif st['exp_avg'].dtype != {site.dtype}:  # the model was cast since")
            ws.emit(f"    st['exp_avg'] = st['exp_avg'].astype({site.dtype})")
            ws.emit(f"    st['exp_avg_sq'] = st['exp_avg_sq'].astype({site.dtype})")
            ws.emit("st['step'] = n = st['step'] + 1")
            if decay and self.decoupled:
                ws.emit(f"multiply({data}, 1.0 - {lr} * {wd}, {data})")
            elif decay:
                ws.emit(f"multiply({wd}, {data}, {u}); add({g}, {u}, {u})")
                g = u
            d = t  # the denominator reuses the temporary once the moments are updated
            ws.emit("m = st['exp_avg']; v = st['exp_avg_sq']")
            ws.emit(f"multiply(m, {b1}, m); multiply(1.0 - {b1}, {g}, {t}); add(m, {t}, m)")
            ws.emit(f"multiply(v, {b2}, v); square({g}, {t}); multiply(1.0 - {b2}, {t}, {t})")
            ws.emit(f"add(v, {t}, v)")
            ws.emit(f"sqrt(v, {d}); divide({d}, sqrt_(1.0 - {b2} ** n), {d}); "
                    f"add({d}, {eps}, {d})")
            ws.emit(f"divide(m, {d}, {d}); multiply({d}, {lr} / (1.0 - {b1} ** n), {d})")
            ws.emit(f"subtract({data}, {d}, {data})")


UPDATE_FORMS: dict[type[Optimizer], Any] = {
    SGD: SGDForm(),
    Adam: AdamForm(Adam, decoupled=False),
    AdamW: AdamForm(AdamW, decoupled=True),
}


def update_form(optimizer: Any) -> Any:
    """The entry for ``optimizer``'s class or its nearest listed base, or None."""
    for cls in type(optimizer).__mro__:
        if cls in UPDATE_FORMS:
            return UPDATE_FORMS[cls]
    return None


def write_updates(ws: Workspace, optimizer: Optimizer, gradients: Gradients,
                  trainable: list[Tensor]) -> None:
    """The update of every parameter in ``trainable`` (the gradient arena's order: group by
    group), each group by the optimizer's entry."""
    form = update_form(optimizer)
    state = ws.name("STATE", optimizer.state)
    dtype = ws.name("DT", ws.dtype)
    index = {id(p): i for i, p in enumerate(trainable)}
    for group in optimizer.param_groups:
        mine = [index[id(p)] for p in group["params"] if id(p) in index]
        if not mine:
            continue
        first, last = mine[0], mine[-1]
        assert mine == list(range(first, last + 1)), "a group's gradients lie side by side"
        site = GroupSite(
            ws.name("group", group), mine[0], state, dtype,
            params=[ws.name("P", trainable[i]) for i in mine],
            data=[ws.name("p", trainable[i]._data) for i in mine],
            grads=[ws.name("g", gradients.grad_views[i]) for i in mine],
            temps=[ws.name("t", gradients.temp_views[i]) for i in mine],
            temps2=[ws.name("u", gradients.temp2_views[i]) for i in mine],
            span_g=ws.name("GF", gradients.grads.span(first, last)),
            span_t=ws.name("TF", gradients.temp.span(first, last)),
            span_u=ws.name("UF", gradients.temp2.span(first, last)),
        )
        form.write(ws, site, form.pattern(group))
