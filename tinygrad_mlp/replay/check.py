"""Checking a replay against the eager step: snapshots of what a step changes, and the graph.

A recording runs the eager step, then the replay from the same starting point, and compares
the two bit for bit (:class:`Snapshot`). Before that, :func:`graph_problem` checks that the
graph the eager step built is made of exactly the nodes the replay mirrors, in order.

>>> same(np.array([np.nan]), np.array([np.nan])), same(np.array(0.0), np.array(-0.0))
(True, False)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from ..optim import Optimizer
from .support import Analysis


def _describe(obj: Any) -> str:
    return type(obj).__name__


def _copy_state(state: dict[str, Any] | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in state.items()}


def same(a: Any, b: Any) -> bool:
    """Bit for bit: same type, shape, dtype and bytes (so NaN equals NaN and -0 is not 0)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
            and a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
        )
    return type(a) is type(b) and a == b


class Snapshot:
    """Copies of the parameters' values and ``.grad`` and of the optimizer's state."""

    def __init__(self, params: list[Tensor], optimizer: Optimizer) -> None:
        self.params = params
        self.optimizer = optimizer
        self.data = [p._data.copy() for p in params]
        self.grads = [None if p._grad is None else p._grad._data.copy() for p in params]
        self.states = [_copy_state(optimizer.state.get(p)) for p in params]

    def restore(self) -> None:
        """Put everything back, writing into the arrays that are there now."""
        state = self.optimizer.state
        for p, data, grad, saved in zip(self.params, self.data, self.grads, self.states):
            if p._data.shape == data.shape and p._data.dtype == data.dtype:
                np.copyto(p._data, data)
            else:
                p._data = data.copy()
            p._grad = None if grad is None else Tensor._make(grad.copy(), False, None)
            if saved is None:
                state.pop(p, None)
                continue
            current = state[p]
            for key in [k for k in current if k not in saved]:
                del current[key]
            for key, value in saved.items():
                old = current.get(key)
                if (
                    isinstance(value, np.ndarray) and isinstance(old, np.ndarray)
                    and old.shape == value.shape and old.dtype == value.dtype
                ):
                    np.copyto(old, value)
                else:
                    current[key] = value.copy() if isinstance(value, np.ndarray) else value

    def difference(self, other: Snapshot, names: dict[int, str]) -> str | None:
        """Where ``other`` differs from this snapshot (None: nowhere)."""
        for i, p in enumerate(self.params):
            name = names.get(id(p), f"parameter {i}")
            if not same(self.data[i], other.data[i]):
                return f"the value of {name}"
            if not same(self.grads[i], other.grads[i]):
                return f"the .grad of {name}"
            mine, theirs = self.states[i], other.states[i]
            if (mine is None) != (theirs is None) or (
                mine is not None and (
                    mine.keys() != theirs.keys()
                    or any(not same(mine[k], theirs[k]) for k in mine)
                )
            ):
                return f"the optimizer state of {name}"
        return None


def graph_problem(loss: Any, analysis: Analysis) -> str | None:
    """Walk the graph back from the loss (before backward frees it): None if it is made of
    exactly the nodes the replay mirrors, else what differs."""
    node = getattr(loss, "grad_fn", None)
    if type(node) is not analysis.loss_op:
        return f"the loss node is {_describe(node)}, not {analysis.loss_op.__name__}"
    if loss._data.shape != () or loss._data.dtype != analysis.dtype:
        return f"the loss has shape {loss._data.shape} and dtype {loss._data.dtype}"
    parents = node.parents
    if len(parents) != analysis.loss_form.inputs or any(p._requires_grad for p in parents[1:]):
        return "the loss node has other inputs than the model's output and a constant target"
    value = parents[0]
    for layer in reversed(analysis.layers):
        if not layer.recorded:
            break
        node = value.grad_fn
        if type(node) is not layer.op:
            return (f"the graph has {_describe(node)} where the {_describe(layer.module)} "
                    f"layer's {layer.op.__name__} was expected")
        expected = [p for p in (layer.weight, layer.bias) if p is not None]
        if len(node.parents) != 1 + len(expected) or any(
            a is not b for a, b in zip(node.parents[1:], expected)
        ):
            return f"a {layer.op.__name__} node does not have the inputs of its layer"
        value = node.parents[0]
    if value.grad_fn is not None:
        return "the graph goes on before the first layer"
    return None
