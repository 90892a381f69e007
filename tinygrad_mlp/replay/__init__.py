"""Record a training step once, then replay it as a flat list of NumPy calls into reused buffers.

An eager training step (``zero_grad``, forward, loss, ``backward``, ``optimizer.step``) spends
much of its time, at small sizes, on bookkeeping: Tensors and graph nodes made and freed,
Python dispatch, fresh arrays for every intermediate value. For a static-shape loop (the
same model, the same batch shape, step after step) all of that is the same every time.
:func:`compile_step` takes the model, the loss and the optimizer and returns a callable
:class:`CompiledStep`; ``step(x, y)`` has the effect of one eager step and returns the loss.

How it works. The first call with a given input signature (shapes and dtypes of ``x`` and
``y``) runs the eager step, checks that the graph it built is the one expected, and writes the
same step as Python source: one line per NumPy call, each call the one that the eager rule in
``ops.py`` / ``optim.py`` makes, with ``out=`` into buffers allocated once. The source is
compiled to a function (``step.source`` shows it). To make sure, that first step is then run
a second time from the same starting point by the new function, and parameters, gradients,
optimizer state and loss must come out bit for bit as the eager step left them; otherwise
that signature stays eager (``step.reason`` says where they differed). Later calls with the
same signature check a few identities (the same modules, parameters, arrays, optimizer
settings) and run the function: results are bit-identical to the eager step's. The replay
mirrors the rules of ``ops.py`` as they are (``ops.Linear``'s weight gradient in the
weight's memory layout and its bias gradient as a product with a row of ones,
``ops.CrossEntropy`` on column-major logits for few classes): if a rule there changes, the
bit-for-bit check sends the step back to eager, and the tests say so.

After a replayed step the trainable parameters were updated in place (the same arrays) and
each ``.grad`` is a Tensor holding the step's gradient, as eager leaves it, but its array is
reused by the next replay: copy it to keep it. The optimizer's ``param_groups`` are read at
every step (a new ``lr`` is used at once) and its ``state`` is its own, so eager steps and
replays can be mixed freely.

Supported: ``nn.Sequential`` / ``nn.MLP`` (nested too) or a bare ``nn.Linear``, built from
``nn.Linear`` (with or without bias), ``nn.ReLU``, ``nn.Tanh``, ``nn.Sigmoid`` and
``nn.Identity``, the first computing layer a Linear, on a 2-D batch; ``nn.MSELoss`` and
``nn.CrossEntropyLoss`` with integer class targets (or ``F.mse_loss`` / ``F.cross_entropy``),
reduction ``"mean"`` or ``"sum"``; ``optim.SGD`` (momentum, dampening, Nesterov, weight decay),
``optim.Adam`` and ``optim.AdamW``. Frozen parameters (``requires_grad=False``) are fine.
Anything else runs the eager step, every time, and says why in ``step.reason``.

>>> import numpy as np
>>> import tinygrad_mlp as tg
>>> from tinygrad_mlp import nn, optim
>>> from tinygrad_mlp.replay import compile_step
>>> tg.manual_seed(0)
>>> model = nn.MLP([2, 8, 1])
>>> step = compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
>>> x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
>>> losses = [float(step(x, y)) for _ in range(3)]
>>> step.compiled, step.counts
(True, {'replay': 2, 'record': 1, 'eager': 0})
"""

from __future__ import annotations

import builtins
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import ops
from ..engine.autograd import _mode
from ..engine.tensor import Tensor
from ..nn import functional as F
from ..nn.activations import Identity, ReLU, Sigmoid, Tanh
from ..nn.layers import Linear
from ..nn.loss import CrossEntropyLoss, MSELoss
from ..nn.module import Module, Sequential
from ..optim import SGD, Adam, Optimizer

__all__ = ["CompiledStep", "compile_step"]

# Segments of the flat gradient buffer start at multiples of this many bytes.
_ALIGN = 64


class _Unsupported(Exception):
    """The model, loss, optimizer or input is outside what a replay can mirror exactly."""


# ---------------------------------------------------------------------------------------------
# What the step is made of


@dataclass
class _Op:
    """One computing layer of the model, in forward order."""

    kind: str  # "linear", "relu", "tanh" or "sigmoid"
    module: Module
    weight: Tensor | None = None
    bias: Tensor | None = None
    # Filled in for a given requires_grad pattern: which gradients the eager rule computes.
    recorded: bool = False  # the node is in the graph (some input requires grad)
    need_x: bool = False
    need_w: bool = False
    need_b: bool = False


@dataclass
class _Analysis:
    """The model, loss and optimizer taken apart, with everything the guards must watch."""

    ops: list[_Op]
    containers: list[tuple[Module, tuple[Module, ...]]]
    loss: str  # "mse" or "ce"
    reduction: str
    loss_module: Module | None
    optimizer: str  # "sgd", "adam" or "adamw"
    groups: list[tuple[dict[str, Any], list[Tensor]]]
    dtype: np.dtype
    names: dict[int, str] = field(default_factory=dict)

    def params(self) -> list[Tensor]:
        """Every parameter a step may touch (the layers' and the optimizer's), each once."""
        seen: dict[int, Tensor] = {}
        for op in self.ops:
            for p in (op.weight, op.bias):
                if p is not None:
                    seen.setdefault(id(p), p)
        for _, params in self.groups:
            for p in params:
                seen.setdefault(id(p), p)
        return list(seen.values())

    def fingerprint(self) -> tuple:
        """Identities and flags that a recorded plan (or a refusal) depends on."""
        parts: list[Any] = [self.loss, self.reduction, self.optimizer, self.dtype]
        parts += [(id(m), tuple(map(id, kids))) for m, kids in self.containers]
        for p in self.params():
            parts.append((id(p), id(p._data), p._requires_grad))
        for group, params in self.groups:
            parts.append((id(group), id(group["params"]), len(params), _pattern(self, group)))
        return tuple(parts)


def _truth(name: str, expected: bool) -> str:
    """A test that is true when ``name`` is no longer truthy as ``expected``."""
    return name if not expected else f"not {name}"


def _describe(obj: Any) -> str:
    return type(obj).__name__


def _plain(module: Module, base: type) -> bool:
    """``module`` behaves exactly as ``base`` does: no forward or call of its own."""
    cls = type(module)
    return (
        isinstance(module, base)
        and cls.forward is base.forward
        and cls.__call__ is Module.__call__
        and "forward" not in vars(module)
    )


_LAYERS: tuple[tuple[type, str], ...] = (
    (Linear, "linear"), (ReLU, "relu"), (Tanh, "tanh"), (Sigmoid, "sigmoid"),
    (Identity, "identity"), (Sequential, "sequential"),
)


