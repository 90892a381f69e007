"""The graph as the engine recorded it: the data a picture needs, and no drawing.

:func:`collect` turns the graph behind one or more Tensors into a list of :class:`Node`
(one per operation and per leaf, inputs first), each with its value and gradient where the
engine still holds them. :func:`find_trouble` flags NaN/inf and gradient norms, and
:func:`choose_visible` picks the boxes of a long graph worth drawing. Both the still
pictures (``draw``) and the stepper (``stepper``) start here.

>>> import tinygrad_mlp as tg
>>> w = tg.tensor([1.0, -2.0], requires_grad=True)
>>> nodes = collect([(w * w).sum()])
>>> [n.obj.name if n.is_op else "leaf" for n in nodes]
['leaf', 'mul', 'sum']
"""

from __future__ import annotations

import re
import sys
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine.autograd import Function, inputs_of, topological_order
from ..engine.frames import PACKAGE
from ..engine.numerics import non_finite
from ..engine.tensor import Tensor


class Node:
    """One box: an operation (a Function) or a leaf Tensor, with what is known about it.

    ``value`` and ``grad`` are NumPy arrays or None; ``grad`` of an operation is the
    gradient that reached its output in the latest backward pass. ``tensor`` is the output
    Tensor of an operation when the graph still holds it (before a backward that frees it).
    """

    __slots__ = (
        "obj", "is_op", "index", "parents", "consumers", "value", "grad", "out_name", "tensor",
        "retained", "line", "ident", "kind", "name", "cluster", "bad_value", "bad_grad",
        "norm", "root",
    )

    def __init__(self, obj: Any, index: int) -> None:
        self.obj = obj
        self.is_op = isinstance(obj, Function)  # an operation, not a leaf Tensor
        self.index = index
        self.parents: list[Node] = []
        self.consumers: list[Node] = []
        self.value: np.ndarray | None = None
        self.grad: np.ndarray | None = None
        self.out_name: str | None = None
        self.tensor: Tensor | None = None
        self.retained = False  # the gradient shown is a retained .grad of a non-leaf
        self.line: str | None = None  # the user's line that made it (under detect_anomaly)
        self.ident = ""
        self.kind = "op"
        self.name: str | None = None
        self.cluster: str | None = None
        self.bad_value: str | None = None
        self.bad_grad: str | None = None
        self.norm: float | None = None
        self.root = False

    @property
    def freed(self) -> bool:
        """An operation whose values backward() has freed (its output value is gone)."""
        return self.is_op and bool(getattr(self.obj, "freed", False))


def graph_object(item: Any) -> Any:
    """The box an input stands for: its Function, or the leaf Tensor itself."""
    if isinstance(item, Tensor) and item.grad_fn is not None:
        return item.grad_fn
    return item


def walk(roots: Sequence[Any]) -> list[Any]:
    """Every box reachable from ``roots``: the operations (Functions) in the order the engine
    made them (the order their values were computed), each leaf Tensor just before the first
    operation that used it. The engine's own walk (``topological_order``) finds them, on a
    live graph and on one freed by backward alike."""
    # a node that was never recorded (an anomaly raised before) has no inputs and no place
    unrecorded = [r for r in roots if isinstance(r, Function) and not hasattr(r, "parents")]
    alone = {id(r) for r in unrecorded}
    entries = topological_order([r for r in roots if id(r) not in alone], leaves=True)
    leaves = [e for e in entries if e.grad_fn is None]
    order: list[Any] = [r for r in roots if isinstance(r, Tensor) and r.grad_fn is None]
    placed = {id(obj) for obj in order}
    for entry in entries:
        if entry.grad_fn is None:
            continue
        node = entry.grad_fn
        for item in inputs_of(node):
            if item.grad_fn is None and id(item) not in placed:
                placed.add(id(item))
                order.append(item)
        order.append(node)
    return order + [leaf for leaf in leaves if id(leaf) not in placed] + unrecorded


def collect(roots: Sequence[Any]) -> list[Node]:
    """The graph behind ``roots`` (Tensors, or Functions), as :class:`Node` s, inputs first,
    with each node's value and gradient where the engine still holds them.

    A target that an operation keeps as a setting rather than an input (the class indices
    of ``cross_entropy``) becomes a leaf of its own, drawn as the operation's last input:
    it is part of what the loss was computed from.
    """
    objects: list[Any] = []
    for obj in walk(roots):
        classes = getattr(obj, "classes", None) if isinstance(obj, Function) else None
        if classes is not None:
            objects.append(Tensor(classes))
        objects.append(obj)
    nodes = [Node(obj, i) for i, obj in enumerate(objects)]
    by_id = {id(node.obj): node for node in nodes}
    modules = _modules_by_file()
    for i, node in enumerate(nodes):
        if node.is_op:
            _link(node, by_id)
            node.line = users_line(getattr(node.obj, "where", None), modules)
            if getattr(node.obj, "classes", None) is not None:
                target = nodes[i - 1]
                node.parents.append(target)
                target.consumers.append(node)
        else:
            leaf = node.obj
            node.value = leaf._data
            node.name = leaf.name
            if leaf.grad is not None:
                node.grad = np.asarray(leaf.grad._data)
    for root in roots:
        node = by_id[id(graph_object(root))]
        node.root = True
        if isinstance(root, Tensor):
            _hold_output(node, root)
    return nodes


