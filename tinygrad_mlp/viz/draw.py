"""Drawing: the collected graph as a ``graphviz.Digraph``.

:func:`draw_graph` and :func:`draw_anomaly` collect the graph (``graph``), name its boxes
(``names``), label and colour them (``labels``) and hand the boxes, frames and arrows to
Graphviz. The Digraph they return is a :class:`Picture`: rendering without Graphviz's ``dot``
program raises :class:`DotNotFoundError`, which says how to install it.

>>> import tinygrad_mlp as tg
>>> x = tg.tensor(2.0, requires_grad=True)
>>> "mul" in draw_graph(x * 3.0).source
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import graphviz

from ..engine.autograd import AnomalyError, Function
from ..engine.tensor import Tensor
from .graph import Node, choose_visible
from .labels import (
    BAD_INK,
    FONT,
    FREED_VALUES,
    INK,
    LEGEND_TEXT,
    MUTED,
    STYLE,
    edge_roles,
    esc,
    node_label,
    number,
    row,
    slug,
    table,
    tooltip,
    wrap,
)
from .names import Clusters
from .scene import Scene, make_scene

PLACEHOLDER = "hidden"  # the id of the box that stands for the hidden middle of a graph


class DotNotFoundError(graphviz.ExecutableNotFound):
    """Graphviz's ``dot`` program is not installed; the message says how to install it.

    A subclass of ``graphviz.ExecutableNotFound`` (and so of ``RuntimeError``): code that
    already catches Graphviz's error catches this one too.
    """

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)


INSTALL_HINT = (
    "Install Graphviz (the program, not only the Python package) and open a new shell:\n"
    "  Debian/Ubuntu:  sudo apt-get install graphviz\n"
    "  macOS:          brew install graphviz\n"
    "  conda:          conda install graphviz\n"
    "  Windows:        choco install graphviz   (or: winget install graphviz)"
)
_NO_DOT = (
    "Graphviz's 'dot' program was not found on PATH, so the graph cannot be drawn as a "
    "picture (its DOT text is in .source, or save_graph(graph, 'graph.dot')).\n" + INSTALL_HINT
)


class Picture(graphviz.Digraph):
    """The ``graphviz.Digraph`` that :func:`draw_graph` returns.

    It is a Digraph in every way (Jupyter shows it, ``.render()`` writes files, ``.source``
    is the DOT text); where Graphviz's ``dot`` program is missing, rendering raises
    :class:`DotNotFoundError` saying how to install it instead of Graphviz's bare error.
    """

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise DotNotFoundError(_NO_DOT) from None

    def render(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise DotNotFoundError(_NO_DOT) from None



def _as_roots(root_or_roots: Any) -> list[Any]:
    items = list(root_or_roots) if isinstance(root_or_roots, (list, tuple)) else [root_or_roots]
    if not items:
        raise ValueError("draw_graph: give at least one Tensor to draw")
    for item in items:
        if not isinstance(item, (Tensor, Function)):
            raise TypeError(
                f"draw_graph: expected a Tensor (or a list of them), got {type(item).__name__}"
            )
    return items


def draw_graph(
    root_or_roots: Tensor | Sequence[Tensor],
    params: Any = None,
    show_values: bool = False,
    rankdir: str = "LR",
    cluster_modules: bool = True,
    max_nodes: int | None = 200,
    grad_norm_threshold: float | None = 1e3,
    title: str | None = None,
    legend: bool = True,
) -> graphviz.Digraph:
    """Draw the graph that computed ``root_or_roots`` as a ``graphviz.Digraph``.

    One box per operation and per leaf Tensor, arrows from inputs to the operations that used
    them. Works before backward, after it (the engine keeps the graph's shape when it frees
    the values) and with ``retain_graph=True``.

    Args:
        root_or_roots: the output Tensor (e.g. the loss), or a list of outputs.
        params: a Module or a dict name -> Tensor, to name parameters (``0.weight``) and
            modules; without it leaves are named by ``Tensor.name`` when set.
        show_values: print the data and gradient of scalars and tiny tensors (up to 6
            entries), micrograd style.
        rankdir: ``"LR"`` (left to right) or ``"TB"`` (top to bottom).
        cluster_modules: frame the boxes of each module (each Linear, each activation).
        max_nodes: draw at most this many boxes; the middle of a longer graph is replaced by
            one box saying how many were hidden. None draws everything.
        grad_norm_threshold: gradient norms above it are marked as exploding; None: never.
        title: a line printed under the picture.
        legend: print what the colours mean under the picture.

    Returns:
        A ``graphviz.Digraph``: shown inline in Jupyter; ``.source`` is the DOT text;
        ``.render()`` or :func:`save_graph` write SVG/PNG/PDF (these need Graphviz's ``dot``).

    >>> import tinygrad_mlp as tg
    >>> x = tg.tensor(2.0, requires_grad=True)
    >>> y = x * 3.0 + 1.0
    >>> dot = draw_graph(y, show_values=True)
    >>> dot.source.count("->")
    4
    """
    options = _Options(params, show_values, rankdir, cluster_modules, max_nodes,
                       grad_norm_threshold, title, legend)
    return _draw(_as_roots(root_or_roots), options)


@dataclass
class _Options:
    """The settings of one picture (see :func:`draw_graph`)."""

    params: Any = None
    show_values: bool = False
    rankdir: str = "LR"
    cluster_modules: bool = True
    max_nodes: int | None = 200
    grad_norm_threshold: float | None = 1e3
    title: str | None = None
    legend: bool = True

    def check(self) -> None:
        if self.rankdir not in ("LR", "TB", "RL", "BT"):
            raise ValueError("draw_graph: rankdir must be 'LR' or 'TB' (or 'RL', 'BT'), got "
                             f"{self.rankdir!r}")
        if self.max_nodes is not None and self.max_nodes < 1:
            raise ValueError("draw_graph: max_nodes must be at least 1 or None, got "
                             f"{self.max_nodes}")


def _draw(roots: list[Any], options: _Options, culprit: Function | None = None,
          culprit_message: str | None = None) -> graphviz.Digraph:
    options.check()
    scene = make_scene(roots, options.params, options.cluster_modules, culprit)
    keep = [n for n in scene.nodes if n.root]
    if scene.first is not None and not scene.first.root:
        keep.append(scene.first)
    visible = choose_visible(scene.nodes, options.max_nodes, keep)

    dot = Picture(name="computation_graph")
    dot.attr(rankdir=options.rankdir, fontname=FONT, nodesep="0.22", ranksep="0.35",
             bgcolor="white", pad="0.2")
    dot.attr("node", fontname=FONT, shape="box", margin="0.1,0.04", penwidth="1.2")
    dot.attr("edge", color="#94a3b8", arrowsize="0.7", fontname=FONT, fontsize="9",
             fontcolor=MUTED)
    used_kinds: set[str] = set()
    statements = _statements(scene, visible, options, culprit_message, used_kinds)
    _add_boxes(dot, statements, scene.clusters)
    if visible is not None:
        _add_placeholder(dot, scene.nodes, visible, options.max_nodes)
    _add_edges(dot, scene.nodes, visible)
    freed = options.show_values and any(n.freed and n.value is None for n in scene.nodes)
    _add_caption(dot, options.title, options.legend, used_kinds, options.grad_norm_threshold,
                 FREED_VALUES if freed else None)
    return dot


def _statements(scene: Scene, visible: set[int] | None, options: _Options,
                culprit_message: str | None, used_kinds: set[str]
                ) -> dict[str | None, list[tuple[str, dict[str, str]]]]:
    """Each drawn box's identifier and attributes, by the cluster it sits in."""
    statements: dict[str | None, list[tuple[str, dict[str, str]]]] = {}
    threshold = options.grad_norm_threshold
    for node in scene.nodes:
        if visible is not None and node.index not in visible:
            continue
        is_first = node is scene.first
        attrs = _node_attrs(node, threshold, is_first, used_kinds)
        if is_first and scene.first_how == "anomaly" and not (node.bad_value or node.bad_grad):
            attrs.update(fillcolor=STYLE["nan"][0], color=STYLE["nan"][1])
            used_kinds.add("nan")
        attrs["label"] = node_label(node, options.show_values, threshold,
                                    scene.mark if is_first else None,
                                    culprit_message if is_first else None)
        attrs["tooltip"] = tooltip(node)
        if is_first and scene.first_how == "value" and node.freed:
            attrs["tooltip"] += (
                "\nfirst place (in the order the numbers were computed) where NaN/inf is "
                "known; op outputs are not kept after backward, so an earlier op may have "
                "made it: run under tg.detect_anomaly() to stop at the op that did"
            )
        statements.setdefault(node.cluster, []).append((node.ident, attrs))
    return statements


def _add_boxes(dot: graphviz.Digraph,
               statements: dict[str | None, list[tuple[str, dict[str, str]]]],
               clusters: Clusters) -> None:
    """The boxes (``statements``: cluster key -> (ident, attributes)), each module's in its
    frame, frames nested as the modules are."""
    used = [key for key in statements if key is not None]
    number = {key: i for i, key in enumerate(used)}  # keeps names unique if two slugs agree
    children: dict[str | None, list[str]] = {}
    for key in used:
        children.setdefault(clusters.parent(key, set(used)), []).append(key)

    def emit(graph: graphviz.Digraph, key: str | None) -> None:
        # recursion only as deep as modules are nested in one another
        for ident, attrs in statements.get(key, ()):
            graph.node(ident, **attrs)
        for child in children.get(key, ()):
            with graph.subgraph(name=f"cluster_{number[child]}_{slug(child) or 'model'}") as sub:
                # nohtml: a module name such as "<lambda>" must not be read as an HTML label
                label = graphviz.nohtml(clusters.labels[child])
                sub.attr(label=label, style="rounded,filled",
                         fillcolor="#f8fafc", color="#cbd5e1", fontcolor="#334155",
                         fontsize="11", labeljust="l", margin="10")
                emit(sub, child)

    emit(dot, None)


def _node_attrs(node: Node, threshold: float | None, is_first: bool,
                used: set[str]) -> dict[str, str]:
    if node.bad_value or node.bad_grad:
        look = "nan"
    elif threshold is not None and node.norm is not None and node.norm > threshold:
        look = "large"
    else:
        look = node.kind
    used.add(node.kind)
    used.add(look)
    fill, border = STYLE[look]
    if node.is_op:
        style = "rounded,filled"
    elif node.kind == "const":
        style = "dashed,filled"
    else:
        style = "filled"
    attrs = {"style": style, "fillcolor": fill, "color": border}
    if node.root:
        attrs["peripheries"] = "2"
    if is_first:
        used.add("first")
        attrs["penwidth"] = "3"
        attrs["color"] = STYLE["nan"][1]
    return attrs


def _add_edges(dot: graphviz.Digraph, nodes: list[Node], visible: set[int] | None) -> None:
    """The arrows; with some boxes hidden, one dashed arrow into and out of the placeholder
    for each drawn box that feeds, or is fed by, a hidden one."""
    into_placeholder: set[int] = set()
    out_of_placeholder: set[int] = set()
    for node in nodes:
        if not node.is_op:
            continue
        roles = edge_roles(node)
        for i, parent in enumerate(node.parents):
            seen_parent = visible is None or parent.index in visible
            seen_node = visible is None or node.index in visible
            if seen_parent and seen_node:
                dot.edge(parent.ident, node.ident, label=roles[i] if roles else None)
            elif seen_node and node.index not in out_of_placeholder:
                out_of_placeholder.add(node.index)
                dot.edge(PLACEHOLDER, node.ident, style="dashed")
            elif seen_parent and parent.index not in into_placeholder:
                into_placeholder.add(parent.index)
                dot.edge(parent.ident, PLACEHOLDER, style="dashed")



def _add_placeholder(dot: graphviz.Digraph, nodes: list[Node], visible: set[int],
                     max_nodes: int | None) -> None:
    hidden = [n for n in nodes if n.index not in visible]
    counts: dict[str, int] = {}
    for node in hidden:
        key = node.obj.name if node.is_op else "leaf"
        counts[key] = counts.get(key, 0) + 1
    summary = ", ".join(f"{k} ×{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    bad = sum(1 for n in hidden if n.bad_value or n.bad_grad)
    rows = [row(f"⋯ {len(hidden)} nodes hidden ⋯", size=12, color=INK, bold=True)]
    for line in wrap(summary, 40)[:4]:
        rows.append(row(esc(line), size=9))
    if bad:
        rows.append(row(f"{bad} of them with NaN/inf", size=10, color=BAD_INK, bold=True))
    rows.append(row(f"(max_nodes={max_nodes}; pass max_nodes=None to see all)", size=8))
    fill, border = STYLE["nan"] if bad else ("#f3f4f6", "#9ca3af")
    dot.node(PLACEHOLDER, label=table(rows), style="dashed,rounded,filled", fillcolor=fill,
             color=border, tooltip=f"{len(hidden)} nodes hidden: {summary}")


def _add_caption(dot: graphviz.Digraph, title: str | None, legend: bool, used: set[str],
                 threshold: float | None, note: str | None = None) -> None:
    """The title, a note and a legend of the colours used, as the graph's own label."""
    rows = []
    if title:
        rows.append(f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="12" COLOR="{INK}"><B>'
                    f"{esc(title)}</B></FONT></TD></TR>")
    if note:
        rows += [f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="{MUTED}">{esc(line)}'
                 "</FONT></TD></TR>" for line in wrap(note, 100)]
    if legend:
        cells = []
        for kind in (*STYLE, "first"):
            if kind not in used:
                continue
            fill, border = STYLE["nan"] if kind == "first" else STYLE[kind]
            text = LEGEND_TEXT[kind]
            if kind == "large" and threshold is not None:
                text += f" (norm &gt; {esc(number(threshold))})"
            style = "rounded,dashed" if kind == "const" else "rounded"
            width = 3 if kind == "first" else 1
            cells.append(
                f'<TD BGCOLOR="{fill}" COLOR="{border}" BORDER="{width}" STYLE="{style}" '
                f'CELLPADDING="3"><FONT POINT-SIZE="9" COLOR="{INK}">{text}</FONT></TD>'
            )
        if cells:
            rows.append('<TR><TD ALIGN="LEFT"><TABLE BORDER="0" CELLSPACING="6"><TR>'
                        + "".join(cells) + "</TR></TABLE></TD></TR>")
    if rows:
        dot.attr(label='<<TABLE BORDER="0" CELLSPACING="2">' + "".join(rows) + "</TABLE>>",
                 labelloc="b", labeljust="l")


def draw_anomaly(
    error: AnomalyError,
    roots: Tensor | Sequence[Tensor] | None = None,
    **options: Any,
) -> graphviz.Digraph:
    """Draw the graph around the operation that made a NaN/inf, with that operation marked.

    ``error`` is the :class:`~tinygrad_mlp.AnomalyError` raised under ``tg.detect_anomaly()``;
    its ``.node`` is the culprit. Without ``roots`` the picture is the culprit and everything
    it was computed from (a forward anomaly leaves no output to draw from); pass the loss as
    ``roots`` to draw the whole graph of a backward anomaly. Other options go to
    :func:`draw_graph`.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> x = tg.tensor([0.0, 1.0], requires_grad=True)
    >>> try:
    ...     with tg.detect_anomaly(), np.errstate(divide="ignore"):
    ...         y = (x * 0.0).log()
    ... except tg.AnomalyError as e:
    ...     dot = draw_anomaly(e)
    >>> "made here" in dot.source
    True
    """
    node = getattr(error, "node", None)
    if not isinstance(node, Function):
        raise ValueError("draw_anomaly: this error does not name the operation that failed")
    unknown = set(options) - {f.name for f in fields(_Options)}
    if unknown:
        raise TypeError(f"draw_anomaly: unexpected options {sorted(unknown)}")
    message = str(error).splitlines()[0] if str(error) else None
    items = [node] if roots is None else _as_roots(roots)
    return _draw(items, _Options(**options), culprit=node, culprit_message=message)