def _flatten(
    module: Any, ops_: list[_Op], containers: list[tuple[Module, tuple[Module, ...]]]
) -> None:
    if not isinstance(module, Module):
        raise _Unsupported(f"the model holds a {_describe(module)}, not a Module")
    kind = next((k for base, k in _LAYERS if _plain(module, base)), None)
    if kind is None:
        raise _Unsupported(
            f"{_describe(module)} is not supported (only Sequential/MLP of Linear, ReLU, Tanh, "
            "Sigmoid and Identity, without a forward of their own)"
        )
    if kind == "sequential":
        children = tuple(module._modules.values())
        containers.append((module, children))
        for child in children:
            _flatten(child, ops_, containers)
    elif kind == "linear":
        if any(op.module is module for op in ops_):
            raise _Unsupported("the same Linear layer is used twice (shared weights)")
        weight, bias = module.weight, module.bias
        if not isinstance(weight, Tensor) or weight._data.ndim != 2:
            raise _Unsupported("a Linear layer's weight is not a 2-D Tensor")
        if bias is not None and (
            not isinstance(bias, Tensor) or bias._data.shape != (weight._data.shape[0],)
        ):
            raise _Unsupported("a Linear layer's bias does not have the shape (out_features,)")
        ops_.append(_Op("linear", module, weight, bias))
    elif kind != "identity":
        ops_.append(_Op(kind, module))


def _loss_kind(loss_fn: Any) -> tuple[str, str, Module | None]:
    if loss_fn is F.mse_loss:
        return "mse", "mean", None
    if loss_fn is F.cross_entropy:
        return "ce", "mean", None
    for base, kind in ((MSELoss, "mse"), (CrossEntropyLoss, "ce")):
        if isinstance(loss_fn, Module) and _plain(loss_fn, base):
            return kind, loss_fn.reduction, loss_fn
    raise _Unsupported(
        f"the loss {_describe(loss_fn)} is not supported (nn.MSELoss, nn.CrossEntropyLoss, "
        "F.mse_loss, F.cross_entropy)"
    )


def _optimizer_kind(optimizer: Any) -> str:
    cls = type(optimizer)
    if not isinstance(optimizer, Optimizer) or any(
        name in vars(optimizer) for name in ("step", "zero_grad", "_update")
    ) or cls.step is not Optimizer.step or cls.zero_grad is not Optimizer.zero_grad:
        raise _Unsupported(f"the optimizer {_describe(optimizer)} is not supported")
    if isinstance(optimizer, SGD) and cls._update is SGD._update:
        return "sgd"
    if isinstance(optimizer, Adam) and cls._update is Adam._update:
        return "adamw" if optimizer._decoupled else "adam"
    raise _Unsupported(
        f"the optimizer {_describe(optimizer)} is not supported (optim.SGD, Adam, AdamW)"
    )


def _pattern(analysis: _Analysis, group: dict[str, Any]) -> tuple:
    """The hyperparameters that decide which NumPy calls an update makes (not their values):
    which of them are zero, as the eager ``_update`` tests them."""
    decay = bool(float(group["weight_decay"]))
    if analysis.optimizer != "sgd":
        return (decay,)
    if not float(group["momentum"]):
        return (False, decay)
    return (True, decay, 1.0 - float(group["dampening"]) == 1.0, bool(group["nesterov"]))


def _analyse(model: Any, loss_fn: Any, optimizer: Any) -> _Analysis:
    """Take the step apart, or raise :class:`_Unsupported` saying what is not supported."""
    layers: list[_Op] = []
    containers: list[tuple[Module, tuple[Module, ...]]] = []
    _flatten(model, layers, containers)
    if not layers or layers[0].kind != "linear":
        raise _Unsupported("the model's first computing layer must be a Linear layer")
    loss, reduction, loss_module = _loss_kind(loss_fn)
    if reduction not in ("mean", "sum"):
        raise _Unsupported(f"reduction={reduction!r} gives no single loss to backpropagate")
    kind = _optimizer_kind(optimizer)
    dtypes = {p._data.dtype for op in layers for p in (op.weight, op.bias) if p is not None}
    if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
        found = ", ".join(sorted(map(str, dtypes)))
        raise _Unsupported(f"the parameters must share one float dtype, found {found}")
    groups = [(group, list(group["params"])) for group in optimizer.param_groups]
    in_optimizer = {id(p) for _, params in groups for p in params}
    used: set[int] = set()
    for op in layers:
        for p in (op.weight, op.bias):
            if p is None:
                continue
            if id(p) in used:
                raise _Unsupported("a parameter is used by two layers (shared weights)")
            used.add(id(p))
            if p._requires_grad and id(p) not in in_optimizer:
                raise _Unsupported(
                    "a parameter requires grad but is not in the optimizer: eager steps "
                    "accumulate its .grad from step to step"
                )
    names = {}
    if isinstance(model, Module):
        names = {id(p): name for name, p in model.named_parameters()}
    analysis = _Analysis(
        layers, containers, loss, reduction, loss_module, kind, groups,
        next(iter(dtypes)), names,
    )
    try:
        for group, _ in groups:
            _pattern(analysis, group)
    except (TypeError, ValueError, KeyError):
        raise _Unsupported("a hyperparameter of the optimizer is not a number") from None
    # Which gradients the eager rules compute (an input or parameter that requires grad).
    flowing = False  # does the current value require grad?
    for op in layers:
        if op.kind == "linear":
            op.need_x = flowing
            op.need_w = op.weight._requires_grad
            op.need_b = op.bias is not None and op.bias._requires_grad
            op.recorded = op.need_x or op.need_w or op.need_b
        else:
            op.recorded = flowing
        flowing = op.recorded
    if not flowing:
        raise _Unsupported("no parameter requires grad: the loss cannot be backpropagated")
    return analysis


# ---------------------------------------------------------------------------------------------
# Snapshots: what a step changes, to check a replay against the eager step


def _copy_state(state: dict[str, Any] | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in state.items()}