def _link(node: Node, by_id: dict[int, Node]) -> None:
    fn = node.obj
    for item in inputs_of(fn):
        parent = by_id[id(graph_object(item))]
        node.parents.append(parent)
        parent.consumers.append(node)
        if isinstance(item, Tensor) and parent.is_op:
            # a live graph still holds the intermediate values: use them
            _hold_output(parent, item)
    out_grad = getattr(fn, "out_grad", None)
    if out_grad is not None and node.grad is None:
        node.grad = np.asarray(out_grad._data if isinstance(out_grad, Tensor) else out_grad)


def _hold_output(node: Node, tensor: Tensor) -> None:
    """Note what the output Tensor of an operation tells: its value, name, retained grad."""
    node.tensor = tensor
    node.value = tensor._data
    node.out_name = node.out_name or tensor.name
    if tensor.grad is not None and tensor.grad_fn is not None:
        node.grad = np.asarray(tensor.grad._data)
        node.retained = True


def _modules_by_file() -> dict[str, Any]:
    return {getattr(m, "__file__", None): m for m in list(sys.modules.values())
            if getattr(m, "__file__", None)}


def users_line(where: str | None, modules: dict[str, Any] | None = None) -> str | None:
    """``where`` (the engine's ``file:line in function: code``) if it is the user's own line,
    else None: a line of this package (when the whole stack is the package's own, the engine
    names its innermost line outside the engine), or of the script that only starts this
    package's command line (the ``tinygrad-mlp`` console script). Decided by module name:
    the module whose file it is, and for that script, the module of the ``main`` it runs.

    >>> users_line("/home/me/train.py:12 in main: loss.backward()")
    '/home/me/train.py:12 in main: loss.backward()'
    >>> users_line(f"{__file__}:1 in walk: ...") is None  # this module's own line
    True
    """
    if not where:
        return None
    match = re.match(r"(.*?):\d+(?: in |$)", where)
    modules = _modules_by_file() if modules is None else modules
    module = modules.get(match.group(1)) if match else None
    if module is None:  # a notebook cell, a script not imported as a module: the user's
        return where
    name = getattr(getattr(module, "__spec__", None), "name", None) or module.__name__
    launched = getattr(getattr(module, "main", None), "__module__", "") or ""
    if name.partition(".")[0] == PACKAGE or (
            name == "__main__" and launched.partition(".")[0] == PACKAGE):
        return None
    return where


def norm(array: np.ndarray) -> float:
    """The 2-norm of all entries, in float64 and scaled by the largest entry, so that it is
    inf only when an entry is (a plain sum of squares overflows at norms near 1e154 in
    float64, 1e19 in float32, hiding the real size).

    >>> norm(np.array([3e200, 4e200])) / 1e200
    5.0
    """
    flat = np.asarray(array, dtype=np.float64).ravel()
    with np.errstate(all="ignore"):
        plain = float(np.linalg.norm(flat))
        if np.isfinite(plain) or not np.isfinite(flat).all():
            return plain
        largest = float(np.max(np.abs(flat)))
        return largest * float(np.linalg.norm(flat / largest))


def find_trouble(nodes: list[Node]) -> tuple[Node | None, str]:
    """Flag NaN/inf values and gradients and note gradient norms; return the first node
    where a NaN/inf appeared and how (``"value"`` or ``"grad"``).

    "First" follows the order in which the numbers were computed: values in the forward
    pass (inputs first), then gradients in the backward pass (outputs first), so for a
    gradient that went bad it is the box that received the first bad gradient.
    """
    first_value = None
    for node in nodes:
        node.bad_value = non_finite(node.value)
        if node.grad is not None:
            node.bad_grad = non_finite(node.grad)
            node.norm = norm(node.grad) if node.grad.dtype.kind in "fc" else None
        if node.bad_value and first_value is None:
            first_value = node
    if first_value is not None:
        return first_value, "value"
    return next((node for node in reversed(nodes) if node.bad_grad), None), "grad"


def choose_visible(nodes: list[Node], max_nodes: int | None, keep: list[Node]
                   ) -> set[int] | None:
    """Indices of the boxes to draw (None: all), keeping both ends of a long graph.

    Near the outputs: the boxes fewest steps away from an output (breadth first), so each
    kept operation comes with its nearby inputs. Near the inputs: the first boxes of the
    topological order, a set that holds the inputs of each of its members, so nothing kept
    there dangles. One placeholder box stands for the middle.
    """
    if max_nodes is None or len(nodes) <= max_nodes:
        return None
    visible = {n.index for n in keep}
    budget = max(max_nodes - 1 - len(visible), 0)  # one box is the placeholder
    near_outputs = (budget + 1) // 2
    near_inputs = budget - near_outputs

    queue = deque(n for n in nodes if n.root)
    queued = {n.index for n in queue}
    taken = 0
    while queue and taken < near_outputs:
        node = queue.popleft()
        if node.index not in visible:
            visible.add(node.index)
            taken += 1
        for parent in node.parents:
            if parent.index not in queued:
                queued.add(parent.index)
                queue.append(parent)

    taken = 0
    for node in nodes:
        if taken >= near_inputs:
            break
        if node.index not in visible:
            visible.add(node.index)
            taken += 1
    return visible
