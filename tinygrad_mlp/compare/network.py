"""``UserNetwork``: your network as you wrote it, behind one interface for every convention.

Each convention (the course skeleton, Nielsen's ``network.py`` and ``network2.py``, Ng's
2-layer and L-layer forms, free-form) is a subclass that knows its own names and
signatures. All of them offer the same things to the checker, the diagnosis and the
command line:

- ``convention`` and ``expected`` (the signatures it looks for, as text);
- ``parameters()``: copies of your parameters, keyed by your own names (``"W1"``,
  ``"weights[0]"``); ``with_parameters(values)``: a twin holding other values;
- ``loss(params, X, Y)``: *your* forward pass and cost on ``params`` (arrays or Tensors)
  as a 0-d Tensor whose graph reaches the Tensors among them (run on Tensors through the
  NumPy protocol); :class:`NotDifferentiable` says why when your code cannot run on Tensors;
  ``loss_value(params, X, Y)``: the same on arrays, a float;
- ``gradients(X, Y)``: what *your* backprop computes, keyed as your code names it
  (``"dW1"``, ``"nabla_w[0]"``); ``train_step(X, Y, learning_rate=None)``: one step of *your*
  update, on this object's own copy; ``learning_rate`` (yours, where the convention has one);
- ``example_batch(n, seed)``: a seeded random batch of the right shapes, in the convention's
  layout; ``functions()``: your functions and methods (what the line tracer follows).

Your objects are never changed: every call works on deep copies, and after every call the
parameters, data and objects you passed are compared with a snapshot taken before; anything
changed is put back and said (``changes``).

>>> Snapshot({"W1": np.ones(2)}).changed() == []
True
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from ..engine.tensor import Tensor


class ConventionError(TypeError):
    """Your network does not fit a convention: the message shows what was looked for (each
    convention's expected signatures) and what was found.

    >>> issubclass(ConventionError, TypeError)
    True
    """


class NotDifferentiable(Exception):
    """Your forward pass or cost cannot run on Tensors (``reason`` says why: "cost()
    returned a Python float", a NumPy function without a gradient rule, ...), so the checker
    falls back to finite differences.

    >>> NotDifferentiable("cost() returned a Python float").reason
    'cost() returned a Python float'
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def required_arity(function: Callable[..., Any]) -> int | None:
    """How many positional arguments ``function`` needs (those without defaults, ``self``
    not counted), or None when it cannot be told.

    >>> required_arity(lambda parameters, cache, X, Y, lambd=0.7: None)
    4
    """
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in signature.parameters.values()
               if p.kind in kinds and p.default is inspect.Parameter.empty)


def describe_signature(function: Any) -> str:
    """``name(arguments)`` as it was defined, for messages.

    >>> describe_signature(lambda X, parameters: None)
    '<lambda>(X, parameters)'
    """
    name = getattr(function, "__name__", type(function).__name__)
    try:
        return f"{name}{inspect.signature(function)}"
    except (TypeError, ValueError):
        return f"{name}(...)"


def deep_copy(obj: Any) -> Any:
    """A deep copy, or a shallow one of an object holding something that cannot be copied
    (a file, a lock).

    >>> a = [np.ones(1)]; deep_copy(a)[0] is a[0]
    False
    """
    try:
        return copy.deepcopy(obj)
    except Exception:
        return copy.copy(obj)


def float_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 array of its own (a copy); TypeError naming ``what`` if it is
    not numbers.

    >>> float_array([1, 2], "X").dtype
    dtype('float64')
    """
    if isinstance(value, Tensor):
        value = value.numpy()
    try:
        return np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be numbers (an array), got {type(value).__name__}: "
                        f"{exc}") from None


class Snapshot:
    """Copies of the arrays inside some objects (and their attributes), to see afterwards
    whether anything was changed, and to put it back.

    >>> W = np.ones(2); s = Snapshot([W]); W[0] = 5.0
    >>> s.changed(), s.restore(), float(W[0])
    (['[0]'], None, 1.0)
    """

    def __init__(self, *roots: Any) -> None:
        self.entries: list[tuple[str, Any, Any]] = []
        for root in roots:
            self._take("", root, 3)

    def _take(self, path: str, value: Any, depth: int) -> None:
        if isinstance(value, np.ndarray):
            self.entries.append((path, value, value.copy()))
        elif depth <= 0:
            return
        elif isinstance(value, (list, tuple)):
            if isinstance(value, list):
                self.entries.append((path, value, list(value)))
            for i, item in enumerate(value):
                self._take(f"{path}[{i}]", item, depth - 1)
        elif isinstance(value, dict):
            self.entries.append((path, value, dict(value)))
            for key, item in value.items():
                self._take(f"{path}[{key!r}]", item, depth - 1)
        elif hasattr(value, "__dict__") and not isinstance(value, type) and not callable(value):
            self.entries.append((path, value, dict(vars(value))))
            for key, item in vars(value).items():
                self._take(f"{path}.{key}", item, depth - 1)

    def changed(self) -> list[str]:
        """The paths of what differs from the snapshot."""
        out = []
        for path, obj, saved in self.entries:
            if isinstance(obj, np.ndarray):
                same = saved.shape == obj.shape and np.array_equal(saved, obj, equal_nan=True)
            elif isinstance(obj, (list, dict)):
                same = _same_items(obj, saved)
            else:
                same = _same_items(vars(obj), saved)
            if not same:
                out.append(path or "the object")
        return out

    def restore(self) -> None:
        """Put every array, list, dict and attribute back as it was."""
        for _path, obj, saved in reversed(self.entries):
            if isinstance(obj, np.ndarray):
                if obj.flags.writeable and obj.shape == saved.shape:
                    obj[...] = saved
            elif isinstance(obj, list):
                obj[:] = saved
            elif isinstance(obj, dict):
                obj.clear()
                obj.update(saved)
            else:
                vars(obj).clear()
                vars(obj).update(saved)


def _same_items(now: Any, saved: Any) -> bool:
    if isinstance(now, list):
        return len(now) == len(saved) and all(a is b for a, b in zip(now, saved))
    return now.keys() == saved.keys() and all(now[k] is saved[k] for k in now)


class UserNetwork:
    """Base of the conventions (see the module docstring for what each offers).

    >>> UserNetwork().changes
    []
    """

    convention: ClassVar[str] = ""
    expected: ClassVar[str] = ""
    # The name of the thing the user hands over, for messages ("net", "parameters").
    subject: ClassVar[str] = "net"

    def __init__(self) -> None:
        self.changes: list[str] = []
        self._guarded: tuple[Any, ...] = ()

    # Your parameters by your names: a float64 copy of each, made once.
    _params: dict[str, np.ndarray]

    def parameters(self) -> dict[str, np.ndarray]:
        """Copies of your parameters, keyed by your own names."""
        return {k: v.copy() for k, v in self._params.items()}

    def with_parameters(self, values: dict[str, Any]) -> UserNetwork:
        """A twin of this network holding ``values`` (a dict like ``parameters()``)."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin._params = {k: float_array(values[k], k) for k in self._params}
        twin.changes = []
        return twin

    # -- what every convention defines ---------------------------------------------------------

    def loss(self, params: dict[str, Any], X: Any, Y: Any) -> Tensor:
        raise NotImplementedError

    def loss_value(self, params: dict[str, Any], X: Any, Y: Any) -> float:
        raise NotImplementedError

    def gradients(self, X: Any, Y: Any) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def train_step(self, X: Any, Y: Any, learning_rate: float | None = None) -> None:
        raise NotImplementedError

    def example_batch(self, n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def functions(self) -> list[Callable[..., Any]]:
        raise NotImplementedError

    learning_rate: float | None = None

    # -- shared --------------------------------------------------------------------------------

    def modules(self) -> set[str]:
        """The modules your functions live in: what the line tracer follows."""
        found = set()
        for f in self.functions():
            while hasattr(f, "func") and not hasattr(f, "__module__"):  # functools.partial
                f = f.func
            f = getattr(f, "__func__", f)
            module = getattr(f, "__module__", None)
            if module and not module.startswith("tinygrad_mlp.") and module != "builtins":
                found.add(module)
        return found

    @contextmanager
    def guard(self, *data: Any) -> Iterator[None]:
        """Run a call of your code: afterwards your objects and ``data`` are as they were
        (anything changed is put back, and named in ``changes``)."""
        snapshot = Snapshot(*self._guarded, *data)
        try:
            yield
        finally:
            changed = snapshot.changed()
            if changed:
                snapshot.restore()
                for path in changed:
                    if path not in self.changes:
                        self.changes.append(path)

    def params_as_tensors(self, params: dict[str, Any] | None = None) -> dict[str, Tensor]:
        """Float64 leaf Tensors that require grad, one per parameter."""
        params = self.parameters() if params is None else params
        return {k: v if isinstance(v, Tensor) else Tensor(float_array(v, k), requires_grad=True)
                for k, v in params.items()}


def tensor_result(value: Any, what: str) -> Tensor:
    """``value`` as the 0-d Tensor a loss must be, or :class:`NotDifferentiable` saying what
    it was instead (a Python float, a plain array: the graph was dropped on the way).

    >>> import tinygrad_mlp as tg
    >>> tensor_result(tg.tensor([[2.0]]), "cost()").shape
    ()
    """
    if isinstance(value, Tensor):
        if value.numel() == 1:
            return value.reshape(())
        raise NotDifferentiable(f"{what} returned a Tensor of shape {value.shape}, not one number")
    kind = "a Python float" if isinstance(value, float) else f"a {type(value).__name__}"
    raise NotDifferentiable(f"{what} returned {kind}, not a Tensor (its graph was dropped, "
                            "e.g. by float(...) or np.array(...))")