def _same(a: Any, b: Any) -> bool:
    """Bit for bit: same type, shape, dtype and bytes (so NaN equals NaN and -0 is not 0)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
            and a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
        )
    return type(a) is type(b) and a == b


class _Snapshot:
    """Copies of the parameters' values and ``.grad`` and of the optimizer's state."""

    def __init__(self, params: list[Tensor], optimizer: Optimizer) -> None:
        self.params = params
        self.optimizer = optimizer
        self.data = [p._data.copy() for p in params]
        self.grads = [None if p._grad is None else p._grad._data.copy() for p in params]
        self.states = [_copy_state(optimizer.state.get(p)) for p in params]

    def restore(self) -> None:
        """Put everything back, writing into the arrays that are there now."""
        state = self.optimizer.state
        for p, data, grad, saved in zip(self.params, self.data, self.grads, self.states):
            if p._data.shape == data.shape and p._data.dtype == data.dtype:
                np.copyto(p._data, data)
            else:
                p._data = data.copy()
            p._grad = None if grad is None else Tensor._make(grad.copy(), False, None)
            if saved is None:
                state.pop(p, None)
                continue
            current = state[p]
            for key in [k for k in current if k not in saved]:
                del current[key]
            for key, value in saved.items():
                old = current.get(key)
                if (
                    isinstance(value, np.ndarray) and isinstance(old, np.ndarray)
                    and old.shape == value.shape and old.dtype == value.dtype
                ):
                    np.copyto(old, value)
                else:
                    current[key] = value.copy() if isinstance(value, np.ndarray) else value

    def difference(self, other: _Snapshot, names: dict[int, str]) -> str | None:
        """Where ``other`` differs from this snapshot (None: nowhere)."""
        for i, p in enumerate(self.params):
            name = names.get(id(p), f"parameter {i}")
            if not _same(self.data[i], other.data[i]):
                return f"the value of {name}"
            if not _same(self.grads[i], other.grads[i]):
                return f"the .grad of {name}"
            mine, theirs = self.states[i], other.states[i]
            if (mine is None) != (theirs is None) or (
                mine is not None and (
                    mine.keys() != theirs.keys()
                    or any(not _same(mine[k], theirs[k]) for k in mine)
                )
            ):
                return f"the optimizer state of {name}"
        return None


# ---------------------------------------------------------------------------------------------
# Writing the replay


_NAMESPACE: dict[str, Any] = {
    name: getattr(np, name)
    for name in (
        "matmul", "add", "subtract", "multiply", "divide", "maximum", "greater",
        "greater_equal", "tanh", "exp", "log", "absolute", "negative", "sqrt", "square",
        "copyto", "asarray", "zeros_like",
    )
}
_NAMESPACE.update(add_reduce=np.add.reduce, max_reduce=np.maximum.reduce, sqrt_=math.sqrt)


class _Arena:
    """One flat zeroed array cut into aligned, contiguous views (the gradients, say).

    Views made in the same order in two arenas of one layout sit at the same offsets, so an
    elementwise operation over a whole span of one arena lines up with the other's.
    """

    def __init__(self, shapes: list[tuple[int, ...]], dtype: np.dtype) -> None:
        step = max(1, _ALIGN // dtype.itemsize)
        self.offsets, total = [], 0
        for shape in shapes:
            self.offsets.append(total)
            total += -(-math.prod(shape) // step) * step
        self.total = total
        self.flat = np.zeros(total + step, dtype)
        shift = (-self.flat.ctypes.data % _ALIGN) // dtype.itemsize
        self.flat = self.flat[shift : shift + total]
        self.shapes = shapes

    def view(self, index: int, order: str = "C") -> np.ndarray:
        """View ``index`` with its shape, row-major (``"C"``) or column-major (``"F"``)."""
        start, shape = self.offsets[index], self.shapes[index]
        return self.flat[start : start + math.prod(shape)].reshape(shape, order=order)

    def span(self, first: int, last: int) -> np.ndarray:
        """The flat stretch from view ``first`` to the end of view ``last`` (padding too)."""
        return self.flat[self.offsets[first] : self.offsets[last] + math.prod(self.shapes[last])]


class _Writer:
    """Collects the lines of the replay function and the objects they name."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = dict(_NAMESPACE)
        self.guard: list[str] = []
        self.setup: list[str] = []
        self.body: list[str] = []
        self._count: dict[str, int] = {}
        self._named: dict[int, str] = {}

    def name(self, prefix: str, obj: Any) -> str:
        """A fresh name ``prefix<n>`` for ``obj`` (its old one if it has one already)."""
        if id(obj) in self._named:
            return self._named[id(obj)]
        n = self._count.get(prefix, 0)
        while f"{prefix}{n}" in self.ns:
            n += 1
        self._count[prefix] = n + 1
        return self.bind(f"{prefix}{n}", obj)

    def bind(self, name: str, obj: Any) -> str:
        """Name ``obj`` exactly ``name``."""
        if name in self.ns:
            raise AssertionError(f"name {name} bound twice")
        self.ns[name] = obj
        self._named[id(obj)] = name
        return name

    def emit(self, line: str) -> None:
        self.body.append(line)

    def source(self) -> str:
        """The replay function, as shown by ``CompiledStep.source``."""
        lines = ["def replay(x, y):"]
        lines.append("    # guards: still the model, loss and optimizer this was recorded for")
        lines += [f"    {line}" for line in self.guard]
        lines += [f"    {line}" for line in self.setup]
        lines += [f"    {line}" for line in self.body]
        return "\n".join(lines) + "\n"

    def function(self) -> Callable[..., Any]:
        """Compile the replay. Its names are bound as variables of an enclosing function,
        so that each use is a closure-cell read rather than a dictionary lookup."""
        inner = "".join(f"    {line}\n" for line in self.source().splitlines())
        names = "".join(f"    {name} = _ns[{name!r}]\n" for name in self.ns)
        text = f"def _make(_ns):\n{names}{inner}    return replay\n"
        scope: dict[str, Any] = {}
        exec(builtins.compile(text, "<tinygrad_mlp.replay>", "exec"), scope)
        return scope["_make"](self.ns)


@dataclass
class _Plan:
    """A replay for one input signature, or the reason there is none."""

    replay: Callable[[np.ndarray, np.ndarray], Any] | None
    source: str | None
    reason: str | None
    fingerprint: tuple


