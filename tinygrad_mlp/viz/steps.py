"""The forward and backward pass of a graph as a list of steps, with the engine's numbers.

:func:`run_pass` makes the engine run the backward pass of a live graph without touching any
``.grad`` (``tg.grad`` with ``retain_graph=True``), so that every operation holds the gradient
of its output; :func:`sends_of` then asks each operation's own backward rule what it sends to
each input. :func:`build` turns a :class:`~.scene.Scene` into the JSON-able data of a stepper
page: per box its value and gradient (:func:`display`: the numbers of small tensors, the shape,
norm, range and a small heat-map of larger ones), its local rule, what it sends to each input,
the sum when it feeds several consumers, and the steps (forward node by node, then backward).
Every number is computed here, by the engine, and written by the engine's ``format_number``:
the page only shows them.

>>> display(np.array([[1.0, -2.0]]))["entries"]
[['1', '-2']]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.autograd import grad, no_grad, unbroadcast
from ..engine.numerics import non_finite
from ..engine.tensor import Tensor
from .graph import Node, norm
from .labels import FREED_VALUES, KIND_TITLE, ROLES, edge_roles, number, shape_text, where_short
from .rules import BROADCAST_NOTE, rule_of
from .scene import Scene

SMALL = 16  # tensors up to this many entries show every number
HEAT = 16  # a heat-map has at most this many rows and columns


def run_pass(root: Tensor, leaves: list[Tensor]) -> dict[int, np.ndarray]:
    """The engine's backward pass of ``root`` (one element) on a live graph: the gradient of
    each leaf in ``leaves`` by id, with ``.grad`` of every Tensor left as it was and the graph
    kept. Each operation's ``out_grad`` then holds the gradient that reached its output."""
    if not leaves:
        return {}
    found = grad(root, leaves, retain_graph=True, allow_unused=True)
    return {id(leaf): g.numpy() for leaf, g in zip(leaves, found) if g is not None}


def sends_of(node: Node) -> list[np.ndarray | None]:
    """What the operation's own backward rule sends to each input (summed back to the input's
    shape, as the engine does), from the gradient at its output; None for inputs that take no
    gradient. Needs a live graph (its inputs still Tensors)."""
    fn = node.obj
    parents = fn.parents
    if node.grad is None or node.value is None or not all(isinstance(p, Tensor)
                                                          for p in parents):
        return [None] * len(node.parents)
    with no_grad(), np.errstate(all="ignore"):
        grads = fn.backward(node.grad, node.value, *[p.data for p in parents])
    sent: list[np.ndarray | None] = []
    for parent, g in zip(parents, grads):
        if g is None or not parent.requires_grad:
            sent.append(None)
            continue
        g = np.asarray(g)
        if g.shape != parent.shape:
            g = unbroadcast(g, parent.shape)
        sent.append(g.astype(parent.dtype, copy=False))
    sent += [None] * (len(node.parents) - len(sent))  # a drawn target takes no gradient
    return sent


def display(array: np.ndarray | None) -> dict[str, Any] | None:
    """How the page shows an array: ``text`` for its box; ``entries`` (rows of numbers) when
    it is small, else ``norm``, ``min``, ``max`` and a ``heat`` map; ``bad`` names NaN/inf."""
    if array is None:
        return None
    array = np.asarray(array)
    shown: dict[str, Any] = {"shape": shape_text(array), "bad": non_finite(array)}
    if array.dtype.kind not in "fcbiu":
        shown["text"] = shown["shape"]
        return shown
    shown["text"] = f"‖·‖ {number(norm(array))}"
    if array.size <= SMALL:
        rows = array.reshape(1, -1) if array.ndim < 2 else array.reshape(-1, array.shape[-1])
        shown["entries"] = [[_entry(v) for v in row] for row in rows.tolist()]
        flat = [e for row in shown["entries"] for e in row]
        if array.size <= 3:
            shown["text"] = flat[0] if array.size == 1 else "[" + ", ".join(flat) + "]"
        return shown
    with np.errstate(all="ignore"):
        finite = array[np.isfinite(array)] if array.dtype.kind in "fc" else array.ravel()
        shown["norm"] = number(norm(array))
        shown["min"] = number(finite.min()) if finite.size else "-"
        shown["max"] = number(finite.max()) if finite.size else "-"
    shown["heat"] = _heat(array)
    return shown


