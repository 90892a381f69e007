"""The compiled step: :class:`CompiledStep` and :func:`compile_step` (``tg.compile``).

A call finds the recording for its input signature and runs it, or records one (the eager
step, then the replay checked against it), or runs the eager step and says why.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.modes import mode
from ..engine.tensor import Tensor
from ..nn.module import Module
from ..optim import Optimizer
from .builder import Builder
from .check import Snapshot, graph_problem, same
from .support import Analysis, analyse
from .workspace import Unsupported


@dataclass
class Plan:
    """A replay for one input signature, or the reason there is none."""

    replay: Callable[[np.ndarray, np.ndarray], Any] | None
    source: str | None
    reason: str | None
    fingerprint: tuple


def _describe(obj: Any) -> str:
    return type(obj).__name__


def _check_arguments(model: Any, loss_fn: Any, optimizer: Any, cache_size: Any,
                     verify: Any) -> None:
    """Every argument of ``tg.compile`` checked before anything runs."""
    if not callable(model):
        raise TypeError(
            f"tg.compile: model must be an nn.Module (or a callable), got {_describe(model)}"
        )
    if not callable(loss_fn):
        raise TypeError(
            f"tg.compile: loss_fn must be a loss (nn.MSELoss(), F.cross_entropy, any "
            f"callable), got {_describe(loss_fn)}"
        )
    if not all(callable(getattr(optimizer, name, None)) for name in ("zero_grad", "step")):
        raise TypeError(
            "tg.compile: optimizer must be an optimizer with zero_grad() and step() "
            f"(optim.SGD, Adam, AdamW), got {_describe(optimizer)}"
        )
    if isinstance(model, Module) and isinstance(optimizer, Optimizer):
        mine = {id(p) for p in model.parameters()}
        theirs = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if mine and not mine & theirs:
            raise ValueError(
                "tg.compile: the optimizer holds none of the model's parameters (was it "
                "made for another model?)"
            )
    if isinstance(cache_size, bool) or not isinstance(cache_size, (int, np.integer)):
        raise TypeError(f"tg.compile: cache_size must be an int, got {_describe(cache_size)}")
    if cache_size < 1:
        raise ValueError(f"tg.compile: cache_size must be at least 1, got {cache_size}")
    if not isinstance(verify, (bool, np.bool_)):
        raise TypeError(f"tg.compile: verify must be True or False, got {_describe(verify)}")


def _check_batch(name: str, value: Any) -> None:
    """``x`` or ``y`` of a step: numbers the eager step can take, checked before it runs."""
    if isinstance(value, Tensor):
        dtype = value.dtype
    elif isinstance(value, np.ndarray):
        dtype = value.dtype
    elif value is None or isinstance(value, (str, bytes, dict, set)):
        raise TypeError(
            f"tg.compile: the step's {name} must be a NumPy array, a Tensor or a list of "
            f"numbers, got {_describe(value)}"
        )
    else:
        try:
            dtype = np.asarray(value).dtype
        except (TypeError, ValueError) as error:
            raise TypeError(f"tg.compile: the step's {name} is not an array of numbers "
                            f"({error})") from None
    if dtype.kind not in "biuf":
        raise TypeError(
            f"tg.compile: the step's {name} has dtype {dtype}; expected numbers (bool, int "
            "or float)"
        )


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
        _check_arguments(model, loss_fn, optimizer, cache_size, verify)
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.cache_size, self.verify = int(cache_size), bool(verify)
        self._plans: OrderedDict[tuple, Plan] = OrderedDict()
        self._plan: Plan | None = None
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
                if mode.grad_enabled and not mode.anomaly:  # this thread's modes
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
        _check_batch("x", x)
        _check_batch("y", y)
        if not mode.grad_enabled:
            return self._eager(x, y, "grad mode is off (no_grad): nothing to replay")
        if mode.anomaly:
            return self._eager(x, y, "detect_anomaly is on: the eager step checks every value")
        try:
            analysis = analyse(self.model, self.loss_fn, self.optimizer)
        except Unsupported as error:
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

    def _eager_step(self, x: Any, y: Any, analysis: Analysis | None) -> tuple[Tensor, str | None]:
        """The eager step itself; with ``analysis``, also what its graph does not match.

        The forward pass and the loss come before ``zero_grad`` (which they do not read), so
        that a batch the model or the loss refuses leaves the gradients as they were too."""
        loss = self.loss_fn(self.model(x), y)
        problem = None if analysis is None else graph_problem(loss, analysis)
        if isinstance(loss, Tensor) and not loss._requires_grad:
            loss.backward()  # raises as the eager step would, before anything changed
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return Tensor._make(loss._data, False, None), problem

    def _record(
        self, x: Any, y: Any, xa: np.ndarray, ya: np.ndarray, x_tensor: bool, key: tuple,
        analysis: Analysis, fingerprint: tuple,
    ) -> Tensor:
        """Run the eager step, write its replay, and check the replay against it."""
        params = analysis.params()
        before = Snapshot(params, self.optimizer) if self.verify else None
        self.last, self.reason = "eager", "the eager step of a recording raised"
        loss, problem = self._eager_step(x, y, analysis)
        try:
            builder = Builder(analysis, xa, x_tensor, ya, self.optimizer)  # checks x and y
            if problem is not None:
                raise Unsupported(problem)
            replay, source = builder.build()
        except Unsupported as error:
            return self._refuse(key, str(error), fingerprint, loss)
        plan = Plan(replay, source, None, fingerprint)
        if before is not None:
            where = self._verify(replay, xa, ya, loss, before, params, analysis)
            if where is not None:
                return self._refuse(
                    key, f"the replay differed from the eager step in {where}", fingerprint, loss
                )
        self._store(key, plan)
        self.counts["record"] += 1
        self.last, self.reason, self._plan = "record", None, plan
        return loss

    def _verify(self, replay: Callable[..., Any], xa: np.ndarray, ya: np.ndarray, loss: Tensor,
                before: Snapshot, params: list[Tensor], analysis: Analysis) -> str | None:
        """Run the replay from where the eager step started: None when it ends exactly
        where the eager step did, else where it differs (and the eager result is put back)."""
        eager = Snapshot(params, self.optimizer)
        before.restore()
        with np.errstate(all="ignore"):  # the eager step has warned already
            out = replay(xa, ya)
        if out is None or out is False:
            where = "its guards"
        elif not same(out, loss._data):
            where = "the loss"
        else:
            where = eager.difference(Snapshot(params, self.optimizer), analysis.names)
        if where is not None:
            eager.restore()
        return where

    def _refuse(self, key: tuple, reason: str, fingerprint: tuple, loss: Tensor) -> Tensor:
        """Remember that this signature runs eager (until the model changes)."""
        reason = f"{reason}; inputs of this shape and dtype run eager"
        self._store(key, Plan(None, None, reason, fingerprint))
        self.counts["eager"] += 1
        self.last, self.reason = "eager", reason
        return loss

    def _store(self, key: tuple, plan: Plan) -> None:
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
            analyse(self.model, self.loss_fn, self.optimizer)
        except Unsupported as error:
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
    What cannot be replayed runs the eager step, and ``step.reason`` says why. Every
    argument is checked here, and ``x`` and ``y`` before a step changes anything: a bad one
    is a ``TypeError`` or ``ValueError`` naming ``tg.compile`` and the argument.

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
