"""The scene: a collected graph, named, framed and checked for NaN/inf.

Both the still pictures (``draw``) and the stepper (``stepper``) show a :class:`Scene`, so
that a box is called, coloured and framed the same way in both.

>>> import tinygrad_mlp as tg
>>> x = tg.tensor([1.0, 2.0], requires_grad=True)
>>> scene = make_scene([(x * x).sum()], None, True)
>>> [node.ident for node in scene.nodes], scene.first
(['n0_param', 'n1_mul', 'n2_sum'], None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine.autograd import Function
from .graph import Node, collect, find_trouble, graph_object
from .labels import FIRST_MARK, slug
from .names import Clusters, assign_names_and_clusters, from_caller

# How the first NaN/inf is marked, by how it was found.
MARKS = {
    "anomaly": "NaN/inf made here (detect_anomaly)",
    "value": FIRST_MARK,
    "grad": f"{FIRST_MARK} (gradient)",
}


@dataclass
class Scene:
    """The boxes (inputs first), their module frames, and where NaN/inf first appeared:
    ``first`` (a Node or None) and ``first_how`` (``"value"``, ``"grad"`` or ``"anomaly"``,
    the last when ``detect_anomaly`` named the culprit)."""

    nodes: list[Node]
    clusters: Clusters
    first: Node | None
    first_how: str

    @property
    def mark(self) -> str:
        """The words that mark the first NaN/inf."""
        return MARKS[self.first_how]


def make_scene(roots: list[Any], params: Any, cluster_modules: bool,
               culprit: Function | None = None) -> Scene:
    """Collect the graph of ``roots`` (with ``culprit``, the operation ``detect_anomaly``
    stopped at, added and marked), name its boxes (from ``params`` and the caller's variables:
    ``names.from_caller``) and flag its NaN/inf."""
    if culprit is not None and all(graph_object(r) is not culprit for r in roots):
        roots = [*roots, culprit]
    nodes = collect(roots)
    names = from_caller(nodes, params)
    clusters = assign_names_and_clusters(nodes, names, cluster_modules)
    first, first_how = find_trouble(nodes)  # also flags every node's NaN/inf and norm
    if culprit is not None:
        first, first_how = next(n for n in nodes if n.obj is culprit), "anomaly"
    for node in nodes:
        text = slug(node.obj.name if node.is_op else node.name or node.kind)
        node.ident = f"n{node.index}_{text}" if text else f"n{node.index}"
    return Scene(nodes, clusters, first, first_how)