def _entry(v: Any) -> str:
    return number(v) if isinstance(v, float) else str(v)


def _heat(array: np.ndarray) -> dict[str, Any]:
    """At most HEAT x HEAT cells, each the mean of its block, scaled to -100..100 by the
    largest |mean|; a block holding NaN or inf is the string naming it."""
    grid = array.reshape(1, -1) if array.ndim < 2 else array.reshape(-1, array.shape[-1])
    grid = grid.astype(np.float64)
    row_starts = _starts(grid.shape[0])
    col_starts = _starts(grid.shape[1])
    with np.errstate(all="ignore"):
        sums = np.add.reduceat(np.add.reduceat(grid, row_starts, axis=0), col_starts, axis=1)
        sizes = np.outer(np.diff([*row_starts, grid.shape[0]]),
                         np.diff([*col_starts, grid.shape[1]]))
        means = sums / sizes
        finite = np.isfinite(means)
        scale = float(np.abs(means[finite]).max()) if finite.any() else 0.0
        scaled = np.rint(100 * means / scale) if scale else np.zeros_like(means)
    cells = [[int(scaled[i, j]) if finite[i, j] else _bad_block(grid, row_starts, col_starts, i, j)
              for j in range(means.shape[1])] for i in range(means.shape[0])]
    return {"rows": len(row_starts), "cols": len(col_starts), "cells": cells,
            "scale": number(scale)}


