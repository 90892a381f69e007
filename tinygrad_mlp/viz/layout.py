"""Where each box of a stepper page goes: Graphviz's ``dot`` lays the graph out when it is
installed, with the module frames as clusters; without it the page lays it out itself.

:func:`dot_layout` sends ``dot`` the boxes (at the size the page draws them), the frames and
the arrows, and reads back from its JSON output each box's centre, each frame's rectangle and
each arrow's curve, in page coordinates (y downwards). It returns None when ``dot`` is
missing or fails, and the page then uses its own layered layout.

>>> import tinygrad_mlp as tg
>>> from tinygrad_mlp.viz.scene import make_scene
>>> x = tg.tensor(1.0, requires_grad=True)
>>> layout = dot_layout(make_scene([x * 2.0], None, True), "LR")
>>> layout is None or sorted(layout["nodes"]) == ['n0_param', 'n1_const', 'n2_mul']
True
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import graphviz

from .scene import Scene

BOX_WIDTH = 168  # points (= CSS pixels at scale 1): the size the page draws a box
BOX_HEIGHT = 70
MAX_BOXES = 3000  # beyond this dot takes long: the page lays out the graph itself
TIMEOUT = 30  # seconds


def dot_layout(scene: Scene, rankdir: str) -> dict[str, Any] | None:
    """Positions from ``dot`` (see the module docstring), or None without it."""
    if len(scene.nodes) > MAX_BOXES:
        return None
    program = shutil.which("dot")
    if program is None:
        return None
    graph, frames = _layout_graph(scene, rankdir)
    try:
        done = subprocess.run([program, "-Tjson"], input=graph.source.encode("utf-8"),
                              capture_output=True, timeout=TIMEOUT, check=True)
        layout = _read(json.loads(done.stdout))
    except (subprocess.SubprocessError, OSError, ValueError, KeyError):
        return None  # a dot that fails or answers oddly: the page lays the graph out itself
    layout["frames"] = {frames[name]: box for name, box in layout["frames"].items()
                        if name in frames}
    return layout


def _layout_graph(scene: Scene, rankdir: str) -> tuple[graphviz.Digraph, dict[str, str]]:
    """The boxes, frames and arrows as DOT, and the frames' cluster names -> their keys."""
    graph = graphviz.Digraph()
    graph.attr(rankdir=rankdir, nodesep="0.25", ranksep="0.45")
    graph.attr("node", shape="box", fixedsize="true", width=str(BOX_WIDTH / 72),
               height=str(BOX_HEIGHT / 72), label="")
    used = {n.cluster for n in scene.nodes if n.cluster is not None}
    children: dict[str | None, list[str]] = {}
    for key in sorted(used):
        children.setdefault(scene.clusters.parent(key, used), []).append(key)
    members: dict[str | None, list[str]] = {}
    for node in scene.nodes:
        members.setdefault(node.cluster, []).append(node.ident)
    number = {key: i for i, key in enumerate(sorted(used))}

    def emit(target: graphviz.Digraph, key: str | None) -> None:
        for ident in members.get(key, ()):
            target.node(ident)
        for child in children.get(key, ()):
            with target.subgraph(name=f"cluster_{number[child]}") as sub:
                # a label of the frame's own size keeps room for the page's frame title
                sub.attr(label=graphviz.nohtml(scene.clusters.labels[child]), fontsize="12",
                         labeljust="l", margin="12")
                emit(sub, child)

    emit(graph, None)
    for node in scene.nodes:
        for parent in node.parents:
            graph.edge(parent.ident, node.ident)
    return graph, {f"cluster_{i}": key for key, i in number.items()}


def _read(data: dict[str, Any]) -> dict[str, Any]:
    """Boxes, frames and curves out of ``dot -Tjson``, flipped so that y grows downwards."""
    height = float(data["bb"].split(",")[3])
    width = float(data["bb"].split(",")[2])
    nodes: dict[str, list[float]] = {}
    clusters: dict[str, list[float]] = {}
    names: dict[int, str] = {}
    for obj in data.get("objects", ()):
        if "pos" in obj:
            x, y = (float(v) for v in obj["pos"].split(","))
            nodes[obj["name"]] = [round(x, 1), round(height - y, 1)]
            names[obj["_gvid"]] = obj["name"]
        elif "bb" in obj and obj["name"].startswith("cluster_"):
            x0, y0, x1, y1 = (float(v) for v in obj["bb"].split(","))
            clusters[obj["name"]] = [x0, height - y1, x1, height - y0]
    edges = []
    for edge in data.get("edges", ()):
        if "pos" in edge:
            edges.append({"from": names[edge["tail"]], "to": names[edge["head"]],
                          "path": _path(edge["pos"], height)})
    return {"width": width, "height": height, "nodes": nodes, "frames": clusters,
            "edges": edges}


def _path(spline: str, height: float) -> str:
    """An SVG path from dot's ``e,x,y p0 p1 p2 p3 ...``: the cubic pieces, then a straight
    line to the arrow's tip."""
    end = None
    points = []
    for part in spline.split():
        if part.startswith("e,"):
            _, x, y = part.split(",")
            end = (float(x), height - float(y))
        elif not part.startswith("s,"):
            x, y = part.split(",")
            points.append((float(x), height - float(y)))
    if not points:
        return ""
    text = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for i in range(1, len(points) - 2, 3):
        (ax, ay), (bx, by), (cx, cy) = points[i:i + 3]
        text.append(f"C{ax:.1f},{ay:.1f} {bx:.1f},{by:.1f} {cx:.1f},{cy:.1f}")
    if end is not None:
        text.append(f"L{end[0]:.1f},{end[1]:.1f}")
    return " ".join(text)
