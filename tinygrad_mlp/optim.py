"""Optimizers with PyTorch's names, arguments and update rules: ``SGD``, ``Adam``, ``AdamW``.

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` and the hyperparameters,
which may be changed between steps, e.g. ``group["lr"] *= 0.1``) and ``state`` (per parameter:
its buffers as NumPy arrays). ``step()`` updates every parameter that has a ``.grad`` in place;
gradients are only read, never written. Parameters that do not require grad are accepted (the
usual way to freeze part of a model) and, having no ``.grad``, are left alone. State buffers
follow their parameter's current dtype (after ``model.double()``, say).

What is guaranteed, beyond PyTorch:

- Every setting is checked when it is set: in the constructor, in ``add_param_group``, in
  ``load_state_dict`` and by ``group[name] = value``; a bad one (``lr=inf``, ``betas=(0.9,)``,
  ``eps=-1``, a string) raises at once, naming the optimizer and the setting.
- A step is all or nothing. Every new value (parameters and state) is computed first and
  checked; only then is everything written, with Ctrl-C held back until the writing is done
  (in the main thread; see :class:`NonFiniteGradient` for what a failed check raises). A step
  that fails, in any group, changes nothing; an interrupted step is either not taken or whole.
- A gradient holding NaN or inf, or an update that would overflow, is refused with
  :class:`NonFiniteGradient` naming the parameter: no NaN reaches the weights or the moments.
"""

from __future__ import annotations

import _signal  # signal.getsignal without its conversion to an enum: 50 ns, not 4 µs
import math
import numbers
import signal
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .engine.autograd import enable_grad
from .engine.numerics import non_finite
from .engine.tensor import Tensor

__all__ = ["SGD", "Adam", "AdamW", "NonFiniteGradient", "Optimizer", "ParamGroup"]


class NonFiniteGradient(FloatingPointError):
    """``step()`` found NaN or inf in a gradient, or in the update it would make.

    Nothing was changed: every parameter and every state buffer is as it was before the
    call. ``index`` is the parameter's position among the optimizer's parameters (all groups
    in order) and ``parameter`` the Tensor itself.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import optim
    >>> w = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> w.grad = tg.tensor([np.nan, 1.0])
    >>> try:
    ...     optim.Adam([w], lr=0.1).step()
    ... except optim.NonFiniteGradient as error:
    ...     print(error.index, w.tolist())
    0 [1.0, 2.0]
    """

    def __init__(self, message: str, index: int, parameter: Tensor) -> None:
        super().__init__(message)
        self.index, self.parameter = index, parameter


# -- settings: one table of what each hyperparameter may be --------------------------------------

# name: (PyTorch's words for it, what is expected, the test a float value must pass)
_NUMBERS: dict[str, tuple[str, str, Callable[[float], bool]]] = {
    "lr": ("learning rate", "a finite number >= 0", lambda v: 0.0 <= v < math.inf),
    "momentum": ("momentum value", "a finite number >= 0", lambda v: 0.0 <= v < math.inf),
    "dampening": ("dampening value", "a number in [0, 1]", lambda v: 0.0 <= v <= 1.0),
    "weight_decay": ("weight_decay value", "a finite number >= 0",
                     lambda v: 0.0 <= v < math.inf),
    "eps": ("epsilon value", "a finite number >= 0", lambda v: 0.0 <= v < math.inf),
}


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_setting(where: str, name: str, value: Any) -> None:
    """Raise, naming ``where`` and ``name``, unless ``value`` is allowed for ``name``."""
    if name in _NUMBERS:
        words, expected, test = _NUMBERS[name]
        if not _is_real(value):
            raise TypeError(f"{where}: {name} must be {expected}, got {value!r} "
                            f"({type(value).__name__})")
        if not test(float(value)):
            raise ValueError(f"{where}: Invalid {words}: {value} ({name} must be {expected})")
    elif name == "betas":
        if not (isinstance(value, (tuple, list)) and len(value) == 2
                and all(_is_real(b) for b in value)):
            raise TypeError(f"{where}: betas must be a pair of numbers in [0, 1), such as "
                            f"(0.9, 0.999), got {value!r}")
        for i, beta in enumerate(value):
            if not 0.0 <= float(beta) < 1.0:
                raise ValueError(f"{where}: Invalid beta parameter at index {i}: {beta} "
                                 "(each beta must be in [0, 1))")
    elif name == "nesterov":
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{where}: nesterov must be True or False, got {value!r}")


