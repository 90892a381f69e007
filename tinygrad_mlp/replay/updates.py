"""The replay forms of the optimizers: each update rule as NumPy calls, in one table keyed by
the optimizer class (``UPDATE_FORMS``: ``optim.SGD``, ``optim.Adam``, ``optim.AdamW``).

Each entry writes the calls that the optimizer's own ``step`` makes (``optim.py``), in the
same order and dtypes: bit-identical to the eager update (``tests/test_replay_forms.py``
runs each against ``optimizer.step()`` on random values). As the eager step does, the update
is all or nothing. ``compute`` writes every new value (the step of each parameter, new state
buffers) into the replay's own buffers, leaving parameters and state alone; one dot product
over all of them (``check``) is finite exactly when every value is (or it overflowed), and
only then does ``commit`` write: the parameters are stepped and the state is handed the new
buffers. When the check fails, the optimizer's own ``step()`` runs instead, from the same
untouched state, and refuses a NaN or inf as it does in an eager loop (or, when the dot
product only overflowed, makes the very step the replay would have made).

Hyperparameters are read from the group at every step, so a new ``lr`` counts at once;
``pattern(group)`` is what decides which calls are made (is the momentum zero? the weight
decay?), and a replay returns to eager when it changes. Elementwise work over a whole group
is one call on a span of the gradient arena (``GF``, ``TF``, ``UF``: see ``arena.py``).

>>> from tinygrad_mlp import optim
>>> sorted(cls.__name__ for cls in UPDATE_FORMS)
['Adam', 'AdamW', 'SGD']
"""

from __future__ import annotations

import _signal  # signal.getsignal without its conversion to an enum
import signal
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from ..optim import INTERRUPTS, SGD, Adam, AdamW, Optimizer
from .arena import Gradients
from .workspace import Workspace


