"""Watching a run: what one training run saw, epoch by epoch, and the fix it ran with.

Every runner (the skeleton's, an ``nn`` model's, a convention's) fills a :class:`Run`:
the loss per epoch, a per-layer history (max |A|, max |W|, the gradient norm, the update
ratio, constant units), and the first inf/NaN of each stage with what replaying its call
needs. A :class:`Fix` says what a cure changes (none, for the run as given).

>>> run = Run(epochs=3, layers=1)
>>> run.note(0, "forward", [("A", np.array([np.inf]))], [np.zeros(1)])
>>> str(run.events[0])
'epoch 0, forward: A became inf'
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.numerics import non_finite
from .findings import NonFinite


@dataclass
class Fix:
    """One candidate change to a run: ``key`` and ``label`` name it, ``change`` says it in
    words; ``fix_update`` swaps in the textbook update, ``average`` divides the gradient,
    ``standardize`` the data, ``lr`` replaces the learning rate, ``clip`` bounds the
    gradient norm."""

    key: str
    label: str
    change: str
    fix_update: bool = False
    average: float | None = None
    standardize: bool = False
    lr: float | None = None
    clip: float | None = None


NO_FIX = Fix("none", "as given", "nothing")


def non_finite_items(name: str, value: Any) -> list[tuple[str, str]]:
    """The entries of ``value`` (an array, a number, or a list of them) that hold inf or NaN:
    their names (``name`` or ``name[i]``) and what each holds (``"NaN"``, ``"inf"``, ...).

    >>> non_finite_items("W", [np.zeros(2), np.array([np.nan])])
    [('W[1]', 'NaN')]
    """
    many = isinstance(value, (list, tuple))
    found = []
    for i, item in enumerate(value if many else [value]):
        try:
            what = non_finite(item)
        except (TypeError, ValueError):  # not numbers at all: nothing to say
            continue
        if what is not None:
            found.append((f"{name}[{i}]" if many else name, what))
    return found


class Run:
    """What one watched training run saw: the loss per epoch, the per-layer history, and
    the first inf/NaN of each stage, with what is needed to replay the call that made the
    first one (and the first NaN) in ``replays``."""

    KEYS = ("max_abs_A", "max_abs_Z", "max_abs_W", "grad_norm", "update_ratio", "constant",
            "units")
    # What a run sees only where it sees each layer's activations.
    ACTIVATION_KEYS = ("max_abs_A", "max_abs_Z", "constant", "units")

    def __init__(self, epochs: int, layers: int, activations: bool = True) -> None:
        self.losses: list[float] = []
        keys = [k for k in self.KEYS if activations or k not in self.ACTIVATION_KEYS]
        self.history = {k: np.full((epochs, layers), np.nan) for k in keys}
        self.events: list[NonFinite] = []
        self.replays: dict[int, tuple] = {}
        self.stopped: str | None = None

    def note(self, epoch: int, stage: str, items: list[tuple[str, Any]],
             weights: Sequence[Any], inputs: tuple | None = None) -> None:
        """Record the first non-finite value among ``items`` unless ``stage`` already had one
        of its kind; ``weights`` and ``inputs`` are what replaying that call needs."""
        for name, value in items:
            for array, what in non_finite_items(name, value):
                kind = "nan" if "NaN" in what else "inf"
                first_nan = kind == "nan" and not any(e.kind == "nan" for e in self.events)
                if not first_nan and any(e.stage == stage and e.kind == kind
                                         for e in self.events):
                    continue
                if not self.events or first_nan:
                    self.replays[len(self.events)] = (stage, copy.deepcopy(weights),
                                                      copy.deepcopy(inputs))
                self.events.append(NonFinite(epoch, stage, array, kind, what=what))
                return

    def raised(self, epoch: int, stage: str, text: str) -> None:
        """A stage raised ``text``: the run stops there."""
        self.events.append(NonFinite(epoch, stage, text, "exception"))
        self.stopped = f"Stopped at epoch {epoch}: {stage} raised."

    def record(self, epoch: int, i: int, A: Any, Z: Any, W_before: np.ndarray,
               W_after: np.ndarray, lr: float, hidden: bool) -> None:
        """One layer's row of the history; the step is left out when ``W`` changed shape."""
        h = self.history
        if "max_abs_A" in h:
            h["max_abs_A"][epoch, i] = max_abs(A)
            h["max_abs_Z"][epoch, i] = max_abs(Z)
        h["max_abs_W"][epoch, i] = max_abs(W_before)
        if W_after.shape == W_before.shape:
            step = float(np.linalg.norm(W_before - W_after))
            h["grad_norm"][epoch, i] = step / lr
            w_norm = float(np.linalg.norm(W_before))
            h["update_ratio"][epoch, i] = step / w_norm if w_norm > 0 else np.nan
        if hidden and "constant" in h:
            h["constant"][epoch, i], h["units"][epoch, i] = constant_units(Z)

    def finish(self) -> Run:
        """Cut the history to the epochs that ran."""
        self.history = {k: v[: len(self.losses)] for k, v in self.history.items()}
        return self


def max_abs(a: Any) -> float:
    """The largest magnitude in ``a`` (0 for an empty array; inf and NaN as they come).

    >>> max_abs([[-3.0, 2.0]])
    3.0
    """
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(a)))


def constant_units(Z: Any) -> tuple[int, int]:
    """How many of the columns (units) of ``Z`` are the same on every row, out of how many.

    >>> constant_units(np.array([[0.0, 1.0], [0.0, 2.0]]))
    (1, 2)
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] < 2:
        return 0, Z.shape[-1] if Z.ndim else 1
    with np.errstate(all="ignore"):
        same = np.all(Z == Z[:1], axis=0)
    return int(np.sum(same)), Z.shape[1]