def _check_group(where: str, group: dict[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if name in group:
            _check_setting(where, name, group[name])
    if group.get("nesterov") and not (group["momentum"] > 0 and group["dampening"] == 0):
        raise ValueError(f"{where}: Nesterov momentum requires a momentum and zero dampening "
                         f"(got momentum={group['momentum']}, dampening={group['dampening']})")


class ParamGroup(dict):
    """A parameter group: a dict whose settings are checked when they are set.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import optim
    >>> opt = optim.SGD([tg.zeros(1, requires_grad=True)], lr=0.1)
    >>> opt.param_groups[0]["lr"] = 0.01
    >>> try:
    ...     opt.param_groups[0]["lr"] = float("inf")
    ... except ValueError as error:
    ...     print(error)
    SGD.param_groups[0]['lr']: Invalid learning rate: inf (lr must be a finite number >= 0)
    >>> opt.param_groups[0]["lr"]
    0.01
    """

    __slots__ = ("_owner",)

    def _check(self, changes: dict[str, Any]) -> None:
        owner = getattr(self, "_owner", None)
        if owner is None or not changes.keys() & owner._settings:  # unpickling, or extras
            return
        groups = getattr(owner, "param_groups", ())  # () while being copied
        index = next((i for i, g in enumerate(groups) if g is self), "?")
        where = f"{type(owner).__name__}.param_groups[{index}]"
        if len(changes) == 1:
            where += f"[{next(iter(changes))!r}]"
        _check_group(where, {**self, **changes}, changes)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check({key: value})
        dict.__setitem__(self, key, value)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """``dict.update``, with the settings checked first (all of them, or none is set)."""
        changes = dict(*args, **kwargs)
        changes.pop("params", None)
        self._check(changes)
        dict.update(self, changes)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """``dict.setdefault``, with a new setting checked first."""
        if key not in self:
            self[key] = default
        return self[key]


# -- Ctrl-C held back while a step writes its results -------------------------------------------

_SIGINT = int(signal.SIGINT)
_installed_handler = _signal.getsignal


class _InterruptDeferral:
    """A SIGINT handler, installed from the main thread (the only place Python allows it),
    that chains to the handler it replaced, except while ``committing`` is set: then the
    interrupt is remembered and raised by ``release`` once the step is whole. Threads other
    than the main one need nothing, since Python delivers signals to the main thread only.

    Per step it costs a flag and one look at the installed handler (``tried``): when
    something else has replaced it since (a notebook kernel, a test runner), it is installed
    again, chaining to the newcomer.
    """

    def __init__(self) -> None:
        self.main = threading.main_thread().ident
        self.committing = False
        self.handler = self.handle  # the one bound method installed, for ``is`` to find it
        self.unavailable = False  # signal.signal refused (an embedded interpreter, say)
        self.previous: Any = None
        self.caught: tuple[int, Any] | None = None

    @property
    def ready(self) -> bool:
        """Whether this handler is the one installed."""
        return _installed_handler(_SIGINT) is self.handler

    @property
    def tried(self) -> bool:
        """Whether there is nothing to install: this handler is in place, or cannot be, or
        SIGINT is ignored or left to the system (SIG_IGN, SIG_DFL: nothing to defer)."""
        current = _installed_handler(_SIGINT)
        return current is self.handler or self.unavailable or not callable(current)

    def install(self) -> None:
        try:
            previous = signal.getsignal(signal.SIGINT)
            if previous is self.handler or not callable(previous):
                return
            signal.signal(signal.SIGINT, self.handler)
        except (ValueError, OSError):  # not the main thread, or an embedded interpreter
            self.unavailable = threading.get_ident() == self.main
            return
        self.previous = previous

    def handle(self, signum: int, frame: Any) -> None:
        if self.committing:
            self.caught = (signum, frame)
            return
        self.previous(signum, frame)

    def release(self) -> None:
        signum, frame = self.caught  # type: ignore[misc]
        self.caught = None
        self.previous(signum, frame)


_DEFERRAL = _InterruptDeferral()
# The same deferral under a public name, for code that writes a step of its own: the
# compiled step (tinygrad_mlp.replay) sets ``committing`` around its writes as _commit does.
INTERRUPTS = _DEFERRAL

class _Writes:
    """What a step will write, gathered while nothing is written yet: new state entries,
    factors to scale parameters by (AdamW's decay) and amounts to subtract from them."""

    __slots__ = ("entries", "scales", "subtracts")

    def __init__(self) -> None:
        self.entries: list[tuple[Tensor, dict[str, Any]]] = []
        self.scales: list[tuple[np.ndarray, float]] = []
        self.subtracts: list[tuple[np.ndarray, np.ndarray]] = []


def _apply(writes: _Writes, state: defaultdict[Tensor, dict[str, Any]]) -> None:
    # Nothing here can fail: in-place arithmetic into writable arrays of known shapes, and
    # dict assignments. (Each parameter is scaled before its step is subtracted.)
    for p, entries in writes.entries:
        state[p].update(entries)
    for data, scale in writes.scales:
        data *= scale
    for data, delta in writes.subtracts:
        data -= delta


def _commit(writes: _Writes, state: defaultdict[Tensor, dict[str, Any]]) -> None:
    deferral = _DEFERRAL
    if threading.get_ident() != deferral.main:
        _apply(writes, state)
        return
    if _installed_handler(_SIGINT) is not deferral.handler and not deferral.tried:
        deferral.install()  # not yet, or something else was installed over it since
    deferral.committing = True
    try:
        _apply(writes, state)
    finally:
        deferral.committing = False
    if deferral.caught is not None:
        deferral.release()


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``step`` and the state dict.

    Subclasses define ``_update(group)``, which computes one step for one group without
    changing anything and adds what to write to ``self._writes`` (a ``_Writes``), and list
    their settings in ``_settings``.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import optim
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> opt = optim.SGD([w], lr=0.1)
    >>> len(opt.param_groups), opt.param_groups[0]["lr"]
    (1, 0.1)
    """

    _settings: frozenset[str] = frozenset({"lr"})

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        _check_group(name, defaults, self._settings)
        self.defaults = defaults
        self._writes: _Writes | None = None  # during step(): what it will write
        # Per group (by id), a flat buffer its plain steps are computed into (_new_scratch).
        self._scratch: dict[int, tuple[Any, tuple[np.ndarray, ...], np.ndarray,
                                       tuple[np.ndarray, ...]]] = {}
        # Keyed by the parameter itself, as in PyTorch. Safe although Tensor.__eq__ is
        # elementwise: the hash is the identity, and a dict compares keys by ``is`` first.
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[ParamGroup] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got a "
                "Tensor; wrap it in a list: [w]"
            )
        if isinstance(params, (str, bytes, dict)) or not isinstance(params, Iterable):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors (e.g. model.parameters()) or "
                f"of dicts (parameter groups), got {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self._add_group(group, name)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (the rest from defaults).

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import optim
        >>> opt = optim.SGD([tg.zeros(1, requires_grad=True)], lr=0.1)
        >>> opt.add_param_group({"params": [tg.zeros(1, requires_grad=True)], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        self._add_group(param_group, f"{type(self).__name__}.add_param_group")

    def _add_group(self, param_group: Any, where: str) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"{where}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{where}: a parameter group needs the key 'params' (a list of "
                             f"Tensors), got the keys {sorted(map(str, param_group))}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (str, bytes, dict)) or not isinstance(params, Iterable):
            raise TypeError(f"{where}: 'params' must be a list of Tensors, got "
                            f"{type(params).__name__}")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{where}: can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{where}: can't optimize a non-leaf Tensor (one computed "
                                 "from others)")
        known = {id(p) for group in self.param_groups for p in group["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in known for p in params):
            raise ValueError(f"{where}: some parameters appear more than once (in one or more "
                             "groups)")
        settings = {**self.defaults, **param_group}
        if "betas" in settings and isinstance(settings["betas"], list):
            settings["betas"] = tuple(settings["betas"])
        _check_group(where, settings, self._settings)
        group = ParamGroup(settings, params=params)
        group._owner = self
        self.param_groups.append(group)

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
            if set_to_none:
                for p in group["params"]:
                    p._grad = None
                continue
            for p in group["params"]:
                if p._grad is not None:
                    p._grad = Tensor._make(np.zeros_like(p._data), False, None)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()`` if given.

        All or nothing: every new value is computed and checked before any is written (see
        the module docstring).

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
        writes = self._writes = _Writes()
        try:
            for group in self.param_groups:
                self._update(group)
        finally:
            self._writes = None  # holds the steps only until they are written
        _commit(writes, self.state)
        return loss

    def _update(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _new_scratch(self, group: dict[str, Any]) -> Any:
        """A flat zero buffer for ``group`` (kept until its parameters' arrays change) and a
        view of it per parameter, laid out as the parameter is: ``(group, arrays, flat,
        views)``; None when the parameters do not share one float dtype."""
        datas = tuple(p._data for p in group["params"])
        dtypes = {d.dtype for d in datas}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            return None
        flat = np.zeros(sum(d.size for d in datas), dtype=next(iter(dtypes)))
        views, offset = [], 0
        for d in datas:
            order = "F" if d.flags.f_contiguous and not d.flags.c_contiguous else "C"
            views.append(flat[offset : offset + d.size].reshape(d.shape, order=order))
            offset += d.size
        made = (group, datas, flat, tuple(views))
        self._scratch[id(group)] = made
        return made

    def __getstate__(self) -> dict[str, Any]:
        # The buffers are remade when needed: not copied, not pickled.
        return {**self.__dict__, "_scratch": {}, "_writes": None}

    def _grad_of(self, p: Tensor) -> np.ndarray:
        """``p.grad``'s array after the slow checks: raise, naming the parameter, unless
        ``p.grad`` is a Tensor of ``p``'s shape and ``p`` can be written to."""
        g = p.grad
        which = self._which(p)
        if not isinstance(g, Tensor):
            raise TypeError(
                f"{type(self).__name__}.step: the .grad of {which} is a {type(g).__name__}, "
                "not a Tensor; nothing was updated (wrap an array: p.grad = tg.tensor(array))"
            )
        if g.shape != p.shape:
            raise ValueError(
                f"{type(self).__name__}.step: the .grad of {which} has shape {g.shape}, but "
                f"the parameter has shape {p.shape}; nothing was updated"
            )
        if not p._data.flags.writeable:
            raise ValueError(f"{type(self).__name__}.step: {which} is a read-only array; "
                             "nothing was updated")
        return g._data

    def _which(self, p: Tensor, shape: bool = False) -> str:
        which = f"parameter {self._index(p)}" + (f" ({p.name!r})" if p.name else "")
        return which + (f" (shape {p.shape})" if shape else "")

    def _index(self, p: Tensor) -> int:
        return next(i for i, q in enumerate(self._all_params()) if q is p)

    def _refuse_non_finite(self, p: Tensor, grad: np.ndarray, *results: np.ndarray) -> None:
        """Called when the quick check of ``results`` (the new values of ``p`` and its state)
        came out non-finite: raise :class:`NonFiniteGradient`, unless every entry is finite
        after all (the quick check, a dot product, overflowed)."""
        name = type(self).__name__
        bad = non_finite(grad)
        if bad is not None:
            raise NonFiniteGradient(
                f"{name}.step: the gradient of {self._which(p, True)} holds {bad}; nothing was "
                "updated (the parameters and the optimizer's state are as they were)",
                self._index(p), p)
        for values in results:
            bad = non_finite(values)
            if bad is not None:
                largest = float(np.max(np.abs(grad), initial=0.0))
                raise NonFiniteGradient(
                    f"{name}.step: the update of {self._which(p, True)} would be {bad} "
                    f"although its gradient is finite (largest |grad| {largest:.4g}): the step "
                    "overflows; nothing was updated (try a smaller lr, or clip the gradients)",
                    self._index(p), p)

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
        same parameters in the same order. Buffers are cast to each parameter's dtype. Every
        setting and buffer is checked before anything changes.

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import optim
        >>> w = tg.zeros(1, requires_grad=True)
        >>> opt = optim.Adam([w], lr=0.1)
        >>> opt.load_state_dict(optim.Adam([w], lr=0.5).state_dict())
        >>> opt.param_groups[0]["lr"]
        0.5
        """
        where = f"{type(self).__name__}.load_state_dict"
        saved_groups, saved_state = _state_dict_parts(where, state_dict)
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{where}: loaded state dict has {len(saved_groups)} parameter groups, but the "
                f"optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        settings = []
        for i, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), (list, tuple)):
                raise ValueError(f"{where}: parameter group {i} must be a dict with a list "
                                 f"'params', got {saved!r:.80}")
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{where}: loaded state dict has {len(saved['params'])} parameters in group "
                    f"{i}, but the optimizer's group has {len(mine['params'])}"
                )
            by_index.update(zip((_index_of(where, k) for k in saved["params"]), mine["params"]))
            merged = {**mine, **{k: v for k, v in saved.items() if k != "params"}}
            if isinstance(merged.get("betas"), list):
                merged["betas"] = tuple(merged["betas"])
            _check_group(f"{where}: parameter group {i}", merged, self._settings)
            settings.append({k: v for k, v in merged.items() if k != "params"})
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, saved_entries in saved_state.items():
            p = by_index.get(_index_of(where, key))
            if p is None:
                raise ValueError(f"{where}: loaded state dict has state for unknown parameter "
                                 f"{key}")
            state[p] = self._loaded_state(f"{where}: state of parameter {key}", p, saved_entries)
        for mine, values in zip(self.param_groups, settings):
            dict.update(mine, values)  # checked above, all groups at once
        self.state = state

    _state_keys: tuple[str, ...] = ()  # the buffers a parameter's state must hold (if any)

    def _loaded_state(self, where: str, p: Tensor, saved: Any) -> dict[str, Any]:
        if not isinstance(saved, dict):
            raise TypeError(f"{where} must be a dict, got {type(saved).__name__}")
        missing = [k for k in self._state_keys if k not in saved]
        if saved and missing:
            raise ValueError(f"{where} lacks {', '.join(map(repr, missing))}")
        entries: dict[str, Any] = {}
        for name, value in saved.items():
            if name == "step":
                if not isinstance(value, (numbers.Integral, np.ndarray)) or int(value) < 0:
                    raise ValueError(f"{where}: 'step' must be a count >= 0, got {value!r}")
                entries[name] = int(value)
                continue
            if value is None:  # a buffer not made yet
                entries[name] = None
                continue
            try:
                array = np.array(value, dtype=p.dtype)  # a copy: later steps write into it
            except (TypeError, ValueError) as error:
                raise TypeError(f"{where}: {name!r} is not an array of numbers "
                                f"({error})") from None
            if array.shape != p.shape:
                raise ValueError(f"{where}: {name!r} has shape {array.shape}, but the parameter "
                                 f"has shape {p.shape}")
            bad = non_finite(array)
            if bad is not None:
                raise ValueError(f"{where}: {name!r} holds {bad}")
            entries[name] = array
        return entries

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _state_dict_parts(where: str, state_dict: Any) -> tuple[list[Any], dict[Any, Any]]:
    if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
        got = (f"a dict with the keys {sorted(map(str, state_dict))}"
               if isinstance(state_dict, dict) else repr(state_dict)[:80])
        raise TypeError(f"{where}: expected a dict with 'state' and 'param_groups' (as "
                        f"state_dict() returns it), got {got}")
    groups, state = state_dict["param_groups"], state_dict["state"]
    if not isinstance(groups, (list, tuple)) or not isinstance(state, dict):
        raise TypeError(f"{where}: 'param_groups' must be a list and 'state' a dict, got "
                        f"{type(groups).__name__} and {type(state).__name__}")
    return list(groups), state


def _index_of(where: str, key: Any) -> int:
    if isinstance(key, (bool, np.bool_)) or not isinstance(key, (numbers.Integral, str)):
        raise ValueError(f"{where}: parameters are named by their index, got {key!r}")
    try:
        return int(key)
    except ValueError:
        raise ValueError(f"{where}: parameters are named by their index, got {key!r}") from None


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
        keep = 1.0 - float(group["dampening"])
        weight_decay, nesterov = float(group["weight_decay"]), group["nesterov"]
        if not momentum and not weight_decay and self._plain_step(group, lr):
            return
        state, isfinite = self.state, math.isfinite
        writes: _Writes = self._writes  # type: ignore[assignment]
        for p in group["params"]:
            grad = p._grad
            if grad is None:
                continue
            data = p._data
            if type(grad) is not Tensor or grad._data.shape != data.shape \
                    or not data.flags.writeable:
                self._grad_of(p)  # raises unless it is a Tensor subclass, fine after all
            d_p = grad._data
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
                self._refuse_non_finite(p, grad._data, delta)
            if entries is not None:
                writes.entries.append((p, entries))
            writes.subtracts.append((data, delta))

    def _plain_step(self, group: dict[str, Any], lr: float) -> bool:
        """The plain step, ``p -= lr * g``, for a whole group: computed into one flat buffer
        kept for the group (``Optimizer._new_scratch``), so that one dot product checks every
        parameter's update at once. False (nothing added) when the group needs the general
        path: parameters of several dtypes, a gradient of another dtype than its parameter,
        a parameter array replaced since the buffer was made, or a bad gradient to report."""
        params = group["params"]
        scratch = self._scratch.get(id(group))
        if scratch is None or scratch[0] is not group or len(scratch[1]) != len(params):
            scratch = self._new_scratch(group)
            if scratch is None:
                return False
        _, datas, flat, views = scratch
        subtracts = self._writes.subtracts  # type: ignore[union-attr]
        start, multiply = len(subtracts), np.multiply
        for p, known, view in zip(params, datas, views):
            grad = p._grad
            if grad is None:
                continue
            data, g = p._data, grad._data
            if known is not data or g.dtype is not data.dtype or type(grad) is not Tensor \
                    or g.shape != data.shape or not data.flags.writeable:
                del subtracts[start:]
                if known is not data:
                    self._scratch.pop(id(group), None)  # made again at the next step
                return False
            multiply(g, lr, view)  # the same bits as lr * g, into the buffer
            subtracts.append((data, view))
        if not math.isfinite(flat.dot(flat)):
            try:
                for p, view in zip(params, views):
                    if p._grad is not None:
                        self._refuse_non_finite(p, p._grad._data, view)
            except NonFiniteGradient:
                flat[...] = 0.0  # no NaN left behind in the views of the next step
                raise
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
        writes: _Writes = self._writes  # type: ignore[assignment]
        for p in group["params"]:
            grad = p._grad
            if grad is None:
                continue
            param = p._data
            if type(grad) is not Tensor or grad._data.shape != param.shape \
                    or not param.flags.writeable:
                self._grad_of(p)
            g = grad._data
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
                self._refuse_non_finite(p, grad._data, v, delta)
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