class _Builder:
    """Writes the replay of one step for one input signature, mirroring the eager rules."""

    def __init__(self, analysis: _Analysis, x: np.ndarray, x_tensor: bool, y: np.ndarray,
                 optimizer: Optimizer) -> None:
        self.a, self.x, self.y, self.opt = analysis, x, y, optimizer
        self.x_tensor = x_tensor
        self.dt = analysis.dtype
        self.w = _Writer()
        # 0 and 1 as 0-d arrays of the model's dtype: the same values the eager rules' Python
        # 0 and 1 become (NEP 50), at a lower price per call.
        self.w.bind("ZERO", np.zeros((), self.dt))
        self.w.bind("ONE", np.ones((), self.dt))
        self.n = x.shape[0] if x.ndim else 0
        self._check_inputs(x, x_tensor, y)
        # Scratch: two gradient buffers used in turn, a float and a bool scratch.
        widths = [x.shape[1]] + [op.weight._data.shape[0] for op in analysis.ops
                                 if op.kind == "linear"]
        size = self.n * max(widths)
        self.turn = [np.empty(size, self.dt), np.empty(size, self.dt)]
        self.turn_next = 0
        self.scratch = np.empty(size, self.dt)
        self.mask = np.empty(size, bool)
        # Gradients of the trainable parameters, grouped as the optimizer groups them.
        self.trainable: list[Tensor] = [p for _, params in analysis.groups for p in params
                                        if p._requires_grad and self._used(p)]
        shapes = [p._data.shape for p in self.trainable]
        self.grads = _Arena(shapes, self.dt)
        self.temp = _Arena(shapes, self.dt)  # d_p, or the step lr * d_p
        self.temp2 = _Arena(shapes, self.dt)  # a second temporary (momentum, Adam)
        self.index = {id(p): i for i, p in enumerate(self.trainable)}
        self._bind_names()

    def _bind_names(self) -> None:
        """Readable names: ``layer<k>`` for the k-th Linear, ``W<k>``/``B<k>`` its parameters,
        ``w<k>``/``b<k>`` their arrays, ``gw<k>``/``gb<k>`` their gradients (and ``tw<k>``,
        ``uw<k>`` temporaries of the update)."""
        w = self.w
        # Each gradient in the layout the eager rule gives it; the temporaries of the update
        # alike, so that a flat operation over the arenas pairs the right elements.
        orders = ["F" if self._weight_rule(p) == "transposed" else "C" for p in self.trainable]
        count = range(len(self.trainable))
        self.grad_views = [self.grads.view(i, orders[i]) for i in count]
        self.temp_views = [self.temp.view(i, orders[i]) for i in count]
        self.temp2_views = [self.temp2.view(i, orders[i]) for i in count]
        k = 0
        for op in self.a.ops:
            if op.kind != "linear":
                continue
            w.bind(f"layer{k}", op.module)
            for short, p in (("w", op.weight), ("b", op.bias)):
                if p is None:
                    continue
                w.bind(f"{short.upper()}{k}", p)
                w.bind(f"{short}{k}", p._data)
                if id(p) in self.index:
                    i = self.index[id(p)]
                    w.bind(f"g{short}{k}", self.grad_views[i])
                    w.bind(f"t{short}{k}", self.temp_views[i])
                    w.bind(f"u{short}{k}", self.temp2_views[i])
                    w.bind(f"grad_{short}{k}", Tensor._make(self.grad_views[i], False, None))
            k += 1
        for i, p in enumerate(self.trainable):  # (all of them are some layer's)
            assert id(p) in w._named and id(self.grad_views[i]) in w._named

    def _weight_rule(self, p: Tensor) -> str:
        """How ``ops.Linear`` computes ``p``'s gradient if ``p`` is a weight: in the weight's
        own layout, ``(x.T @ g).T`` ("transposed") for a column-major one, else ``g.T @ x``
        ("plain", as for a bias: a row-major vector either way)."""
        if not any(p is op.weight for op in self.a.ops):
            return "plain"
        return "transposed" if p._data.flags.f_contiguous else "plain"

    def _used(self, p: Tensor) -> bool:
        return any(p is op.weight or p is op.bias for op in self.a.ops)

    def _check_inputs(self, x: np.ndarray, x_tensor: bool, y: np.ndarray) -> None:
        first = self.a.ops[0].weight._data
        if x.ndim != 2 or x.shape[0] < 1:
            raise _Unsupported(f"x has shape {x.shape}: only a non-empty 2-D batch is replayed")
        if x.dtype.kind not in "biuf":
            raise _Unsupported(f"x has dtype {x.dtype}")
        if x_tensor and x.dtype.kind == "f" and x.dtype != self.dt:
            raise _Unsupported(
                f"x is a {x.dtype} Tensor but the model is {self.dt}: NumPy promotes it"
            )
        if x.shape[1] != first.shape[1]:
            raise _Unsupported("x does not fit the first layer")
        if self.a.loss == "ce":
            if y.dtype.kind not in "iu":
                raise _Unsupported(
                    f"the target has dtype {y.dtype}: only integer class indices are replayed"
                )
            if y.shape != (x.shape[0],):
                raise _Unsupported(f"the target has shape {y.shape}")
        elif y.dtype.kind not in "biuf":
            raise _Unsupported(f"the target has dtype {y.dtype}")

    # -- pieces ------------------------------------------------------------------------------

    def buffer(self, prefix: str, shape: tuple[int, ...], dtype: Any = None) -> str:
        return self.w.name(prefix, np.empty(shape, self.dt if dtype is None else dtype))

    def from_turn(self, shape: tuple[int, ...]) -> str:
        flat = self.turn[self.turn_next]
        self.turn_next = 1 - self.turn_next
        return self.w.name("h", flat[: math.prod(shape)].reshape(shape))

    def scratch_view(self, shape: tuple[int, ...], mask: bool = False) -> str:
        flat = self.mask if mask else self.scratch
        return self.w.name("m" if mask else "t", flat[: math.prod(shape)].reshape(shape))

    def transposed(self, name: str) -> str:
        return self.w.name(f"{name}_T", self.w.ns[name].T)

    # -- the whole function ----------------------------------------------------------------

    def build(self) -> tuple[Callable[..., Any], str]:
        self.guards()
        out = self.forward()
        g = self.loss(out)
        self.backward(g)
        self.update()
        self.w.emit("return asarray(loss)")
        return self.w.function(), self.w.source()

    def guards(self) -> None:
        a, w = self.a, self.w
        for module, children in a.containers:
            m = w.name("S", module)
            kids = w.name("KIDS", children)
            w.guard.append(f"if tuple({m}._modules.values()) != {kids}: return None")
        for op in a.ops:
            if op.kind != "linear":
                continue
            layer = w.name("layer", op.module)
            for attr, p in (("weight", op.weight), ("bias", op.bias)):
                if p is None:
                    w.guard.append(f"if {layer}.{attr} is not None: return None")
                    continue
                P, data = w.name("P", p), w.name("p", p._data)
                w.guard.append(
                    f"if {layer}.{attr} is not {P} or {P}._data is not {data} or "
                    f"{P}._requires_grad is not {p._requires_grad}: return None"
                )
        if a.loss_module is not None:
            red = w.name("RED", a.reduction)
            w.guard.append(f"if {w.name('LOSSFN', a.loss_module)}.reduction != {red}: return None")
        opt = w.name("OPT", self.opt)
        groups = w.name("GROUPS", self.opt.param_groups)
        w.guard.append(
            f"if {opt}.param_groups is not {groups} or len({groups}) != {len(a.groups)}: "
            "return None"
        )
        self.state_name = w.name("STATE", self.opt.state)
        w.guard.append(f"if {opt}.state is not {self.state_name}: return None")
        self.group_names = []
        for group, params in a.groups:
            G = w.name("group", group)
            plist = w.name("PARAMS", group["params"])
            w.guard.append(
                f"if {G}['params'] is not {plist} or len({plist}) != {len(params)}: return None"
            )
            self.group_names.append(G)

    def forward(self) -> str:
        """The model's forward pass; returns the name of its output."""
        w, dt = self.w, self.dt
        if self.x.dtype == dt:
            cur = "x"
        elif self.x_tensor:  # _promote: an integer Tensor becomes the float beside it
            w.emit(f"xc = x.astype({w.name('DT', dt)})")
            cur = "xc"
        else:  # _lift: an array beside a float Tensor takes its dtype
            w.emit(f"xc = asarray(x, {w.name('DT', dt)})")
            cur = "xc"
        fresh = False  # cur is a Linear's output, which nothing reads in backward
        n = self.n
        for op in self.a.ops:
            op.input = cur  # type: ignore[attr-defined]
            if op.kind == "linear":
                weight = w.name("p", op.weight._data)  # (already named)
                op.wname = weight  # type: ignore[attr-defined]
                z = self.buffer("z", (n, op.weight._data.shape[0]))
                w.emit(f"matmul({cur}, {self.transposed(weight)}, {z})  # linear: x @ W.T")
                if op.bias is not None:
                    w.emit(f"add({z}, {w.name('p', op.bias._data)}, {z})  # += bias")
                cur, fresh = z, True
                op.output = z  # type: ignore[attr-defined]
                continue
            shape = w.ns[cur].shape
            o = cur if fresh else self.buffer("a", shape)
            if op.kind == "relu":
                w.emit(f"maximum({cur}, ZERO, out={o})  # relu")
            elif op.kind == "tanh":
                w.emit(f"tanh({cur}, {o})  # tanh")
            else:  # sigmoid: where(x >= 0, 1 / (1 + e), e / (1 + e)), e = exp(-|x|)
                m, t = self.scratch_view(shape, mask=True), self.scratch_view(shape)
                w.emit(f"greater_equal({cur}, ZERO, {m})  # sigmoid")
                w.emit(f"absolute({cur}, {o})")
                w.emit(f"negative({o}, {o})")
                w.emit(f"exp({o}, {o})")
                w.emit(f"add(ONE, {o}, {t})")
                w.emit(f"divide({o}, {t}, {o})")
                w.emit(f"divide(ONE, {t}, {t})")
                w.emit(f"copyto({o}, {t}, 'same_kind', {m})")
            op.output = o  # type: ignore[attr-defined]
            cur, fresh = o, False
        return cur

    def loss(self, out: str) -> str:
        """The loss value (``loss``) and its gradient; returns the gradient's buffer."""
        w, dt, a = self.w, self.dt, self.a
        shape = w.ns[out].shape
        seed = np.ones((), dt)  # backward's seed: np.ones_like(loss)
        if a.loss == "mse":
            if self.y.shape != shape:
                raise _Unsupported(f"the target has shape {self.y.shape}")
            target = "y"
            if self.y.dtype != dt:  # _like_input: target.astype(input.dtype)
                w.emit(f"yc = y.astype({w.name('DT', dt)})")
                target = "yc"
            d, q = self.buffer("d", shape), self.buffer("q", shape)
            w.emit(f"subtract({out}, {target}, {d})  # mse: diff = x - y")
            w.emit(f"multiply({d}, {d}, {q})")
            w.emit(f"total = add_reduce({q}, None)")
            size = math.prod(shape)
            w.emit(f"loss = total / {size}" if a.reduction == "mean" else "loss = total")
            scale = 2.0 / max(size, 1) if a.reduction == "mean" else 2.0
            w.emit(f"multiply({w.name('C', seed * scale)}, {d}, {q})  # (g * scale) * diff")
            return q
        return self._cross_entropy(out, shape, seed)

    def _cross_entropy(self, out: str, shape: tuple[int, ...], seed: np.ndarray) -> str:
        w, a = self.w, self.a
        n, classes = shape
        # CrossEntropy.forward refuses a class out of range, and then so does the eager step.
        # Seen as unsigned, a negative class is huge: one max() checks both ends.
        unsigned = np.dtype(f"u{self.y.dtype.itemsize}")
        w.guard.append(f"if y.view({w.name('UINT', unsigned)}).max() >= {classes}: return False")
        index_type = np.intp if np.can_cast(self.y.dtype, np.intp) else np.uint64
        index = self.buffer("index", (n,), index_type)
        mx = self.buffer("mx", (n, 1))
        norm, losses = self.buffer("norm", (n, 1)), self.buffer("losses", (n,))
        w.emit("# cross-entropy")
        if classes <= ops._FEW_CLASSES:
            # The engine copies few-class logits to column-major (np.asfortranarray), which
            # changes the order of the sums over a row: so does the replay.
            s = w.name("s", np.empty(shape, self.dt, order="F"))
            w.emit(f"copyto({s}, {out})  # np.asfortranarray(logits)")
            w.emit(f"max_reduce({s}, -1, None, {mx}, True)")
            w.emit(f"subtract({s}, {mx}, {s})  # shifted")
            # (row, class) as an index into the buffer's memory: row + class * n
            w.emit(f"multiply(y, {n}, {index}); add({index}, {w.name('ROWS', np.arange(n))}, "
                   f"{index})")
        else:
            s = self.buffer("s", shape)
            w.emit(f"max_reduce({out}, -1, None, {mx}, True)")
            w.emit(f"subtract({out}, {mx}, {s})  # shifted")
            starts = w.name("STARTS", np.arange(n, dtype=index_type) * classes)
            w.emit(f"add({starts}, y, {index})  # row * classes + class")
        flat = w.name("flat_s", np.ravel(w.ns[s], order="K"))
        assert np.shares_memory(w.ns[flat], w.ns[s])
        w.emit(f"picked = {flat}[{index}]  # shifted[rows, classes]")
        w.emit(f"exp({s}, {s})")
        w.emit(f"add_reduce({s}, -1, None, {norm}, True)")
        w.emit(f"divide({s}, {norm}, {s})  # probabilities")
        w.emit(f"log({norm}, {norm})")
        w.emit(f"subtract({w.name('norm0_', w.ns[norm][:, 0])}, picked, {losses})")
        w.emit(f"total = add_reduce({losses}, None)")
        w.emit(f"loss = total / {n}" if a.reduction == "mean" else "loss = total")
        per_row = w.name("C", seed * (1.0 / max(n, 1)) if a.reduction == "mean" else seed)
        w.emit(f"multiply({s}, {per_row}, {s})  # probs * per_row")
        w.emit(f"{flat}[{index}] -= {per_row}  # ... - per_row at the classes")
        return s

    def backward(self, g: str) -> None:
        w = self.w
        for op in reversed(self.a.ops):
            if not op.recorded:
                break
            o = op.output  # type: ignore[attr-defined]
            if op.kind == "linear":
                if op.need_w:
                    view = self.grad_views[self.index[id(op.weight)]]
                    if self._weight_rule(op.weight) == "transposed":
                        x_t = (f"{op.input}.T" if op.input in ("x", "xc")
                               else self.transposed(op.input))
                        gw_t = w.name(f"{w.name('g', view)}_T", view.T)
                        w.emit(f"matmul({x_t}, {g}, {gw_t})  # linear: (x.T @ g).T")
                    else:
                        gw = w.name("g", view)
                        w.emit(f"matmul({self.transposed(g)}, {op.input}, {gw})  # linear: g.T @ x")
                if op.need_b:
                    gb = w.name("g", self.grad_views[self.index[id(op.bias)]])
                    ones = w.name("ONES", np.ones(self.n, self.dt))
                    w.emit(f"matmul({ones}, {g}, {gb})  # linear: ones @ g")
                if op.need_x:
                    h = self.from_turn(w.ns[op.input].shape)
                    w.emit(f"matmul({g}, {op.wname}, {h})  # g @ W")
                    g = h
                continue
            # An activation's gradient: in place, unless g is column-major (cross-entropy's,
            # for few classes): NumPy gives a row-major result for g times the row-major
            # output, and the layout decides which BLAS routine the next layer's backward runs.
            shape = w.ns[g].shape
            h = g if w.ns[g].flags.c_contiguous else self.from_turn(shape)
            if op.kind == "relu":
                m = self.scratch_view(shape, mask=True)
                w.emit(f"greater({o}, ZERO, {m})  # relu': x > 0")
                w.emit(f"multiply({g}, {m}, {h})")
            elif op.kind == "tanh":
                t = self.scratch_view(shape)
                w.emit(f"multiply({o}, {o}, {t})  # tanh': 1 - out * out")
                w.emit(f"subtract(ONE, {t}, {t})")
                w.emit(f"multiply({g}, {t}, {h})")
            else:
                t = self.scratch_view(shape)
                w.emit(f"multiply({g}, {o}, {h})  # sigmoid': g * out * (1 - out)")
                w.emit(f"subtract(ONE, {o}, {t})")
                w.emit(f"multiply({h}, {t}, {h})")
            g = h

    # -- the optimizer -----------------------------------------------------------------------

    def update(self) -> None:
        w, a = self.w, self.a
        names = [w.name("g", view) for view in self.grad_views]
        first = 0
        for (group, params), G in zip(a.groups, self.group_names):
            mine = [p for p in params if id(p) in self.index]
            count = len(mine)
            indices = list(range(first, first + count))
            first += count
            pattern = _pattern(a, group)
            if not count:
                continue
            if a.optimizer == "sgd":
                self._sgd(G, indices, names, pattern)
            else:
                self._adam(G, indices, names, pattern)
        # .grad as eager leaves it: trainable parameters hold their gradient, others None.
        for i, p in enumerate(self.trainable):
            P, data = w.name("P", p), w.name("p", p._data)
            T = f"grad_{data}"
            w.emit(f"{P}._grad = {T}; {T}._data = {names[i]}")
        for _, params in a.groups:  # zero_grad() set these to None and backward left them
            for p in params:
                if id(p) not in self.index:
                    w.emit(f"{w.name('X', p)}._grad = None")

    def _views(self, i: int) -> tuple[str, str, str, str]:
        p = self.trainable[i]
        w = self.w
        return (w.name("p", p._data), w.name("t", self.temp_views[i]),
                w.name("u", self.temp2_views[i]), w.name("P", p))

    def _sgd(self, G: str, indices: list[int], grads: list[str], pattern: tuple) -> None:
        w = self.w
        momentum, decay, undamped, nesterov = (*pattern, True, False)[:4]
        k = indices[0]
        lr = f"lr{k}"
        # The hyperparameters as SGD._update reads them; a zero that is no longer zero (or
        # the other way round) calls for other NumPy calls: a new recording.
        w.setup.append(
            f"{lr} = float({G}['lr']); mom{k} = float({G}['momentum']); "
            f"wd{k} = float({G}['weight_decay'])"
        )
        tests = [_truth(f"mom{k}", momentum), _truth(f"wd{k}", decay)]
        if momentum:
            w.setup.append(f"keep{k} = 1.0 - float({G}['dampening']); nest{k} = {G}['nesterov']")
            tests += [f"keep{k} {'!=' if undamped else '=='} 1.0", _truth(f"nest{k}", nesterov)]
        w.setup.append(f"if {' or '.join(tests)}: return None")
        span_t = w.name("TF", self.temp.span(indices[0], indices[-1]))
        span_u = w.name("UF", self.temp2.span(indices[0], indices[-1]))
        span_g = w.name("GF", self.grads.span(indices[0], indices[-1]))
        views = {i: self._views(i) for i in indices}
        dp = {i: grads[i] for i in indices}
        w.emit(f"# SGD, parameter group {G}")
        if decay:  # d_p = d_p + weight_decay * p
            for i in indices:
                w.emit(f"multiply({views[i][0]}, wd{k}, {views[i][1]})")
            w.emit(f"add({span_g}, {span_t}, {span_t})")
            dp = {i: views[i][1] for i in indices}
        if not momentum:  # p -= lr * d_p
            w.emit(f"multiply({span_t if decay else span_g}, {lr}, {span_u})")
            for i in indices:
                data, _, u, _ = views[i]
                w.emit(f"subtract({data}, {u}, {data})")
            return
        dtype = w.name("DT", self.dt)
        for i in indices:
            data, t, u, P = views[i]
            w.emit(f"st = {self.state_name}[{P}]; buf = st.get('momentum_buffer')")
            w.emit("if buf is None:")
            w.emit(f"    buf = st['momentum_buffer'] = {dp[i]}.astype({dtype})")
            w.emit("else:")
            w.emit(f"    if buf.dtype != {dtype}:  # the model was cast since the last step")
            w.emit(f"        buf = st['momentum_buffer'] = buf.astype({dtype})")
            w.emit(f"    multiply(buf, mom{k}, buf)")
            if undamped:
                w.emit(f"    add(buf, {dp[i]}, buf)")
            else:
                w.emit(f"    multiply(keep{k}, {dp[i]}, {u}); add(buf, {u}, buf)")
            if nesterov:  # d_p = d_p + momentum * buf
                w.emit(f"multiply(mom{k}, buf, {u}); add({dp[i]}, {u}, {t})")
                w.emit(f"multiply({t}, {lr}, {u})")
            else:
                w.emit(f"multiply(buf, {lr}, {u})")
            w.emit(f"subtract({data}, {u}, {data})")

    def _adam(self, G: str, indices: list[int], grads: list[str], pattern: tuple) -> None:
        w = self.w
        (decay,) = pattern
        k = indices[0]
        lr, eps, wd, b1, b2 = (f"{n}{k}" for n in ("lr", "eps", "wd", "b1_", "b2_"))
        w.setup.append(f"{lr} = float({G}['lr']); {eps} = float({G}['eps'])")
        w.setup.append(f"{wd} = float({G}['weight_decay']); betas = {G}['betas']")
        w.setup.append(f"{b1}, {b2} = float(betas[0]), float(betas[1])")
        w.setup.append(f"if {_truth(wd, decay)}: return None")
        w.emit(f"# {'AdamW' if self.a.optimizer == 'adamw' else 'Adam'}, parameter group {G}")
        dtype = w.name("DT", self.dt)
        for i in indices:
            data, t, u, P = self._views(i)
            d = t  # the denominator reuses the temporary once the moments are updated
            g = grads[i]
            w.emit(f"st = {self.state_name}[{P}]")
            w.emit("if not st:")
            w.emit(f"    st['step'] = 0; st['exp_avg'] = zeros_like({data})")
            w.emit(f"    st['exp_avg_sq'] = zeros_like({data})")
            w.emit(f"elif st['exp_avg'].dtype != {dtype}:  # the model was cast since")
            w.emit(f"    st['exp_avg'] = st['exp_avg'].astype({dtype})")
            w.emit(f"    st['exp_avg_sq'] = st['exp_avg_sq'].astype({dtype})")
            w.emit("st['step'] = n = st['step'] + 1")
            if decay and self.a.optimizer == "adamw":
                w.emit(f"multiply({data}, 1.0 - {lr} * {wd}, {data})")
            elif decay:
                w.emit(f"multiply({wd}, {data}, {u}); add({g}, {u}, {u})")
                g = u
            w.emit("m = st['exp_avg']; v = st['exp_avg_sq']")
            w.emit(f"multiply(m, {b1}, m); multiply(1.0 - {b1}, {g}, {t}); add(m, {t}, m)")
            w.emit(f"multiply(v, {b2}, v); square({g}, {t}); multiply(1.0 - {b2}, {t}, {t})")
            w.emit(f"add(v, {t}, v)")
            w.emit(f"sqrt(v, {d}); divide({d}, sqrt_(1.0 - {b2} ** n), {d}); add({d}, {eps}, {d})")
            w.emit(f"divide(m, {d}, {d}); multiply({d}, {lr} / (1.0 - {b1} ** n), {d})")
            w.emit(f"subtract({data}, {d}, {data})")


