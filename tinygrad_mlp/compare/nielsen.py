"""Michael Nielsen's convention (*Neural Networks and Deep Learning*, ``network.py`` and
``network2.py``): a ``Network`` with lists ``weights`` and ``biases`` and a per-example
``backprop(x, y) -> (nabla_b, nabla_w)``.

``weights[i]`` is ``(n_out, n_in)`` and ``biases[i]`` is ``(n_out, 1)``; ``x`` and ``y`` are
column vectors, one example at a time (the checker hands your ``backprop`` each row of
``X`` and ``y`` as a column). The cost is ½‖a − y‖² per example when the network has
``cost_derivative(output_activations, y)`` (``network.py``), and ``cost.fn(a, y)`` when it
has a ``cost`` with ``fn(a, y)`` and ``delta(z, a, y)`` (``network2.py``). ``nabla_b[i]`` is
the delta of layer ``i`` for that example, so every layer's delta is checked through it;
then one step of ``update_mini_batch`` on the batch, ``weights[i]`` and ``biases[i]``.

>>> import numpy as np
>>> class Network:
...     def __init__(self):
...         self.weights, self.biases = [np.ones((1, 2))], [np.zeros((1, 1))]
...     def feedforward(self, a): return self.weights[0] @ a + self.biases[0]
...     def backprop(self, x, y): return [], []
...     def cost_derivative(self, output_activations, y): return output_activations - y
>>> NielsenNetwork(Network()).convention, sorted(NielsenNetwork(Network()).parameters())
('nielsen', ['biases[0]', 'weights[0]'])
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from .dense import Dense, Layer
from .network import (
    ConventionError,
    NotDifferentiable,
    UserNetwork,
    deep_copy,
    describe_signature,
    float_array,
    required_arity,
    tensor_result,
)
from .reference import Piece, Reference, Surrogate, run_on_tensors
from .stages import Quantity, raised
from .tracing import Trace, assignment_in, trace

EXPECTED = """Michael Nielsen's network.py / network2.py form: check_backprop(net, X, y)
  net.weights             a list, weights[i] of shape (n_out, n_in)
  net.biases              a list, biases[i] of shape (n_out, 1)
  net.feedforward(a)      -> the output for one column a
  net.backprop(x, y)      -> (nabla_b, nabla_w) for ONE example, x and y columns
  net.cost_derivative(output_activations, y)   (network.py: the cost is ½‖a − y‖²)
    or net.cost with fn(a, y) and delta(z, a, y)   (network2.py)
  net.update_mini_batch(mini_batch, eta) or (mini_batch, eta, lmbda, n)   (optional)
  X is (n, n_in) and y is (n, n_out): one example per row"""

# The book's learning rates: 3.0 for network.py on MNIST, 0.5 for network2.py.
DEFAULT_ETA = {"nielsen": 3.0, "nielsen2": 0.5}


def is_nielsen(obj: Any) -> bool:
    """Does ``obj`` look like a Nielsen ``Network`` (lists ``weights``/``biases`` and the
    methods ``backprop`` and ``feedforward``)?

    >>> is_nielsen(object())
    False
    """
    return (isinstance(getattr(obj, "weights", None), list)
            and isinstance(getattr(obj, "biases", None), list)
            and callable(getattr(obj, "backprop", None))
            and callable(getattr(obj, "feedforward", None)))


class NielsenNetwork(UserNetwork):
    """A Nielsen ``Network`` (see the module docstring).

    >>> NielsenNetwork.expected.splitlines()[0]
    "Michael Nielsen's network.py / network2.py form: check_backprop(net, X, y)"
    """

    expected = EXPECTED
    subject = "net"

    def __init__(self, net: Any) -> None:
        super().__init__()
        if not is_nielsen(net):
            raise ConventionError(f"{type(net).__name__} is not a Nielsen Network\n\n{EXPECTED}")
        cost = getattr(net, "cost", None)
        if callable(getattr(cost, "fn", None)) and callable(getattr(cost, "delta", None)):
            self.convention = "nielsen2"
        elif callable(getattr(net, "cost_derivative", None)):
            self.convention = "nielsen"
        else:
            raise ConventionError(f"{type(net).__name__} has neither cost_derivative nor a cost "
                                  f"with fn and delta\n\n{EXPECTED}")
        for name, allowed in (("backprop", (2,)), ("feedforward", (1,))):
            arity = required_arity(getattr(net, name))
            if arity is not None and arity not in allowed:
                raise ConventionError(f"{name} is {describe_signature(getattr(net, name))}: it "
                                      f"takes {arity} arguments where {allowed[0]} belong"
                                      f"\n\n{EXPECTED}")
        if len(net.weights) != len(net.biases) or not net.weights:
            raise ConventionError(f"{type(net).__name__} has {len(net.weights)} weights and "
                                  f"{len(net.biases)} biases; one of each per layer\n\n{EXPECTED}")
        self.L = len(net.weights)
        self._net = deep_copy(net)
        self._params = {**{f"weights[{i}]": float_array(w, f"weights[{i}]")
                           for i, w in enumerate(net.weights)},
                        **{f"biases[{i}]": float_array(b, f"biases[{i}]")
                           for i, b in enumerate(net.biases)}}
        self._guarded = (net,)

    learning_rate = None

    # -- the interface -------------------------------------------------------------------------

    def functions(self) -> list[Callable[..., Any]]:
        names = ("backprop", "feedforward", "cost_derivative", "update_mini_batch")
        found = [getattr(self._net, n) for n in names if callable(getattr(self._net, n, None))]
        cost = getattr(self._net, "cost", None)
        found += [getattr(cost, n) for n in ("fn", "delta") if callable(getattr(cost, n, None))]
        return found

    def prepare(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
        """``X`` as ``(n, n_in)`` and ``y`` as ``(n, n_out)`` float64 copies (class labels
        become one-hot rows, as Nielsen's ``vectorized_result`` makes them)."""
        X = float_array(X, "X")
        n_in = self._params["weights[0]"].shape[1]
        n_out = self._params[f"weights[{self.L - 1}]"].shape[0]
        if X.ndim != 2 or X.shape[1] != n_in:
            hint = " (pass X.T: this convention takes one example per row)" if (
                X.ndim == 2 and X.shape[0] == n_in) else ""
            raise ValueError(f"X has shape {X.shape}; weights[0] is "
                             f"{self._params['weights[0]'].shape}, so X must be (n, {n_in}){hint}")
        return X, _rows(float_array(Y, "y"), X.shape[0], n_out)

    def loss_value(self, params: dict[str, Any], X: Any, Y: Any) -> float:
        twin = self._twin(params)
        with self.guard(X, Y), np.errstate(all="ignore"):
            return float(sum(float(np.asarray(self._cost(twin.feedforward(x), y)))
                             for x, y in _columns(X, Y)))

    def loss(self, params: dict[str, Any], X: Any, Y: Any) -> Tensor:
        tensors = {k: v if isinstance(v, Tensor) else Tensor(float_array(v, k))
                   for k, v in params.items()}
        twin = self._twin(tensors)
        total: Any = 0.0
        with self.guard(X, Y):
            for x, y in _columns(X, Y):
                a = run_on_tensors(lambda x=x: twin.feedforward(x), "feedforward")
                total = total + tensor_result(run_on_tensors(lambda a=a, y=y: self._cost(a, y),
                                                             "the cost"), "the cost")
        return tensor_result(total, "the cost")

    def gradients(self, X: Any, Y: Any) -> dict[str, np.ndarray]:
        per_example, _ = self.traced(X, Y, follow=False)
        return {k: np.sum(v, axis=0) for k, v in _by_key(per_example, self.L).items()}

    def train_step(self, X: Any, Y: Any, learning_rate: float | None = None) -> None:
        eta = learning_rate if learning_rate is not None else DEFAULT_ETA[self.convention]
        twin, _ = self._update(X, Y, eta, follow=False)
        self._params = {**{f"weights[{i}]": float_array(w, f"weights[{i}]")
                           for i, w in enumerate(twin.weights)},
                        **{f"biases[{i}]": float_array(b, f"biases[{i}]")
                           for i, b in enumerate(twin.biases)}}

    def _update(self, X: Any, Y: Any, eta: float, follow: bool) -> tuple[Any, Trace | None]:
        """One ``update_mini_batch`` on a copy (traced when ``follow``): the copy after it."""
        twin = deep_copy(self._twin(self._params))
        batch = list(_columns(X, Y))
        update = getattr(twin, "update_mini_batch", None)
        if not callable(update):
            raise ConventionError(f"{type(self._net).__name__} has no update_mini_batch"
                                  f"\n\n{EXPECTED}")
        extra = (0.0, len(batch)) if (required_arity(update) or 2) >= 4 else ()
        with self.guard(X, Y), np.errstate(all="ignore"):
            if not follow:
                update(batch, eta, *extra)
                return twin, None
            recorded = trace(lambda: update(batch, eta, *extra), self.modules(), nested=False)
        if recorded.error is not None:
            raise recorded.error
        return twin, recorded

    def example_batch(self, n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        n_in = self._params["weights[0]"].shape[1]
        n_out = self._params[f"weights[{self.L - 1}]"].shape[0]
        X = rng.standard_normal((n, n_in))
        if n_out > 1:
            Y = np.eye(n_out)[rng.integers(0, n_out, n)]
        else:
            Y = (rng.random((n, 1)) < 0.5).astype(np.float64)
        return X, Y

    # -- running your code ---------------------------------------------------------------------

    def _twin(self, params: dict[str, Any]) -> Any:
        twin = copy.copy(self._net)
        twin.weights = [params[f"weights[{i}]"] for i in range(self.L)]
        twin.biases = [params[f"biases[{i}]"] for i in range(self.L)]
        return twin

    def _cost(self, a: Any, y: Any) -> Any:
        if self.convention == "nielsen2":
            return self._net.cost.fn(a, y)
        return 0.5 * ((a - y) ** 2).sum()

    def traced(self, X: np.ndarray, Y: np.ndarray, follow: bool = True
               ) -> tuple[list[tuple[list[Any], list[Any]]], Trace | None]:
        """Your ``backprop`` on every example (the first under the line tracer when
        ``follow``): a list of ``(nabla_b, nabla_w)``, and the first example's trace."""
        out, recorded = [], None
        with self.guard(X, Y), np.errstate(all="ignore"):
            for k, (x, y) in enumerate(_columns(X, Y)):
                twin = self._twin(self.parameters())
                if k == 0 and follow:
                    recorded = trace(lambda twin=twin, x=x, y=y: twin.backprop(x, y),
                                     self.modules())
                    if recorded.error is not None:
                        raise recorded.error
                    result = recorded.result
                else:
                    result = twin.backprop(x, y)
                out.append(_pair(result, self.L))
        return out, recorded

    # -- what the checker needs ----------------------------------------------------------------

    def batch_size(self, X: np.ndarray) -> int:
        return X.shape[0]

    def subset(self, X: np.ndarray, Y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return X[:k].copy(), Y[:k].copy()

    def fd_losses(self, X: np.ndarray, Y: np.ndarray) -> list[Callable[[dict], float]]:
        return self.example_losses(X, Y)

    def collect(self, X: np.ndarray, Y: np.ndarray, ref: Reference | None
                ) -> tuple[list[Quantity], Dense | None]:
        """Your ``backprop`` on every example (the first traced), then one step of your
        ``update_mini_batch`` when there is one."""
        per_example, recorded = self.traced(X, Y)
        eta = DEFAULT_ETA[self.convention]
        step, failed = None, None
        if callable(getattr(self._net, "update_mini_batch", None)):
            try:
                step = self.step(X, Y, eta)
            except Exception as exc:
                failed = raised("update_mini_batch", exc)
        dense = self.dense(X, Y, ref)
        quantities = self.forward_quantities(recorded, dense)
        quantities += self.quantities(per_example, recorded, ref, step, eta)
        return quantities + ([failed] if failed else []), dense

    def forward_quantities(self, recorded: Trace | None, dense: Dense | None) -> list[Quantity]:
        """The forward pass your ``backprop`` repeats (its ``zs`` and ``activations`` lists,
        for the first example) against ``feedforward``'s: a slip there makes every delta
        wrong, and is reported there."""
        if recorded is None or dense is None:
            return []
        out = []
        for name, shift in (("zs", 0), ("activations", 1)):
            values = next((a.value for a in reversed(recorded.assignments)
                           if a.name == name and a.call == 0), None)
            if not isinstance(values, list) or len(values) < self.L + shift:
                continue
            for i in range(self.L):
                layer = dense.layers[i]
                reference = (layer.Z if name == "zs" else layer.A)[:, :1]
                out.append(Quantity(f"{name}[{i + shift}]", "forward", i, values[i + shift],
                                    reference, origin=recorded.origin(values[i + shift]),
                                    label="the forward pass inside backprop"))
        return sorted(out, key=lambda q: (q.layer, q.key.startswith("activations")))

    def pieces(self, X: np.ndarray, Y: np.ndarray) -> list[Piece]:
        leaves = self.params_as_tensors()
        twin = self._twin(leaves)
        pieces = []
        for x, y in _columns(X, Y):
            tensors: dict[str, Tensor] = dict(leaves)

            def build(x: np.ndarray = x, y: np.ndarray = y,
                      tensors: dict[str, Tensor] = tensors) -> Tensor | Surrogate:
                a = run_on_tensors(lambda: twin.feedforward(x), "feedforward")
                if not isinstance(a, Tensor) or not a.requires_grad:
                    raise NotDifferentiable(f"feedforward returned {type(a).__name__}, not a "
                                            "Tensor of the graph")
                tensors["output"] = a
                C = run_on_tensors(lambda: self._cost(a, y), "the cost")
                try:
                    return tensor_result(C, "cost.fn()")
                except NotDifferentiable as exc:
                    return Surrogate(a, lambda v: float(np.asarray(self._cost(v, y))), exc.reason)

            pieces.append(Piece(build, tensors, tuple(leaves)))
        return pieces

    def example_losses(self, X: np.ndarray, Y: np.ndarray) -> list[Callable[[dict], float]]:
        """Each example's cost as a function of the parameters' arrays (for differences)."""
        def one(x: np.ndarray, y: np.ndarray) -> Callable[[dict], float]:
            return lambda p: float(np.asarray(self._cost(self._twin(p).feedforward(x), y)))

        return [one(x, y) for x, y in _columns(X, Y)]

    def step(self, X: np.ndarray, Y: np.ndarray, eta: float
             ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The step one ``update_mini_batch`` takes, per parameter, divided by ``eta``, and
        the line that made each new value."""
        update = getattr(self._net, "update_mini_batch", None)
        lines = {kind: assignment_in(update, f"self.{kind}") for kind in ("weights", "biases")}
        follow = any(line is None for line in lines.values())
        twin, recorded = self._update(X, Y, eta, follow=follow)
        steps, origins = {}, {}
        for kind in ("weights", "biases"):
            for i, after in enumerate(getattr(twin, kind)):
                key = f"{kind}[{i}]"
                steps[key] = (self._params[key] - float_array(after, key)) / eta
                origins[key] = lines[kind] or _origin(recorded, after)
        return steps, origins

    def quantities(self, per_example: list[tuple[list[Any], list[Any]]], recorded: Trace | None,
                   ref: Reference | None,
                   step: tuple[dict[str, np.ndarray], dict[str, Any]] | None,
                   eta: float) -> list[Quantity]:
        m = len(per_example)
        user = _by_key(per_example, self.L)
        first_b, first_w = per_example[0]
        out = []
        for i in range(self.L - 1, -1, -1):
            b_key, w_key = f"nabla_b[{i}]", f"nabla_w[{i}]"
            out.append(Quantity(
                b_key, "dZ", i, _stack_columns(user[b_key]),
                None if ref is None else ref.stacked(f"biases[{i}]"),
                parent=f"nabla_b[{i + 1}]" if i < self.L - 1 else None,
                origin=_origin(recorded, first_b[i]), label=_negative(b_key, i, self.L),
                aliases=(_negative(b_key, i, self.L).split()[0],)))
            out.append(Quantity(
                w_key, "dW", i, _sum(user[w_key]),
                None if ref is None else ref.total(f"weights[{i}]"),
                parent=b_key, origin=_origin(recorded, first_w[i]),
                label=_negative(w_key, i, self.L),
                aliases=(_negative(w_key, i, self.L).split()[0],)))
        if step is not None:
            for i in range(self.L - 1, -1, -1):
                for name, parent in ((f"weights[{i}]", f"nabla_w[{i}]"),
                                     (f"biases[{i}]", f"nabla_b[{i}]")):
                    reference = None if ref is None else ref.total(name) / m
                    out.append(Quantity(name, "step", i, step[0][name], reference,
                                        parent=parent, origin=step[1][name],
                                        from_parent=1.0 / m, lr=eta,
                                        label="the step of update_mini_batch / eta"))
        return out

    def dense(self, X: np.ndarray, Y: np.ndarray, ref: Reference | None) -> Dense | None:
        """Your forward pass's values as dense layers, from ``feedforward``'s own lines (on
        the whole batch as columns when your ``feedforward`` takes that and gives each
        example's own output, else one example at a time)."""
        outputs = self._layer_values(X, Y)
        if outputs is None:
            return None
        layers = []
        A_prev = X.T
        for i in range(self.L):
            W, b = self._params[f"weights[{i}]"], self._params[f"biases[{i}]"]
            layers.append(Layer(W, b, A_prev, W @ A_prev + b, outputs[i]))
            A_prev = outputs[i]
        dAL = None if ref is None or "output" not in ref.pieces[0] else ref.stacked("output")
        return Dense(layers, X.shape[0], Y.T, mean=False, dAL=dAL, names=_nielsen_names)

    def _layer_values(self, X: np.ndarray, Y: np.ndarray) -> list[np.ndarray] | None:
        twin = self._twin(self._params)
        with self.guard(X, Y), np.errstate(all="ignore"):
            batch = _layer_outputs(trace(lambda: twin.feedforward(X.T.copy()), self.modules()),
                                   self.L, X.shape[0])
            first = twin.feedforward(X[0].reshape(-1, 1).copy())
            if batch is not None and np.allclose(batch[-1][:, :1], first, rtol=1e-12, atol=0):
                return batch
            outputs = []
            for x, _ in _columns(X, Y):
                values = _layer_outputs(trace(lambda x=x: twin.feedforward(x), self.modules()),
                                        self.L, 1)
                if values is None:
                    return None
                outputs.append(values)
        return [np.concatenate([o[i] for o in outputs], axis=1) for i in range(self.L)]


def _nielsen_names(letter: str, i: int) -> str:
    if letter == "W":
        return f"weights[{i}]"
    if letter == "Z":
        return f"zs[{i}]"
    return "x (activations[0])" if i < 0 else f"activations[{i + 1}]"


def _negative(key: str, i: int, L: int) -> str:
    return f"{key.split('[')[0]}[-{L - i}] in backprop"


def _layer_outputs(recorded: Trace, L: int, m: int) -> list[np.ndarray] | None:
    """The output of each layer inside ``feedforward`` (``m`` columns): the values given,
    one per layer, to the variable that is returned."""
    if recorded.error is not None:
        return None
    last = recorded.origin(recorded.result)
    if last is None:
        return None
    values = [a.value for a in recorded.assignments if a.name == last.name and a.call == last.call]
    if len(values) < L:
        return None
    try:
        return [np.asarray(v, dtype=np.float64).reshape(-1, m) for v in values[-L:]]
    except ValueError:
        return None


def _pair(result: Any, L: int) -> tuple[list[Any], list[Any]]:
    try:
        nabla_b, nabla_w = result
        nabla_b, nabla_w = list(nabla_b), list(nabla_w)
    except (TypeError, ValueError):
        raise ConventionError(f"backprop returned {type(result).__name__} where (nabla_b, "
                              f"nabla_w) belongs\n\n{EXPECTED}") from None
    if len(nabla_b) != L or len(nabla_w) != L:
        raise ConventionError(f"backprop returned {len(nabla_b)} nabla_b and {len(nabla_w)} "
                              f"nabla_w for {L} layers\n\n{EXPECTED}")
    return nabla_b, nabla_w


def _by_key(per_example: list[tuple[list[Any], list[Any]]], L: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for i in range(L):
        out[f"nabla_b[{i}]"] = [nb[i] for nb, _ in per_example]
        out[f"nabla_w[{i}]"] = [nw[i] for _, nw in per_example]
    return out


def _stack_columns(values: list[Any]) -> Any:
    try:
        arrays = [np.asarray(v, dtype=np.float64) for v in values]
        return np.concatenate([a.reshape(a.shape[0] if a.ndim else 1, -1) for a in arrays], axis=1)
    except (TypeError, ValueError):
        return values[0]


def _sum(values: list[Any]) -> Any:
    try:
        return np.sum([np.asarray(v, dtype=np.float64) for v in values], axis=0)
    except (TypeError, ValueError):
        return values[0]


def _origin(recorded: Trace | None, value: Any) -> Any:
    return None if recorded is None else recorded.origin(value)


def _columns(X: np.ndarray, Y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(X[i].reshape(-1, 1).copy(), Y[i].reshape(-1, 1).copy()) for i in range(X.shape[0])]


def _rows(Y: np.ndarray, n: int, n_out: int) -> np.ndarray:
    if Y.shape == (n, n_out):
        return Y
    if Y.shape == (n,) and n_out == 1:
        return Y.reshape(n, 1)
    if Y.shape == (n,) and np.all(Y == np.round(Y)) and Y.min() >= 0 and Y.max() < n_out:
        return np.eye(n_out)[Y.astype(int)]
    raise ValueError(f"y has shape {Y.shape}; it must be ({n}, {n_out}), one example per row "
                     "(or class labels of shape (n,))")
