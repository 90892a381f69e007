"""Dense layers read off the graph of a free-form loss, to explain a wrong gradient.

``check_gradients`` knows nothing of the network behind ``loss_fn``; run on Tensors, the
graph says it: a weight is a parameter that a matrix product takes (as it is, or
transposed), its layer's input is the product's other operand, the bias is the parameter
added to the product, and the activation is what the next layer takes (the last one: the
first value after it that one of the table's activations makes of it). Examples as rows
(``X @ W + b``) or as columns (``W @ X + b``) are both read, and turned into the column
layout of :mod:`.dense`.

>>> import tinygrad_mlp as tg
>>> W = tg.tensor(np.ones((3, 2)), requires_grad=True)
>>> b = tg.tensor(np.zeros(2), requires_grad=True)
>>> loss = ((tg.tensor(np.ones((4, 3))) @ W + b).tanh() ** 2).sum()
>>> [(layer.weight, layer.bias, layer.rows) for layer in read_layers(loss, {"W": W, "b": b})]
[('W', 'b', True)]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..engine.backward import inputs_of, topological_order
from ..engine.tensor import Tensor
from .dense import Dense, Layer, find_layer_activation


@dataclass
class GraphLayer:
    """One dense layer found in the graph: the names of its weight and bias, whether the
    examples are rows, whether the weight is used transposed, and its Tensors.

    >>> GraphLayer("W", None, rows=True, transposed=False, A_prev=None, Z=None).flips_weight
    True
    """

    weight: str
    bias: str | None
    rows: bool
    transposed: bool
    A_prev: Tensor
    Z: Tensor
    A: Tensor | None = None

    def to_columns(self, values: np.ndarray) -> np.ndarray:
        """A value of this layer (examples as rows or columns) in the column layout."""
        return values.T if self.rows else values

    @property
    def flips_weight(self) -> bool:
        """Whether the weight as you hold it is the transpose of the column layout's."""
        return self.rows != self.transposed


def _weight_of(operand: Tensor, leaves: dict[str, Tensor]) -> tuple[str, bool] | None:
    for name, leaf in leaves.items():
        if operand is leaf and leaf.ndim == 2:
            return name, False
        node = operand.grad_fn
        if node is not None and node.name == "transpose" and inputs_of(operand)[0] is leaf:
            return name, True
    return None


def read_layers(loss: Tensor, leaves: dict[str, Tensor]) -> list[GraphLayer] | None:
    """The chain of dense layers behind ``loss`` (None when the graph is not one).

    >>> import tinygrad_mlp as tg
    >>> W = tg.tensor(np.ones((2, 3)), requires_grad=True)
    >>> read_layers((W @ tg.tensor(np.ones((3, 4)))).sum(), {"W": W})[0].rows
    False
    """
    order = topological_order([loss])
    layers: list[GraphLayer] = []
    for t in order:
        if t.grad_fn.name != "matmul":
            continue
        a, b = inputs_of(t)
        found = _weight_of(a, leaves)
        rows = found is None
        found = found or _weight_of(b, leaves)
        if found is None:
            continue
        A_prev = a if rows else b
        Z, bias = _bias_after(order, t, leaves)
        layers.append(GraphLayer(found[0], bias, rows, found[1], A_prev, Z))
    if not layers:
        return None
    for layer, following in itertools.pairwise(layers):
        layer.A = following.A_prev
    layers[-1].A = _activation_after(order, layers[-1])
    return layers


def _bias_after(order: list[Tensor], product: Tensor, leaves: dict[str, Tensor]
                ) -> tuple[Tensor, str | None]:
    for t in order:
        if t.grad_fn.name == "add" and any(p is product for p in inputs_of(t)):
            for name, leaf in leaves.items():
                if any(p is leaf for p in inputs_of(t)):
                    return t, name
    return product, None


def _activation_after(order: list[Tensor], layer: GraphLayer) -> Tensor:
    """The first value after ``Z`` that a table activation makes of it (``Z`` itself when
    none does: a loss that takes the logits)."""
    start = next(i for i, t in enumerate(order) if t is layer.Z)
    Z = layer.to_columns(layer.Z.numpy())
    for t in order[start + 1:]:
        if t.shape == layer.Z.shape:
            spec, _ = find_layer_activation(Z, layer.to_columns(t.numpy()))
            if spec is not None:
                return t
    return layer.Z


def to_dense(layers: list[GraphLayer], leaves: dict[str, Tensor]) -> Dense:
    """The layers in the column layout of :mod:`.dense` (deltas as ``dJ/dZ``: a sum).

    >>> import tinygrad_mlp as tg
    >>> W = tg.tensor(np.ones((3, 2)), requires_grad=True)
    >>> layers = read_layers((tg.tensor(np.ones((4, 3))) @ W).sum(), {"W": W})
    >>> to_dense(layers, {"W": W}).layers[0].W.shape
    (2, 3)
    """
    out = []
    for layer in layers:
        W = leaves[layer.weight].numpy()
        W = W.T if layer.flips_weight else W
        n = W.shape[0]
        b = np.zeros((n, 1)) if layer.bias is None else leaves[layer.bias].numpy().reshape(n, 1)
        A = layer.A if layer.A is not None else layer.Z
        out.append(Layer(np.array(W, dtype=np.float64), np.array(b, dtype=np.float64),
                         layer.to_columns(layer.A_prev.numpy()), layer.to_columns(layer.Z.numpy()),
                         layer.to_columns(A.numpy())))
    m = out[0].A_prev.shape[1]
    return Dense(out, m, mean=False)


def to_yours(layer: GraphLayer, kind: str, shape: tuple[int, ...]
             ) -> Callable[[np.ndarray], np.ndarray]:
    """Turns a column-layout gradient of this layer's weight (``kind`` "dW") or bias ("db")
    into your layout (``shape``); anything of another size is left as it is.

    >>> import tinygrad_mlp as tg
    >>> W = tg.tensor(np.ones((3, 2)), requires_grad=True)
    >>> layer = read_layers((tg.tensor(np.ones((4, 3))) @ W).sum(), {"W": W})[0]
    >>> to_yours(layer, "dW", (3, 2))(np.zeros((2, 3))).shape
    (3, 2)
    """
    def transform(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        if kind == "dW" and layer.flips_weight and values.ndim == 2 and values.T.shape == shape:
            return values.T
        if kind == "db" and values.size == int(np.prod(shape)) and values.ndim == 2 \
                and values.shape[1] == 1:
            return values.reshape(shape)
        return values

    return transform