def _starts(size: int) -> list[int]:
    """Where each of at most HEAT nearly equal blocks of ``size`` entries begins."""
    blocks = min(HEAT, size)
    return [i * size // blocks for i in range(blocks)]


def _bad_block(grid: np.ndarray, rows: list[int], cols: list[int], i: int, j: int) -> str:
    r1 = rows[i + 1] if i + 1 < len(rows) else grid.shape[0]
    c1 = cols[j + 1] if j + 1 < len(cols) else grid.shape[1]
    return non_finite(grid[rows[i]:r1, cols[j]:c1]) or "NaN"


def _order(nodes: list[Node]) -> list[Node]:
    """The operations in the order the engine made them (a topological order)."""
    ops = [n for n in nodes if n.is_op]
    return sorted(ops, key=lambda n: getattr(n.obj, "made", n.index))


def steps_of(scene: Scene) -> tuple[list[dict[str, Any]], dict[int, int], dict[int, int]]:
    """The steps: the start, each operation forward, then backward from the output (each
    operation, and each leaf that takes a gradient once all of its consumers have sent it),
    then the end. Returns them with each node's forward and backward step by index."""
    ops = _order(scene.nodes)
    steps: list[dict[str, Any]] = [{"phase": "start", "node": None}]
    forward = {n.index: 0 for n in scene.nodes if not n.is_op}
    for op in ops:
        forward[op.index] = len(steps)
        steps.append({"phase": "forward", "node": op.ident})
    backward: dict[int, int] = {}
    waiting = {n.index: len([c for c in n.consumers if c.grad is not None])
               for n in scene.nodes if not n.is_op and n.grad is not None}
    for op in reversed(ops):
        if op.grad is None:
            continue
        backward[op.index] = len(steps)
        steps.append({"phase": "backward", "node": op.ident})
        for parent in dict.fromkeys(op.parents):
            if parent.index in waiting:
                waiting[parent.index] -= 1
                if waiting[parent.index] == 0:
                    backward[parent.index] = len(steps)
                    steps.append({"phase": "backward", "node": parent.ident})
    for node in scene.nodes:  # a root leaf, or leaves reached only from outside the scene
        if node.index in waiting and node.index not in backward:
            backward[node.index] = len(steps)
            steps.append({"phase": "backward", "node": node.ident})
    steps.append({"phase": "done", "node": None})
    return steps, forward, backward


def _node_data(node: Node, scene: Scene, sends: dict[int, list[np.ndarray | None]]
               ) -> dict[str, Any]:
    """One box of the page: what it is and every number it shows."""
    if node.is_op:
        reduction = getattr(node.obj, "reduction", None)
        rule = rule_of(node.obj.name, len(node.parents), reduction)
        title = node.obj.name
        formula = ROLES.get(title, ((), {}))[1].get(len(node.parents))
    else:
        rule, formula = None, None
        title = node.name or KIND_TITLE[node.kind]
    mine = sends.get(node.index, [])
    return {
        "id": node.ident, "op": node.is_op, "title": title, "kind": node.kind,
        "sub": shape_text(node.obj), "formula": formula, "cluster": node.cluster,
        "root": node.root, "first": scene.mark if node is scene.first else None,
        "outName": node.out_name, "retained": node.retained,
        "value": display(node.value), "grad": display(node.grad),
        "where": where_short(node.line) if node.line else None,
        "inputs": [p.ident for p in node.parents],
        "roles": input_names(node) if node.is_op else [],
        "rule": None if rule is None else {"forward": rule.forward, "inputs": list(rule.inputs)},
        "sends": [display(g) for g in mine],
        "incoming": _incoming(node, sends),
    }


def input_names(node: Node) -> list[str]:
    """What the rule calls each input of an operation: ``x``, ``W``, ``b`` for ``linear``,
    ``a`` and ``b`` for two inputs, ``x`` for one."""
    count = len(node.parents)
    names = ROLES.get(node.obj.name, ((), {}))[0]
    if len(names) >= count:
        return list(names[:count])
    if count <= 2:
        return ["x"] if count == 1 else ["a", "b"]
    return [f"input {i}" for i in range(count)]


def _incoming(node: Node, sends: dict[int, list[np.ndarray | None]]) -> list[dict[str, Any]]:
    """Each consumer's contribution to this node's gradient, when it has several consumers
    (the engine adds them: the sum shown is the engine's gradient)."""
    parts = []
    for consumer in dict.fromkeys(node.consumers):  # one used twice is listed twice
        for i, parent in enumerate(consumer.parents):
            sent = sends.get(consumer.index, [])
            if parent is node and i < len(sent) and sent[i] is not None:
                parts.append({"from": consumer.ident, "role": input_names(consumer)[i],
                              "grad": display(sent[i])})
    return parts if len(parts) > 1 else []


def build(scene: Scene, live: bool, title: str | None) -> dict[str, Any]:
    """The page's data for ``scene`` (``live``: the graph still holds its values, so what
    each operation sends to its inputs can be asked of its rule)."""
    sends = {n.index: sends_of(n) for n in scene.nodes if n.is_op and live}
    steps, forward, backward = steps_of(scene)
    nodes = []
    for node in scene.nodes:
        data = _node_data(node, scene, sends)
        data["fwd"], data["bwd"] = forward.get(node.index, 0), backward.get(node.index)
        nodes.append(data)
    used = {n.cluster for n in scene.nodes if n.cluster is not None}
    clusters = [{"key": key, "label": scene.clusters.labels[key],
                 "parent": scene.clusters.parent(key, used)} for key in sorted(used)]
    edges = [{"from": p.ident, "to": n.ident, "role": role}
             for n in scene.nodes if n.is_op
             for p, role in zip(n.parents, edge_roles(n) or [None] * len(n.parents))]
    note = None if live else FREED_VALUES + "."
    return {"title": title, "note": note, "broadcast": BROADCAST_NOTE,
            "nodes": nodes, "edges": edges, "clusters": clusters, "steps": steps}
