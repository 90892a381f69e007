"""Any other network: a loss function of your parameters, and your gradients.

``check_gradients(loss_fn, params, grads)`` takes ``params`` as a dict of name to array,
or a list (or a list of lists) of arrays; ``loss_fn(params)`` is your forward pass and loss
in NumPy; ``grads`` is your gradients in the same structure (a dict may use the parameter
names or those names with a ``d`` in front: ``dW1``) or a function ``grads(params)`` that
computes them (its lines are then followed, to point at the one that computed a wrong
gradient). Each part is named by its parameter's key (``W1``, whether your gradient's key is
``W1`` or ``dW1``) or index (``params[1]``, ``params[0][1]``).

>>> net = FreeformNetwork(lambda p: float((p["w"] ** 2).sum()), {"w": np.ones(2)},
...                       {"dw": np.full(2, 2.0)})
>>> net.parameters()["w"].tolist(), net.names
([1.0, 1.0], {'w': 'dw'})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from .dense import Dense
from .graph_layers import GraphLayer, read_layers, to_dense, to_yours
from .network import ConventionError, UserNetwork, float_array, tensor_result
from .reference import FINITE, Piece, Reference, run_on_tensors
from .stages import Quantity
from .tracing import Trace, trace

EXPECTED = """Free-form: check_gradients(loss_fn, params, grads)
  params    a dict {name: array}, or a list (or a list of lists) of arrays
  loss_fn   loss_fn(params) -> a number: your forward pass and loss
  grads     your gradients in the same structure (a dict keyed by the names, or by "d" +
            the names), or a function grads(params) that returns them"""


def flatten(params: Any) -> list[tuple[str, tuple[Any, ...], Any]]:
    """``(name, path, array)`` for every array of a dict, a list or a list of lists.

    >>> [n for n, _, _ in flatten([np.ones(1), [np.ones(1), np.ones(2)]])]
    ['params[0]', 'params[1][0]', 'params[1][1]']
    """
    if isinstance(params, dict):
        return [(str(k), (k,), v) for k, v in params.items()]
    if isinstance(params, (list, tuple)):
        out = []
        for i, item in enumerate(params):
            if isinstance(item, (list, tuple)):
                out += [(f"params[{i}][{j}]", (i, j), v) for j, v in enumerate(item)]
            else:
                out.append((f"params[{i}]", (i,), item))
        return out
    raise ConventionError(f"params must be a dict or a list of arrays, got "
                          f"{type(params).__name__}\n\n{EXPECTED}")


def rebuild(like: Any, values: dict[tuple[Any, ...], Any]) -> Any:
    """A structure shaped like ``like`` (dict, list, list of lists) holding ``values``.

    >>> rebuild([1, [2]], {(0,): "a", (1, 0): "b"})
    ['a', ['b']]
    """
    if isinstance(like, dict):
        return {k: values[(k,)] for k in like}
    return [[values[(i, j)] for j in range(len(item))] if isinstance(item, (list, tuple))
            else values[(i,)] for i, item in enumerate(like)]


class FreeformNetwork(UserNetwork):
    """``loss_fn``, ``params`` and ``grads`` as :func:`check_gradients` takes them.

    >>> FreeformNetwork(lambda p: 0.0, [np.ones(1)], [np.zeros(1)]).names
    {'params[0]': 'params[0]'}
    """

    convention = "free-form"
    expected = EXPECTED
    subject = "params"

    def __init__(self, loss_fn: Callable[[Any], Any], params: Any, grads: Any) -> None:
        super().__init__()
        if not callable(loss_fn):
            raise ConventionError(f"loss_fn must be a function, got {type(loss_fn).__name__}"
                                  f"\n\n{EXPECTED}")
        self.loss_fn, self.grads_fn = loss_fn, grads if callable(grads) else None
        self._like = params
        self._paths = {name: path for name, path, _ in flatten(params)}
        self._params = {name: float_array(v, name) for name, _, v in flatten(params)}
        self._given = None if callable(grads) else grads
        self.names = self._grad_names(params, grads)
        self._guarded = (params,) if self._given is None else (params, grads)

    def _grad_names(self, params: Any, grads: Any) -> dict[str, str]:
        """Your key for each parameter's gradient (``W1`` or ``dW1``)."""
        if not isinstance(params, dict):
            return {name: name for name in self._params}
        sample = grads(self._structure(self.parameters())) if callable(grads) else grads
        if not isinstance(sample, dict):
            raise ConventionError(f"params is a dict, so grads must be a dict too, got "
                                  f"{type(sample).__name__}\n\n{EXPECTED}")
        names = {}
        for name in self._params:
            for key in (name, f"d{name}"):
                if key in sample:
                    names[name] = key
                    break
            else:
                raise ConventionError(f"grads has no {name!r} or 'd{name}' (it has "
                                      f"{sorted(map(str, sample))})\n\n{EXPECTED}")
        return names

    def _structure(self, values: dict[str, Any]) -> Any:
        return rebuild(self._like, {self._paths[k]: v for k, v in values.items()})

    # -- the interface -------------------------------------------------------------------------

    def functions(self) -> list[Callable[..., Any]]:
        return [f for f in (self.loss_fn, self.grads_fn) if f is not None]

    def loss_value(self, params: dict[str, Any], X: Any = None, Y: Any = None) -> float:
        with self.guard(), np.errstate(all="ignore"):
            return float(np.asarray(self.loss_fn(self._structure(
                {k: np.array(v, dtype=np.float64) for k, v in params.items()}))))

    def loss(self, params: dict[str, Any], X: Any = None, Y: Any = None) -> Tensor:
        tensors = {k: v if isinstance(v, Tensor) else Tensor(float_array(v, k))
                   for k, v in params.items()}
        with self.guard():
            value = run_on_tensors(lambda: self.loss_fn(self._structure(tensors)), "loss_fn")
        return tensor_result(value, "loss_fn()")

    def gradients(self, X: Any = None, Y: Any = None) -> dict[str, np.ndarray]:
        values, _ = self.traced()
        return {self.names[k]: float_array(v, k) for k, v in values.items()}

    def train_step(self, X: Any = None, Y: Any = None, learning_rate: float | None = None) -> None:
        lr = 0.01 if learning_rate is None else learning_rate
        grads = self.gradients()
        self._params = {k: v - lr * grads[self.names[k]] for k, v in self._params.items()}

    def example_batch(self, n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        raise ConventionError("a free-form loss_fn holds its own data; there is no batch to "
                              "make for it")

    # -- what the checker needs ----------------------------------------------------------------

    def prepare(self, X: Any, Y: Any) -> tuple[Any, Any]:
        return X, Y

    subset = None

    def fd_losses(self, X: Any, Y: Any) -> list[Callable[[dict], float]]:
        return [lambda params: self.loss_value(params)]

    def collect(self, X: Any, Y: Any, ref: Reference | None
                ) -> tuple[list[Quantity], Dense | None]:
        values, recorded = self.traced()
        dense = self.dense() if ref is not None and ref.method != FINITE else None
        return self.quantities(values, recorded, ref), dense

    def batch_size(self, X: Any) -> int | None:
        return None if not self._layers else self.dense().m

    def traced(self, follow: bool = True) -> tuple[dict[str, Any], Trace | None]:
        """Your gradients by parameter name (computed by ``grads(params)`` under the line
        tracer when it is a function)."""
        if self._given is not None:
            given = self._given
            return {k: _pick(given, self._paths[k], self.names[k]) for k in self._params}, None
        structure = self._structure(self.parameters())
        with self.guard(), np.errstate(all="ignore"):
            recorded = trace(lambda: self.grads_fn(structure), self.modules()) if follow else None
            result = recorded.result if recorded is not None else self.grads_fn(structure)
        if recorded is not None and recorded.error is not None:
            raise recorded.error
        return {k: _pick(result, self._paths[k], self.names[k]) for k in self._params}, recorded

    def pieces(self, X: Any = None, Y: Any = None) -> list[Piece]:
        leaves = self.params_as_tensors()
        tensors: dict[str, Tensor] = dict(leaves)
        self._layers = None

        def build() -> Tensor:
            value = run_on_tensors(lambda: self.loss_fn(self._structure(dict(leaves))), "loss_fn")
            loss = tensor_result(value, "loss_fn()")
            self._layers = read_layers(loss, leaves)
            for i, layer in enumerate(self._layers or []):
                for letter, t in (("Z", layer.Z), ("A", layer.A)):
                    if t is not None and t.requires_grad:
                        tensors[f"({letter}{i})"] = t
            self._leaves = leaves
            return loss

        return [Piece(build, tensors, tuple(leaves))]

    _layers: list[GraphLayer] | None = None

    def quantities(self, values: dict[str, Any], recorded: Trace | None,
                   ref: Reference | None) -> list[Quantity]:
        """One per parameter, output side first: by the layers of the graph when it shows
        them, else the last given first (parameters are usually listed input to output)."""
        refs = ref.pieces[0] if ref is not None else {}

        def one(name: str, kind: str = "param", layer: int | None = None,
                parent: str | None = None, transform: Any = None) -> Quantity:
            key = self.names[name]
            return Quantity(name, kind, layer, values[name], refs.get(name), parent=parent,
                            transform=transform, trace=recorded,
                            label="" if key == name else f"your {key}",
                            origin=None if recorded is None else recorded.origin(values[name]))

        if not self._layers or ref is None or ref.method == FINITE:
            return [one(k) for k in reversed(list(self._params))]
        out: list[Quantity] = []
        last = len(self._layers) - 1
        for i in range(last, -1, -1):
            layer = self._layers[i]
            out += self._virtual(i, layer, refs)
            parent = f"(dA{i})" if i == last else f"(dZ{i + 1})"
            for name, kind in ((layer.weight, "dW"), (layer.bias, "db")):
                if name is not None:
                    shape = self._params[name].shape
                    out.append(one(name, kind, i, parent, to_yours(layer, kind, shape)))
        covered = {q.key for q in out}
        return out + [one(k) for k in reversed(list(self._params)) if k not in covered]

    def _virtual(self, i: int, layer: GraphLayer, refs: dict[str, np.ndarray]) -> list[Quantity]:
        """The layer's ``dJ/dZ`` and ``dJ/dA`` from the graph (your code does not expose
        them): what the guesses start from."""
        out = []
        for letter, kind in (("A", "dAL"), ("Z", "dZ")):
            ref = refs.get(f"({letter}{i})")
            if ref is not None:
                out.append(Quantity(f"(d{letter}{i})", kind, i, None, layer.to_columns(ref)))
        return out

    def dense(self) -> Dense | None:
        """Your network as dense layers, when the graph of ``loss_fn`` shows them."""
        if not self._layers:
            return None
        return to_dense(self._layers, self._leaves)


def _pick(structure: Any, path: tuple[Any, ...], key: str) -> Any:
    try:
        if isinstance(structure, dict):
            return structure[key]
        value = structure
        for i in path:
            value = value[i]
        return value
    except (KeyError, IndexError, TypeError):
        raise ConventionError(f"grads has no entry for {key!r}\n\n{EXPECTED}") from None