# ---------------------------------------------------------------------------------------------
# The graph an eager step built: is it the one the replay mirrors?

_NODES: dict[str, type] = {
    "linear": ops.Linear, "relu": ops.ReLU, "tanh": ops.Tanh, "sigmoid": ops.Sigmoid,
}


def _graph_problem(loss: Any, analysis: _Analysis) -> str | None:
    """Walk the graph back from the loss (before backward frees it): None if it is made of
    exactly the nodes the replay mirrors, else what differs."""
    want = ops.MeanSquaredError if analysis.loss == "mse" else ops.CrossEntropy
    node = getattr(loss, "grad_fn", None)
    if type(node) is not want:
        return f"the loss node is {_describe(node)}, not {want.__name__}"
    if loss._data.shape != () or loss._data.dtype != analysis.dtype:
        return f"the loss has shape {loss._data.shape} and dtype {loss._data.dtype}"
    parents = node.parents
    if len(parents) != (2 if analysis.loss == "mse" else 1) or (
        len(parents) == 2 and parents[1]._requires_grad
    ):
        return "the loss node has other inputs than the model's output and a constant target"
    value = parents[0]
    for op in reversed(analysis.ops):
        if not op.recorded:
            break
        node = value.grad_fn
        if type(node) is not _NODES[op.kind]:
            return f"the graph has {_describe(node)} where {_NODES[op.kind].__name__} was expected"
        if op.kind == "linear":
            expected = [op.weight] if op.bias is None else [op.weight, op.bias]
            if len(node.parents) != 1 + len(expected) or any(
                a is not b for a, b in zip(node.parents[1:], expected)
            ):
                return "a linear node does not use its layer's own parameters"
        elif len(node.parents) != 1:
            return f"a {op.kind} node has {len(node.parents)} inputs"
        value = node.parents[0]
    if value.grad_fn is not None:
        return "the graph goes on before the first layer"
    return None


