"""Andrew Ng's deeplearning.ai convention: a ``parameters`` dict and your own functions.

Two forms, told apart by the backward function's arity:

- the 2-layer "planar data" form (``ng``): ``forward(X, parameters) -> (A2, cache)`` with
  ``cache`` a dict of ``Z1``, ``A1``, ...; ``backward(parameters, cache, X, Y) -> grads``;
- the L-layer "step by step" form (``ng-deep``): ``L_model_forward(X, parameters) -> (AL,
  caches)`` with ``caches[l] = ((A_prev, W, b), Z)``; ``L_model_backward(AL, Y, caches) ->
  grads`` with ``dA{l}``, ``dW{l}``, ``db{l}``.

Both take ``cost(AL, Y)`` and optionally ``update(parameters, grads, learning_rate)``; ``X``
is ``(n_features, m)`` and ``Y`` is ``(n_out, m)``. Besides ``dW``/``db``, every ``dZ{l}``
and ``dA{l}`` your code keeps (in ``grads`` or as a local variable of your backward
functions; in the L-layer form the ``dZ`` of each layer's helper) is checked against the
gradient of the cache entry it belongs to, per example or already divided by m.

>>> import numpy as np
>>> net = NgNetwork({"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))},
...                 lambda X, p: (p["W1"] @ X + p["b1"], {}), lambda p, c, X, Y: {},
...                 lambda AL, Y: 0.0)
>>> net.convention, sorted(net.parameters())
('ng', ['W1', 'b1'])
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from .dense import Dense, Layer
from .network import (
    ConventionError,
    NotDifferentiable,
    UserNetwork,
    describe_signature,
    float_array,
    required_arity,
    tensor_result,
)
from .reference import Piece, Reference, Surrogate, made_from, run_on_tensors
from .stages import Quantity, raised
from .tracing import Trace, trace

EXPECTED = """Andrew Ng's deeplearning.ai form:
  check_backprop(parameters, X, Y, forward=..., backward=..., cost=..., update=None)
  parameters  a dict {"W1": (n_1, n_0), "b1": (n_1, 1), ..., "WL": ..., "bL": ...}
  forward     forward(X, parameters) -> (AL, cache)
  backward    2-layer: backward(parameters, cache, X, Y) -> grads, cache a dict of "Z1", "A1", ...
              L-layer: backward(AL, Y, caches) -> grads, caches[l] = ((A_prev, W, b), Z)
              grads: a dict with "dW1", "db1", ... (and "dZ1", "dA1", ... if you keep them)
  cost        cost(AL, Y) -> a number (or cost(AL, Y, parameters))
  update      update(parameters, grads, learning_rate) -> parameters (optional)
  X is (n_features, m) and Y is (n_out, m)"""


def layer_count(parameters: Any) -> int:
    """How many layers a ``parameters`` dict holds (``W1``, ``b1``, ... ``WL``, ``bL``);
    ConventionError when it is not such a dict.

    >>> layer_count({"W1": 0, "b1": 0, "W2": 0, "b2": 0})
    2
    """
    if not isinstance(parameters, dict):
        raise ConventionError(f"parameters must be a dict of W1, b1, ..., got "
                              f"{type(parameters).__name__}\n\n{EXPECTED}")
    layers = sorted(int(k[1:]) for k in parameters if re.fullmatch(r"W\d+", str(k)))
    if not layers or layers != list(range(1, len(layers) + 1)) or any(
            f"b{i}" not in parameters for i in layers):
        raise ConventionError(f"parameters has the keys {sorted(map(str, parameters))}; "
                              f"expected W1, b1, W2, b2, ...\n\n{EXPECTED}")
    return len(layers)


def check_arity(function: Any, what: str, allowed: tuple[int, ...]) -> int:
    """The number of arguments ``function`` needs, if it is one of ``allowed``; otherwise a
    ConventionError showing the expected signatures and the one found.

    >>> check_arity(lambda AL, Y: 0.0, "cost", (2, 3))
    2
    """
    if not callable(function):
        raise ConventionError(f"{what} must be a function, got {type(function).__name__}"
                              f"\n\n{EXPECTED}")
    arity = required_arity(function)
    if arity is not None and arity not in allowed:
        raise ConventionError(f"{what} is {describe_signature(function)}: it takes {arity} "
                              f"arguments where {' or '.join(map(str, allowed))} belong\n\n"
                              f"{EXPECTED}")
    return arity or allowed[0]


class NgNetwork(UserNetwork):
    """The 2-layer form (see the module docstring); :class:`NgDeepNetwork` the L-layer one.

    >>> import numpy as np
    >>> net = NgNetwork({"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))},
    ...                 lambda X, p: (p["W1"] @ X + p["b1"], {}), lambda p, c, X, Y: {},
    ...                 lambda AL, Y: 0.0)
    >>> net.example_batch(3)[0].shape
    (2, 3)
    """

    convention = "ng"
    expected = EXPECTED
    subject = "parameters"

    def __init__(self, parameters: dict[str, Any], forward: Callable, backward: Callable,
                 cost: Callable, update: Callable | None = None,
                 learning_rate: float | None = None) -> None:
        super().__init__()
        self.L = layer_count(parameters)
        check_arity(forward, "forward", (2,))
        check_arity(backward, "backward", (3, 4))
        self.cost_arity = check_arity(cost, "cost", (2, 3))
        if update is not None:
            check_arity(update, "update", (2, 3))
        self.forward, self.backward, self.cost, self.update = forward, backward, cost, update
        self._params = {k: float_array(v, f"parameters[{k!r}]") for k, v in parameters.items()}
        self._guarded = (parameters,)
        self._update_origins: dict[str, Any] = {}
        self._last_caches: list[Any] | None = None
        self.learning_rate = learning_rate if learning_rate is not None else _default_rate(update)

    # -- the interface -------------------------------------------------------------------------

    def functions(self) -> list[Callable[..., Any]]:
        return [f for f in (self.forward, self.backward, self.cost, self.update) if f]

    def prepare(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
        """``X`` as ``(n_features, m)`` and ``Y`` as ``(n_out, m)`` float64 copies."""
        X = float_array(X, "X")
        n_x, n_y = self._params["W1"].shape[1], self._params[f"W{self.L}"].shape[0]
        if X.ndim != 2 or X.shape[0] != n_x:
            hint = " (pass X.T: this convention puts one example per column)" if (
                X.ndim == 2 and X.shape[1] == n_x) else ""
            raise ValueError(f"X has shape {X.shape}; W1 is {self._params['W1'].shape}, so X "
                             f"must be ({n_x}, m){hint}")
        return X, _targets(Y, n_y, X.shape[1])

    def loss_value(self, params: dict[str, Any], X: Any, Y: Any) -> float:
        with self.guard(X, Y), np.errstate(all="ignore"):
            AL, _ = self._forward(X, {k: np.array(v, dtype=np.float64) for k, v in params.items()})
            return float(np.asarray(self._cost(AL, Y, params)))

    def loss(self, params: dict[str, Any], X: Any, Y: Any) -> Tensor:
        tensors = {k: v if isinstance(v, Tensor) else Tensor(float_array(v, k))
                   for k, v in params.items()}
        with self.guard(X, Y):
            AL, _ = run_on_tensors(lambda: self._forward(X, dict(tensors)), "forward")
            J = run_on_tensors(lambda: self._cost(AL, Y, tensors), "cost")
        return tensor_result(J, "cost()")

    def gradients(self, X: Any, Y: Any) -> dict[str, np.ndarray]:
        grads, _, _, _ = self.traced(X, Y, follow=False)
        return {k: float_array(v, k) for k, v in grads.items()}

    def train_step(self, X: Any, Y: Any, learning_rate: float | None = None) -> None:
        lr = learning_rate if learning_rate is not None else (self.learning_rate or 0.01)
        self._params = self._update(X, Y, lr, follow=False)[0]

    def _update(self, X: Any, Y: Any, lr: float, follow: bool, grads: Any = None
                ) -> tuple[dict[str, np.ndarray], Trace | None]:
        """Your forward, backward (unless its ``grads`` are given) and ``update`` (plain
        gradient descent when there is none) on copies: the new parameters, and the trace
        of ``update`` when ``follow``."""
        if grads is None:
            grads, _, _, _ = self.traced(X, Y, follow=False)
        grads = {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                 for k, v in grads.items()}
        params = self.parameters()
        recorded = None
        with self.guard(X, Y):
            if self.update is None:
                new = {k: v - lr * np.asarray(grads[f"d{k}"]) for k, v in params.items()}
            elif follow:
                recorded = trace(lambda: self.update(params, grads, lr), self.modules())
                if recorded.error is not None:
                    raise recorded.error
                new = recorded.result
            else:
                new = self.update(params, grads, lr)
        new = params if new is None else new
        if recorded is not None:
            self._update_origins = {k: recorded.origin(new[k]) for k in self._params}
        return {k: float_array(new[k], k) for k in self._params}, recorded

    def example_batch(self, n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((self._params["W1"].shape[1], n))
        with self.guard(), np.errstate(all="ignore"):
            AL, _ = self._forward(X.copy(), self.parameters())
        return X, example_targets(np.asarray(AL, dtype=np.float64), rng)

    # -- running your code ---------------------------------------------------------------------

    def _forward(self, X: Any, params: dict[str, Any]) -> tuple[Any, Any]:
        out = self.forward(X, params)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ConventionError(f"forward returned {type(out).__name__} where (AL, cache) "
                                  f"belongs\n\n{EXPECTED}")
        return out

    def _cost(self, AL: Any, Y: Any, params: dict[str, Any]) -> Any:
        return self.cost(AL, Y) if self.cost_arity == 2 else self.cost(AL, Y, params)

    def _backward(self, params: dict[str, Any], cache: Any, AL: Any, X: Any, Y: Any) -> Any:
        return self.backward(params, cache, X, Y)

    def traced(self, X: np.ndarray, Y: np.ndarray, follow: bool = True
               ) -> tuple[dict[str, Any], Trace | None, Any, Any]:
        """Your forward pass on arrays, then your backward pass (under the line tracer when
        ``follow``): ``(grads, trace, AL, cache)``."""
        params = self.parameters()
        with self.guard(X, Y), np.errstate(all="ignore"):
            AL, cache = self._forward(X.copy(), params)

            def call() -> Any:
                return self._backward(params, cache, AL, X.copy(), Y.copy())

            if follow:
                recorded = trace(call, self.modules())
                if recorded.error is not None:
                    raise recorded.error
                grads = recorded.result
            else:
                recorded, grads = None, call()
        if not isinstance(grads, dict):
            raise ConventionError(f"backward returned {type(grads).__name__} where a dict of "
                                  f"dW1, db1, ... belongs\n\n{EXPECTED}")
        return grads, recorded, AL, cache

    # -- what the checker needs ----------------------------------------------------------------

    def batch_size(self, X: np.ndarray) -> int:
        return X.shape[1]

    def subset(self, X: np.ndarray, Y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return X[:, :k].copy(), Y[:, :k].copy()

    def fd_losses(self, X: np.ndarray, Y: np.ndarray) -> list[Callable[[dict], float]]:
        return [lambda params: self.loss_value(params, X, Y)]

    def collect(self, X: np.ndarray, Y: np.ndarray, ref: Reference | None
                ) -> tuple[list[Quantity], Dense | None]:
        """Run your backward pass (traced) and list what it exposes; then one step of your
        ``update`` when there is one."""
        grads, recorded, AL, cache = self.traced(X, Y)
        m = X.shape[1]
        quantities = self.quantities(grads, recorded, ref, m)
        if self.update is not None:
            try:
                quantities += self.step_quantities(X, Y, ref, grads)
            except Exception as exc:
                quantities.append(raised(getattr(self.update, "__name__", "update"), exc))
        return quantities, self.dense(X, Y, AL, cache, ref)

    def step_quantities(self, X: np.ndarray, Y: np.ndarray, ref: Reference | None,
                        grads: dict[str, Any]) -> list[Quantity]:
        """The step of your ``update`` on each parameter, divided by the learning rate."""
        lr = self.learning_rate or 0.01
        before = self.parameters()
        after, _ = self._update(X, Y, lr, follow=True, grads=grads)
        refs = ref.pieces[0] if ref is not None else {}
        out = []
        for layer in range(self.L, 0, -1):
            for name in (f"W{layer}", f"b{layer}"):
                step = (before[name] - after[name]) / lr if after[name].shape == \
                    before[name].shape else after[name]
                out.append(Quantity(name, "step", layer - 1, step, refs.get(name),
                                    parent=f"d{name}", lr=lr,
                                    origin=self._update_origins.get(name),
                                    label="the step of update / learning_rate"))
        return out

    def pieces(self, X: np.ndarray, Y: np.ndarray) -> list[Piece]:
        tensors: dict[str, Tensor] = dict(self.params_as_tensors())
        params = dict(tensors)
        Xt = self._input_tensor(X, tensors)

        def build() -> Tensor | Surrogate:
            AL, cache = run_on_tensors(lambda: self._forward(Xt, dict(params)), "forward")
            if not isinstance(AL, Tensor) or not AL.requires_grad:
                raise NotDifferentiable(f"forward returned {type(AL).__name__} for AL, not a "
                                        "Tensor of the graph (np.array(...) or a NumPy call "
                                        "without a gradient rule drops it)")
            tensors.update(self.cache_tensors(cache, AL))
            tensors.update(_pre_activations(AL, params, self.L))
            J = run_on_tensors(lambda: self._cost(AL, Y, params), "cost")
            try:
                return tensor_result(J, "cost()")
            except NotDifferentiable as exc:
                return Surrogate(AL, lambda a: float(np.asarray(self._cost(a, Y, self._params))),
                                 exc.reason)

        return [Piece(build, tensors, tuple(params))]

    def _input_tensor(self, X: np.ndarray, tensors: dict[str, Tensor]) -> Any:
        return X

    def cache_tensors(self, cache: Any, AL: Tensor) -> dict[str, Tensor]:
        """The Tensors of the cache by their names (``Z1``, ``A1``, ...) and the output."""
        found = {f"A{self.L}": AL}
        if isinstance(cache, dict):
            for k, v in cache.items():
                if isinstance(v, Tensor) and v.requires_grad:
                    found[str(k)] = v
        return found

    def quantities(self, grads: dict[str, Any], recorded: Trace | None, ref: Reference | None,
                   m: int) -> list[Quantity]:
        """Everything your backward pass exposes, output side first (see the module
        docstring), each with its reference and the line that computed it."""
        refs = ref.pieces[0] if ref is not None else {}
        values = self.exposed(grads, recorded)
        out: list[Quantity] = []
        for layer in range(self.L, 0, -1):
            a_key, z_key = f"dA{layer}", f"dZ{layer}"
            above = f"dZ{layer + 1}" if layer < self.L else None
            out.append(self._intermediate(a_key, "dAL" if layer == self.L else "dA", layer - 1,
                                          values, refs, f"A{layer}", m, above, recorded))
            z_parent = a_key if a_key in values else above
            out.append(self._intermediate(z_key, "dZ", layer - 1, values, refs, f"Z{layer}", m,
                                          z_parent, recorded))
            if z_key in values or f"Z{layer}" in refs:
                parent: str | None = z_key
            else:
                parent = a_key if a_key in values or f"A{layer}" in refs else None
            for key, kind, name in ((f"dW{layer}", "dW", f"W{layer}"),
                                    (f"db{layer}", "db", f"b{layer}")):
                out.append(Quantity(key, kind, layer - 1, values.get(key), refs.get(name),
                                    parent=parent, origin=_origin(recorded, values.get(key)),
                                    required=True, present=tuple(sorted(map(str, grads)))))
        out.append(self._intermediate("dA0", "dA", -1, values, refs, "A0", m, "dZ1", recorded))
        return out

    def _intermediate(self, key: str, kind: str, layer: int, values: dict[str, Any],
                      refs: dict[str, np.ndarray], name: str, m: int, parent: str | None,
                      recorded: Trace | None) -> Quantity:
        ref = refs.get(name)
        user = values.get(key)
        label = values.get(f"{key} label", "")
        return Quantity(key, kind, layer, user, ref, scales=(float(m), 1.0), parent=parent,
                        origin=_origin(recorded, user), label=label, pe=float(m),
                        aliases=(label.split()[0],) if label.startswith("dAL") else ())

    def exposed(self, grads: dict[str, Any], recorded: Trace | None) -> dict[str, Any]:
        """Your values by key: what ``grads`` holds, and the ``dZ``/``dA`` locals of your
        backward function."""
        values: dict[str, Any] = {str(k): v for k, v in grads.items()}
        if recorded is not None:
            for layer in range(1, self.L + 1):
                for key in (f"dZ{layer}", f"dA{layer}"):
                    named = recorded.named(key)
                    if key not in values and named:
                        values[key] = named[-1].value
        return values

    def dense(self, X: np.ndarray, Y: np.ndarray, AL: Any, cache: Any,
              ref: Reference | None) -> Dense | None:
        """Your forward pass's values as dense layers (from the cache)."""
        if not isinstance(cache, dict):
            return None
        A_prev = X
        layers = []
        for layer in range(1, self.L + 1):
            W, b = self._params[f"W{layer}"], self._params[f"b{layer}"]
            Z = W @ A_prev + b
            A = AL if layer == self.L else cache.get(f"A{layer}")
            if A is None:
                return None
            layers.append(Layer(W, b, A_prev, Z, np.asarray(A, dtype=np.float64)))
            A_prev = layers[-1].A
        return Dense(layers, X.shape[1], Y, True, _output_gradient(ref, self.L, X.shape[1]))


class NgDeepNetwork(NgNetwork):
    """The L-layer form: ``backward(AL, Y, caches)``, ``caches[l] = ((A_prev, W, b), Z)``.

    >>> NgDeepNetwork.convention
    'ng-deep'
    """

    convention = "ng-deep"

    def _backward(self, params: dict[str, Any], cache: Any, AL: Any, X: Any, Y: Any) -> Any:
        return self.backward(AL, Y, cache)

    def _input_tensor(self, X: np.ndarray, tensors: dict[str, Tensor]) -> Any:
        tensors["A0"] = Tensor(X.copy(), requires_grad=True)
        return tensors["A0"]

    def cache_tensors(self, cache: Any, AL: Tensor) -> dict[str, Tensor]:
        found = {f"A{self.L}": AL}
        for layer, entry in enumerate(_layer_caches(cache, self.L) or [], start=1):
            (A_prev, _W, _b), _Z = entry
            if layer > 1 and isinstance(A_prev, Tensor) and A_prev.requires_grad:
                found[f"A{layer - 1}"] = A_prev
        return found

    def exposed(self, grads: dict[str, Any], recorded: Trace | None) -> dict[str, Any]:
        values: dict[str, Any] = {str(k): v for k, v in grads.items()}
        if recorded is None or self._last_caches is None:
            return values
        named = recorded.named("dAL")
        if f"dA{self.L}" not in values and named:
            values[f"dA{self.L}"] = named[-1].value
            values[f"dA{self.L} label"] = f"dAL in {named[-1].function}"
        for layer, entry in enumerate(self._last_caches, start=1):
            key = f"dZ{layer}"
            if key in values:
                continue
            found = _layer_local(recorded, entry, "dZ")
            if found is not None:
                made = recorded.origin(found[0])
                values[key] = found[0]
                values[f"{key} label"] = f"dZ in {made.function}" if made else found[1]
        return values

    def traced(self, X: np.ndarray, Y: np.ndarray, follow: bool = True
               ) -> tuple[dict[str, Any], Trace | None, Any, Any]:
        grads, recorded, AL, cache = super().traced(X, Y, follow)
        self._last_caches = _layer_caches(cache, self.L)
        return grads, recorded, AL, cache

    def dense(self, X: np.ndarray, Y: np.ndarray, AL: Any, cache: Any,
              ref: Reference | None) -> Dense | None:
        entries = _layer_caches(cache, self.L)
        if entries is None:
            return None
        layers = []
        for layer, ((A_prev, W, b), _Z) in enumerate(entries, start=1):
            A = AL if layer == self.L else entries[layer][0][0]
            W, b, A_prev, A = (np.asarray(v, dtype=np.float64) for v in (W, b, A_prev, A))
            layers.append(Layer(W, b, A_prev, W @ A_prev + b, A))
        return Dense(layers, X.shape[1], Y, True, _output_gradient(ref, self.L, X.shape[1]))


def _pre_activations(AL: Tensor, params: dict[str, Tensor], L: int) -> dict[str, Tensor]:
    """Each layer's ``Z``, read off the graph of your forward pass (the sum that adds the
    bias), whatever the cache says."""
    found = {}
    for layer in range(1, L + 1):
        Z = made_from(AL, params[f"b{layer}"], "add")
        if Z is not None:
            found[f"Z{layer}"] = Z
    return found


def _layer_caches(cache: Any, L: int) -> list[Any] | None:
    """``caches`` if it is Ng's list of ``((A_prev, W, b), Z)``, one per layer."""
    try:
        if len(cache) != L:
            return None
        for (_A_prev, _W, _b), _Z in cache:
            pass
    except (TypeError, ValueError):
        return None
    return list(cache)


def _layer_local(recorded: Trace, entry: Any, name: str) -> tuple[Any, str] | None:
    """The value your backward helpers called ``name`` for one layer: an argument or local
    of a call that was given that layer's cache (or a part of it)."""
    parts = [entry, entry[0], entry[1]]
    calls = [c for c in recorded.calls if any(v is p for v in c.arguments.values() for p in parts)]
    for call in reversed(calls):
        if name in call.arguments:
            return call.arguments[name], f"{name} in {call.function}"
    for call in reversed(calls):
        found = [a for a in recorded.assignments if a.call == call.index and a.name == name]
        if found:
            return found[-1].value, f"{name} in {call.function}"
    return None


def _origin(recorded: Trace | None, value: Any) -> Any:
    return None if recorded is None or value is None else recorded.origin(value)


def _output_gradient(ref: Reference | None, L: int, m: int) -> np.ndarray | None:
    if ref is None or f"A{L}" not in ref.pieces[0]:
        return None
    return ref.pieces[0][f"A{L}"] * m


def _default_rate(update: Callable | None) -> float | None:
    if update is None:
        return None
    try:
        default = inspect.signature(update).parameters.get("learning_rate")
    except (TypeError, ValueError):
        return None
    if default is None or not isinstance(default.default, (int, float)):
        return None
    return float(default.default)


def _targets(Y: Any, n_y: int, m: int) -> np.ndarray:
    Y = float_array(Y, "Y")
    if Y.shape == (n_y, m):
        return Y
    if Y.shape == (m,) and n_y == 1:
        return Y.reshape(1, m)
    if Y.shape == (m,) and n_y > 1 and np.all(Y == np.round(Y)) and Y.min() >= 0 and Y.max() < n_y:
        onehot = np.zeros((n_y, m))
        onehot[Y.astype(int), np.arange(m)] = 1.0
        return onehot
    hint = " (pass Y.T: one example per column)" if Y.shape == (m, n_y) else ""
    raise ValueError(f"Y has shape {Y.shape}; it must be ({n_y}, {m}), one example per "
                     f"column{hint}")


def example_targets(output: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Targets that suit an output (column layout): one-hot classes for a softmax, 0/1 for a
    sigmoid, values for anything else.

    >>> example_targets(np.full((3, 4), 1 / 3), np.random.default_rng(0)).sum(axis=0).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    n_y, m = output.shape
    probabilities = np.all((output > 0) & (output < 1))
    if probabilities and n_y > 1 and np.allclose(output.sum(axis=0), 1.0):
        Y = np.zeros((n_y, m))
        Y[rng.integers(0, n_y, m), np.arange(m)] = 1.0
        return Y
    if probabilities:
        return (rng.random((n_y, m)) < 0.5).astype(np.float64)
    return rng.standard_normal((n_y, m))
