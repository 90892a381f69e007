"""The settings an optimizer may hold, in one table, and ``ParamGroup``: a parameter group
whose settings are checked whenever they are set (by the constructor, ``add_param_group``,
``load_state_dict`` or ``group[name] = value``), naming the optimizer and the setting.

>>> check_setting("SGD", "lr", 0.1)
>>> check_setting("SGD", "lr", -1)
Traceback (most recent call last):
  ...
ValueError: SGD: Invalid learning rate: -1 (lr must be a finite number >= 0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

# name: (PyTorch's words for it, what is expected, the test a float value must pass)
NUMBERS: dict[str, tuple[str, str, Callable[[float], bool]]] = {
    "lr": ("learning rate", "a finite number >= 0", lambda v: 0.0 <= v < math.inf),
    "momentum": ("momentum value", "a finite number >= 0", lambda v: 0.0 <= v < math.inf),
    "dampening": ("dampening value", "a number in [0, 1]", lambda v: 0.0 <= v <= 1.0),
    "weight_decay": ("weight_decay value", "a finite number >= 0",
                     lambda v: 0.0 <= v < math.inf),
    "eps": ("epsilon value", "a finite number >= 0", lambda v: 0.0 <= v < math.inf),
}


def is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_setting(where: str, name: str, value: Any) -> None:
    """Raise, naming ``where`` and ``name``, unless ``value`` is allowed for ``name``."""
    if name in NUMBERS:
        words, expected, test = NUMBERS[name]
        if not is_real(value):
            raise TypeError(f"{where}: {name} must be {expected}, got {value!r} "
                            f"({type(value).__name__})")
        if not test(float(value)):
            raise ValueError(f"{where}: Invalid {words}: {value} ({name} must be {expected})")
    elif name == "betas":
        if not (isinstance(value, (tuple, list)) and len(value) == 2
                and all(is_real(b) for b in value)):
            raise TypeError(f"{where}: betas must be a pair of numbers in [0, 1), such as "
                            f"(0.9, 0.999), got {value!r}")
        for i, beta in enumerate(value):
            if not 0.0 <= float(beta) < 1.0:
                raise ValueError(f"{where}: Invalid beta parameter at index {i}: {beta} "
                                 "(each beta must be in [0, 1))")
    elif name == "nesterov":
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{where}: nesterov must be True or False, got {value!r}")


def check_group(where: str, group: dict[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if name in group:
            check_setting(where, name, group[name])
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
        check_group(where, {**self, **changes}, changes)

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