@dataclass
class GroupSite:
    """The names one parameter group's update is written with.

    ``key`` numbers the group's variables (``lr0``, ``mom0``); per parameter: the Tensor
    (``params``), its array (``data``), its gradient and two temporaries of its layout
    (``temps``, ``temps2``), and a short name for its own variables (``tags``); ``span_*``:
    the stretch of each arena that the group covers; ``spares[key]``: per parameter, the
    name of its pair of buffers for the state entry ``key``, indexed by the phase ``ph``.
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
    tags: list[str] = field(default_factory=list)
    spares: dict[str, list[str]] = field(default_factory=dict)


def _truth(name: str, expected: bool) -> str:
    """A test that is true when ``name`` is no longer truthy as ``expected``."""
    return name if not expected else f"not {name}"


class SGDForm:
    """``optim.SGD``: weight decay, momentum (dampened or not, Nesterov or not), the step."""

    optimizer = SGD

    def buffers(self, pattern: tuple) -> tuple[str, ...]:
        """The state entries a step with this pattern makes anew."""
        return ("momentum_buffer",) if pattern[0] else ()

    def pattern(self, group: dict[str, Any]) -> tuple:
        """Which of the hyperparameters are zero, as ``SGD._update`` tests them."""
        decay = bool(float(group["weight_decay"]))
        if not float(group["momentum"]):
            return (False, decay)
        return (True, decay, 1.0 - float(group["dampening"]) == 1.0, bool(group["nesterov"]))

    def check(self, ws: Workspace, gradients: Gradients) -> str:
        """An expression that is finite when every new value is: the sum of the squared
        steps (``vdot(delta, delta)``, as ``SGD.step`` checks them)."""
        flat = gradients.temp2.flat
        return f"{ws.name('CHECK', flat.dot)}({ws.name('STEPS', flat)})"

    def compute(self, ws: Workspace, site: GroupSite, pattern: tuple) -> None:
        momentum, decay, undamped, nesterov = (*pattern, True, False)[:4]
        k, G = site.key, site.group
        ws.setup(f"lr{k} = float({G}['lr']); mom{k} = float({G}['momentum']); "
                 f"wd{k} = float({G}['weight_decay'])")
        tests = [_truth(f"mom{k}", momentum), _truth(f"wd{k}", decay)]
        if momentum:
            ws.setup(f"keep{k} = 1.0 - float({G}['dampening']); nest{k} = {G}['nesterov']")
            tests += [f"keep{k} {'!=' if undamped else '=='} 1.0", _truth(f"nest{k}", nesterov)]
        ws.setup(f"if {' or '.join(tests)}: return None")
        ws.emit(f"# SGD, parameter group {G}: each step into u")
        dp = list(site.grads)
        if decay:  # d_p = d_p + p * weight_decay
            for data, t in zip(site.data, site.temps):
                ws.emit(f"multiply({data}, wd{k}, {t})")
            ws.emit(f"add({site.span_g}, {site.span_t}, {site.span_t})")
            dp = list(site.temps)
        if not momentum:  # the step: d_p * lr
            ws.emit(f"multiply({site.span_t if decay else site.span_g}, lr{k}, {site.span_u})")
            return
        for i, P in enumerate(site.params):
            buf = f"buf_{site.tags[i]}"  # the new buffer: this phase's spare
            ws.emit(f"{buf} = {site.spares['momentum_buffer'][i]}[ph]")
            ws.emit(f"st = {site.state}.get({P}); old = st.get('momentum_buffer') if st else None")
            ws.emit("if old is None:  # PyTorch's first step: the gradient itself, undampened")
            ws.emit(f"    copyto({buf}, {dp[i]})")
            ws.emit("else:")
            ws.emit(f"    if old.dtype != {site.dtype}:  # the model was cast since the last step")
            ws.emit(f"        old = old.astype({site.dtype})")
            ws.emit(f"    multiply(old, mom{k}, {buf})")
            u = site.temps2[i]
            if undamped:
                ws.emit(f"    add({buf}, {dp[i]}, {buf})")
            else:
                ws.emit(f"    multiply({dp[i]}, keep{k}, {u}); add({buf}, {u}, {buf})")
            if nesterov:  # d_p + buf * momentum, times lr
                ws.emit(f"multiply({buf}, mom{k}, {u}); add({dp[i]}, {u}, {u}); "
                        f"multiply({u}, lr{k}, {u})")
            else:
                ws.emit(f"multiply({buf}, lr{k}, {u})")

    def commit(self, ws: Workspace, site: GroupSite, pattern: tuple) -> None:
        ws.emit(f"# SGD, parameter group {site.group}: committed")
        for i, (P, data, u) in enumerate(zip(site.params, site.data, site.temps2)):
            if pattern[0]:
                ws.emit(f"{site.state}[{P}]['momentum_buffer'] = buf_{site.tags[i]}")
            ws.emit(f"subtract({data}, {u}, {data})")


class AdamForm:
    """``optim.Adam`` (L2 weight decay added to the gradient) and, ``decoupled``,
    ``optim.AdamW`` (the parameter shrunk at the commit): moments, bias corrections, step."""

    def __init__(self, optimizer: type[Optimizer], decoupled: bool) -> None:
        self.optimizer, self.decoupled = optimizer, decoupled

    def pattern(self, group: dict[str, Any]) -> tuple:
        return (bool(float(group["weight_decay"])),)

    def buffers(self, pattern: tuple) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def check(self, ws: Workspace, gradients: Gradients) -> str:
        """The steps times the new second moments, as ``Adam.step`` checks them
        (``vdot(delta, v)``: an overflowing ``g**2`` shows in ``v`` though not in the step)."""
        flat = gradients.temp.flat
        spares = tuple(arena.flat for arena in gradients.pair("exp_avg_sq"))
        return f"{ws.name('CHECK', flat.dot)}({ws.name('V_SPARES', spares)}[ph])"

    def compute(self, ws: Workspace, site: GroupSite, pattern: tuple) -> None:
        (decay,) = pattern
        k, G = site.key, site.group
        lr, eps, wd, b1, b2 = (f"{n}{k}" for n in ("lr", "eps", "wd", "b1_", "b2_"))
        ws.setup(f"{lr} = float({G}['lr']); {eps} = float({G}['eps'])")
        ws.setup(f"{wd} = float({G}['weight_decay']); betas = {G}['betas']")
        ws.setup(f"{b1}, {b2} = float(betas[0]), float(betas[1])")
        ws.setup(f"if {_truth(wd, decay)}: return None")
        ws.emit(f"# {self.optimizer.__name__}, parameter group {G}: each step into t")
        for i, P in enumerate(site.params):
            tag, data, t, u, g = site.tags[i], site.data[i], site.temps[i], site.temps2[i], \
                site.grads[i]
            m_new, v_new, n = f"m_{tag}", f"v_{tag}", f"n_{tag}"
            zeros = ws.name("ZEROS", np.zeros_like(ws.array(data)))  # a first step's moments
            ws.emit(f"st = {site.state}.get({P})")
            ws.emit(f"if st: {n} = st['step'] + 1; m = st['exp_avg']; v = st['exp_avg_sq']")
            ws.emit(f"else: {n} = 1; m = v = {zeros}")
            ws.emit(f"if m.dtype != {site.dtype}:  # the model was cast since the last step")
            ws.emit(f"    m = m.astype({site.dtype}); v = v.astype({site.dtype})")
            ws.emit(f"{m_new} = {site.spares['exp_avg'][i]}[ph]")
            ws.emit(f"{v_new} = {site.spares['exp_avg_sq'][i]}[ph]")
            if decay and not self.decoupled:  # g + p * weight_decay
                ws.emit(f"multiply({data}, {wd}, {u}); add({g}, {u}, {u})")
                g = u
            ws.emit(f"multiply(m, {b1}, {m_new}); multiply({g}, 1.0 - {b1}, {t}); "
                    f"add({m_new}, {t}, {m_new})")
            ws.emit(f"multiply(v, {b2}, {v_new}); square({g}, {t}); "
                    f"multiply({t}, 1.0 - {b2}, {t}); add({v_new}, {t}, {v_new})")
            m, v = m_new, v_new
            ws.emit(f"sqrt({v}, {t}); divide({t}, sqrt_(1.0 - {b2} ** {n}), {t}); "
                    f"add({t}, {eps}, {t})")
            ws.emit(f"divide({m}, {t}, {t}); multiply({t}, {lr} / (1.0 - {b1} ** {n}), {t})")

    def commit(self, ws: Workspace, site: GroupSite, pattern: tuple) -> None:
        (decay,) = pattern
        k = site.key
        ws.emit(f"# {self.optimizer.__name__}, parameter group {site.group}: committed")
        for i, (P, data, t) in enumerate(zip(site.params, site.data, site.temps)):
            tag = site.tags[i]
            ws.emit(f"st = {site.state}[{P}]; st['step'] = n_{tag}; st['exp_avg'] = m_{tag}; "
                    f"st['exp_avg_sq'] = v_{tag}")
            if decay and self.decoupled:
                ws.emit(f"multiply({data}, 1.0 - lr{k} * wd{k}, {data})")
            ws.emit(f"subtract({data}, {t}, {data})")


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
                  trainable: list[Tensor], on_failure: str) -> None:
    """The update of every parameter in ``trainable`` (the gradient arena's order: group by
    group), all or nothing: every group computed, one check, every group committed;
    ``on_failure`` is the line run when the check fails (before anything was written)."""
    form = update_form(optimizer)
    state, dtype = ws.name("STATE", optimizer.state), ws.name("DT", ws.dtype)
    index = {id(p): i for i, p in enumerate(trainable)}
    plans = []
    for group in optimizer.param_groups:
        mine = [index[id(p)] for p in group["params"] if id(p) in index]
        if mine:
            plans.append((group, mine, form.pattern(group)))
    keys = sorted({key for _, _, pattern in plans for key in form.buffers(pattern)})
    spares = {key: [ws.name("SPARE", pair) for pair in gradients.pair_views(key)]
              for key in keys}
    sites = [(_site(ws, gradients, trainable, group, mine, state, dtype, spares), pattern)
             for group, mine, pattern in plans]
    phase = ws.name("PHASE", [0])  # which spare of each pair this step writes
    if keys:
        ws.emit(f"ph = {phase}[0]")
    for site, pattern in sites:
        form.compute(ws, site, pattern)
    ws.emit(f"if not isfinite({form.check(ws, gradients)}):  # a NaN or inf somewhere")
    ws.emit(f"    {on_failure}")
    hold = _hold_interrupts(ws)
    for site, pattern in sites:
        form.commit(ws, site, pattern)
    if keys:
        ws.emit(f"{phase}[0] = 1 - ph")
    _let_go(ws, hold)


def _hold_interrupts(ws: Workspace) -> str:
    """Ctrl-C held back while the commit writes, as ``optim``'s own step holds it (its
    ``INTERRUPTS``: in the main thread, where Python delivers signals), so that an
    interrupted step is either not taken or whole."""
    hold = ws.name("HOLD", INTERRUPTS)
    ident, main = ws.name("IDENT", threading.get_ident), ws.name("MAIN", INTERRUPTS.main)
    # (asking which handler is installed costs less than the ``tried`` property's look)
    installed = ws.name("INSTALLED", _signal.getsignal)
    sigint, handler = ws.name("SIGINT", int(signal.SIGINT)), ws.name("HANDLER", INTERRUPTS.handler)
    ws.emit(f"held = {ident}() == {main}  # Ctrl-C waits until the step is whole")
    ws.emit("if held:")
    ws.emit(f"    if {installed}({sigint}) is not {handler} and not {hold}.tried: "
            f"{hold}.install()")
    ws.emit(f"    {hold}.committing = True")
    return hold


def _let_go(ws: Workspace, hold: str) -> None:
    ws.emit("if held:")
    ws.emit(f"    {hold}.committing = False")
    ws.emit(f"    if {hold}.caught is not None: {hold}.release()")


def _site(ws: Workspace, gradients: Gradients, trainable: list[Tensor], group: dict,
          mine: list[int], state: str, dtype: str, spares: dict[str, list[str]]) -> GroupSite:
    first, last = mine[0], mine[-1]
    assert mine == list(range(first, last + 1)), "a group's gradients lie side by side"
    data = [ws.name("p", trainable[i]._data) for i in mine]
    return GroupSite(
        ws.name("group", group), first, state, dtype,
        params=[ws.name("P", trainable[i]) for i in mine],
        data=data,
        grads=[ws.name("g", gradients.grad_views[i]) for i in mine],
        temps=[ws.name("t", gradients.temp_views[i]) for i in mine],
        temps2=[ws.name("u", gradients.temp2_views[i]) for i in mine],
        span_g=ws.name("GF", gradients.grads.span(first, last)),
        span_t=ws.name("TF", gradients.temp.span(first, last)),
        span_u=ws.name("UF", gradients.temp2.span(first, last)),
        tags=data,
        spares={key: [names[i] for i in mine] for key, names in spares.items()},
    )
