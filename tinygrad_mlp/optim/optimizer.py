"""``Optimizer``, the base class: parameter groups, ``zero_grad``, the all-or-nothing
``step``, the state dict; and ``NonFiniteGradient``, what a refused step raises.
"""

from __future__ import annotations

import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..engine.autograd import enable_grad
from ..engine.numerics import non_finite
from ..engine.tensor import Tensor
from .commit import Writes, commit_writes
from .settings import ParamGroup, check_group


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


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``step`` and the state dict.

    Subclasses define ``_update(group)``, which computes one step for one group without
    changing anything and adds what to write to ``self._writes`` (a ``Writes``), and list
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
        check_group(name, defaults, self._settings)
        self.defaults = defaults
        self._pending = Writes()  # what a step will write, reused from step to step
        self._writes: Writes | None = None  # the same, during step() only
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
        check_group(where, settings, self._settings)
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
        writes = self._writes = self._pending
        try:
            for group in self.param_groups:
                self._update(group)
            commit_writes(writes, self.state)
        finally:
            writes.clear()  # the steps are held only until they are written
            self._writes = None
        return loss

    def _update(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _new_scratch(self, group: dict[str, Any]) -> Any:
        """A flat zero buffer for ``group`` (kept until its parameters' arrays change) and a
        view of it per parameter, laid out as the parameter is: ``(group, arrays, flat,
        views)``; None when the parameters do not share one float dtype, or one of them is
        read-only."""
        datas = tuple(p._data for p in group["params"])
        dtypes = {d.dtype for d in datas}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            return None
        if any(not d.flags.writeable for d in datas):
            return None  # the general path names the read-only parameter
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
        return {**self.__dict__, "_scratch": {}, "_writes": None, "_pending": Writes()}

    def _gradients(self, params: list[Tensor]) -> Iterator[tuple[Tensor, np.ndarray, np.ndarray]]:
        """Each parameter that has a gradient, with its array and its gradient's, once both
        are checked (``_grad_of`` says what is wrong)."""
        for p in params:
            grad = p._grad
            if grad is None:
                continue
            data = p._data
            if type(grad) is not Tensor or grad._data.shape != data.shape \
                    or not data.flags.writeable:
                self._grad_of(p)  # raises unless it is a Tensor subclass, fine after all
            yield p, data, grad._data

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
            check_group(f"{where}: parameter group {i}", merged, self._settings)
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