# ---------------------------------------------------------------------------------------------
# The public object


class CompiledStep:
    """One training step, replayed from a recording when it can be; see :func:`compile_step`.

    ``step(x, y)`` has the effect of ``optimizer.zero_grad(); loss = loss_fn(model(x), y);
    loss.backward(); optimizer.step()`` and returns the loss as a 0-d Tensor that is not part
    of any graph (``float(step(x, y))`` for a number).

    Attributes: ``compiled`` (the last call ran the replay), ``reason`` (why the last call ran
    the eager step instead, else None), ``last`` (``"replay"``, ``"record"`` or ``"eager"``),
    ``counts`` (calls of each kind), ``source`` (the replay's Python source, last one used),
    ``supported`` / ``unsupported_reason`` (whether model, loss and optimizer can be replayed
    at all).

    After a replayed step each trainable parameter's ``.grad`` is a Tensor holding its
    gradient, but the array behind it is reused by the next replay (as PyTorch reuses
    gradient memory): copy it (``p.grad.numpy().copy()``) to keep a step's gradient.

    >>> import numpy as np
    >>> from tinygrad_mlp import nn, optim
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    >>> step = CompiledStep(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    >>> x, y = np.ones((5, 3), np.float32), np.array([0, 1, 1, 0, 1])
    >>> loss = step(x, y); loss = step(x, y)
    >>> step.last, loss.shape, model[0].weight.grad.shape
    ('replay', (), (4, 3))
    """

    def __init__(
        self, model: Any, loss_fn: Any, optimizer: Optimizer, *, cache_size: int = 4,
        verify: bool = True,
    ) -> None:
        if cache_size < 1:
            raise ValueError(f"compile_step: cache_size must be at least 1, got {cache_size}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.cache_size, self.verify = int(cache_size), bool(verify)
        self._plans: OrderedDict[tuple, _Plan] = OrderedDict()
        self._plan: _Plan | None = None
        self.counts = {"replay": 0, "record": 0, "eager": 0}
        self.last: str | None = None
        self.reason: str | None = None

    # -- the step ----------------------------------------------------------------------------

    def __call__(self, x: Any, y: Any) -> Tensor:
        """One training step on the batch ``(x, y)``; returns the loss (a 0-d Tensor)."""
        key = xa = ya = None
        x_tensor = type(x) is not np.ndarray
        if not x_tensor:
            xa = x
        elif isinstance(x, Tensor) and not x._requires_grad:
            xa = x._data
        if type(y) is np.ndarray:
            ya = y
        elif isinstance(y, Tensor) and not y._requires_grad:
            ya = y._data
        if xa is not None and ya is not None:
            key = (xa.shape, xa.dtype, x_tensor, ya.shape, ya.dtype)
            plans = self._plans
            plan = plans.get(key)
            if plan is not None and plan.replay is not None:
                mode = _mode
                if mode.grad_enabled and not mode.anomaly:
                    loss = plan.replay(xa, ya)
                    if loss is not None and loss is not False:
                        self.counts["replay"] += 1
                        self.last, self.reason, self._plan = "replay", None, plan
                        if len(plans) > 1:
                            plans.move_to_end(key)
                        return Tensor._make(loss, False, None)
                    if loss is False:
                        return self._eager(x, y, "a class index is out of range (eager raises)")
        return self._slow(x, y, xa, ya, x_tensor, key)

    def _slow(self, x: Any, y: Any, xa: Any, ya: Any, x_tensor: bool, key: tuple | None) -> Tensor:
        if not _mode.grad_enabled:
            return self._eager(x, y, "grad mode is off (no_grad): nothing to replay")
        if _mode.anomaly:
            return self._eager(x, y, "detect_anomaly is on: the eager step checks every value")
        try:
            analysis = _analyse(self.model, self.loss_fn, self.optimizer)
        except _Unsupported as error:
            return self._eager(x, y, str(error))
        if key is None:
            return self._eager(
                x, y, "x and y must be NumPy arrays or Tensors that do not require grad"
            )
        fingerprint = analysis.fingerprint()
        plan = self._plans.get(key)
        if plan is not None and plan.replay is None and plan.fingerprint == fingerprint:
            return self._eager(x, y, plan.reason)
        return self._record(x, y, xa, ya, x_tensor, key, analysis, fingerprint)

    def _eager(self, x: Any, y: Any, reason: str | None) -> Tensor:
        self.counts["eager"] += 1
        self.last, self.reason = "eager", reason
        return self._eager_step(x, y, None)[0]

    def _eager_step(self, x: Any, y: Any, analysis: _Analysis | None) -> tuple[Tensor, str | None]:
        """The eager step itself; with ``analysis``, also what its graph does not match."""
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        problem = None if analysis is None else _graph_problem(loss, analysis)
        loss.backward()
        self.optimizer.step()
        return Tensor._make(loss._data, False, None), problem

    def _record(
        self, x: Any, y: Any, xa: np.ndarray, ya: np.ndarray, x_tensor: bool, key: tuple,
        analysis: _Analysis, fingerprint: tuple,
    ) -> Tensor:
        """Run the eager step, write its replay, and check the replay against it."""
        params = analysis.params()
        before = _Snapshot(params, self.optimizer) if self.verify else None
        self.last, self.reason = "eager", "the eager step of a recording raised"
        loss, problem = self._eager_step(x, y, analysis)
        try:
            builder = _Builder(analysis, xa, x_tensor, ya, self.optimizer)
            if problem is not None:
                raise _Unsupported(problem)
            replay, source = builder.build()
        except _Unsupported as error:
            return self._refuse(key, str(error), fingerprint, loss)
        plan = _Plan(replay, source, None, fingerprint)
        if before is not None:
            eager = _Snapshot(params, self.optimizer)
            before.restore()
            with np.errstate(all="ignore"):  # the eager step has warned already
                out = replay(xa, ya)
            if out is None or out is False:
                where = "its guards"
            elif not _same(out, loss._data):
                where = "the loss"
            else:
                where = eager.difference(_Snapshot(params, self.optimizer), analysis.names)
            if where is not None:
                eager.restore()
                return self._refuse(
                    key, f"the replay differed from the eager step in {where}", fingerprint, loss
                )
            loss = Tensor._make(out, False, None)
        self._store(key, plan)
        self.counts["record"] += 1
        self.last, self.reason, self._plan = "record", None, plan
        return loss

    def _refuse(self, key: tuple, reason: str, fingerprint: tuple, loss: Tensor) -> Tensor:
        """Remember that this signature runs eager (until the model changes)."""
        reason = f"{reason}; inputs of this shape and dtype run eager"
        self._store(key, _Plan(None, None, reason, fingerprint))
        self.counts["eager"] += 1
        self.last, self.reason = "eager", reason
        return loss

    def _store(self, key: tuple, plan: _Plan) -> None:
        self._plans[key] = plan
        self._plans.move_to_end(key)
        while len(self._plans) > self.cache_size:
            self._plans.popitem(last=False)

    # -- looking inside ----------------------------------------------------------------------

    @property
    def compiled(self) -> bool:
        """True when the last call ran the replay (a recording's check included)."""
        return self.last in ("replay", "record")

    @property
    def source(self) -> str | None:
        """The Python source of the replay used last (one NumPy call a line), or None."""
        return None if self._plan is None else self._plan.source

    @property
    def unsupported_reason(self) -> str | None:
        """Why model, loss and optimizer as they are now can never be replayed, or None."""
        try:
            _analyse(self.model, self.loss_fn, self.optimizer)
        except _Unsupported as error:
            return str(error)
        return None

    @property
    def supported(self) -> bool:
        """Whether model, loss and optimizer as they are now can be replayed at all."""
        return self.unsupported_reason is None

    def clear(self) -> None:
        """Forget every recording (and free its buffers); the next call records again."""
        self._plans.clear()
        self._plan = None

    def __repr__(self) -> str:
        kept = sum(plan.replay is not None for plan in self._plans.values())
        return (
            f"CompiledStep({_describe(self.model)}, {_describe(self.loss_fn)}, "
            f"{_describe(self.optimizer)}; {kept} recording(s), counts {self.counts})"
        )


def compile_step(
    model: Any, loss_fn: Any, optimizer: Optimizer, *, cache_size: int = 4, verify: bool = True
) -> CompiledStep:
    """A training step that replays a recording of itself: see :class:`CompiledStep`.

    ``step = compile_step(model, loss_fn, optimizer)``; then ``loss = step(x, y)`` does what
    ``optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); optimizer.step()``
    does, bit for bit, and returns the loss as a 0-d Tensor. The first call for each shape
    and dtype of ``(x, y)`` records (an eager step, then a check that the replay reproduces
    it exactly); up to ``cache_size`` recordings are kept, the least recently used dropped
    first. ``verify=False`` skips the check (records cost one eager step instead of two).
    What cannot be replayed runs the eager step, and ``step.reason`` says why.

    >>> import numpy as np
    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn, optim
    >>> model = nn.MLP([2, 16, 1])
    >>> step = compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01))
    >>> x, y = np.zeros((8, 2), np.float32), np.zeros((8, 1), np.float32)
    >>> for _ in range(3):
    ...     loss = step(x, y)
    >>> step.compiled, step.counts["replay"]
    (True, 2)
    >>> _ = step(x[:5], y[:5])              # a new shape: recorded too
    >>> step.last
    'record'
    """
    return CompiledStep(model, loss_fn, optimizer, cache_size=cache_size, verify=verify)
