"""Pictures of the computation graph, drawn with Graphviz.

``draw_graph(loss)`` returns a ``graphviz.Digraph`` with one box per operation and per leaf,
arrows in the direction the data flowed (inputs -> operation -> consumer), shapes and dtypes
on every box, parameter names (``0.weight``) where known and, after ``backward()``, the norm of
every gradient. NaN and inf stand out in red, with the first place where one appeared marked;
exploding gradients stand out in orange. In Jupyter the Digraph shows itself; elsewhere use
``save_graph(digraph, "graph.svg")`` (or ``digraph.render()``). The DOT text is always in
``digraph.source``, even where Graphviz's ``dot`` program is not installed.

>>> import tinygrad_mlp as tg
>>> w = tg.tensor([1.0, -2.0], requires_grad=True)
>>> loss = (w * w).sum()
>>> loss.backward()
>>> dot = draw_graph(loss)
>>> "mul" in dot.source and "sum" in dot.source
True

How the picture reads:

* Rounded white boxes are operations: name, output shape and dtype, and ``grad norm`` (the
  norm of the gradient that reached the operation's output in the last backward).
* Blue boxes are parameters (leaves with ``requires_grad=True``), yellow ones input data,
  dashed ones constants (like the ``2`` of ``x * 2``). A double border marks the output(s).
* With ``cluster_modules=True`` the nodes of each ``nn`` module (each ``Linear``, each
  activation) sit in a labelled frame.

Which operation a box belongs to is recorded by the engine; what is *not* recorded is every
intermediate value: the values of operations are known only while their output Tensor is
still held by the graph (before a backward that frees it) and for the output itself.
"""

from __future__ import annotations

import html
import inspect
import os
import re
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ..engine.autograd import AnomalyError, Function
from ..engine.tensor import Tensor

__all__ = ["DotNotFoundError", "draw_anomaly", "draw_graph", "save_graph"]

# -- look ---------------------------------------------------------------------------------------

_FONT = "Helvetica,Arial,sans-serif"
_INK = "#1f2937"
_MUTED = "#6b7280"
_GRAD_INK = "#7c3aed"
_BAD_INK = "#b91c1c"

# (fill, border) per kind of box; the legend is built from the same table.
_STYLE = {
    "op": ("#ffffff", "#6b7280"),
    "param": ("#dbeafe", "#2563eb"),
    "grad_input": ("#ede9fe", "#7c3aed"),
    "input": ("#fef3c7", "#d97706"),
    "const": ("#ffffff", "#9ca3af"),
    "nan": ("#fee2e2", "#dc2626"),
    "large": ("#ffedd5", "#ea580c"),
}
_LEGEND_TEXT = {
    "op": "operation",
    "param": "parameter",
    "grad_input": "input (requires grad)",
    "input": "input data",
    "const": "constant",
    "nan": "NaN / inf",
    "large": "large gradient",
    "first": "first NaN/inf",
}

# Operations whose inputs play different roles: the arrows into them are labelled, and the
# formula is printed under the name, so that ``a - b`` is not confused with ``b - a``.
_ROLES: dict[str, tuple[tuple[str, ...], dict[int, str]]] = {
    "linear": (("x", "W", "b"), {2: "x @ Wᵀ", 3: "x @ Wᵀ + b"}),
    "matmul": (("a", "b"), {2: "a @ b"}),
    "sub": (("a", "b"), {2: "a − b"}),
    "div": (("a", "b"), {2: "a / b"}),
    "pow": (("a", "b"), {2: "a ** b"}),
    "where": (("a", "b"), {2: "where(cond, a, b)"}),
    "cross_entropy": (("logits", "target"), {}),
    "mse_loss": (("input", "target"), {2: "(input − target)²"}),
    "binary_cross_entropy": (("p", "target"), {}),
}
# Inputs of these are interchangeable; anything else with several inputs gets numbered arrows.
_SYMMETRIC = frozenset({"add", "mul", "maximum", "minimum"})

_PLACEHOLDER = "hidden"  # the id of the box that stands for the hidden middle of a graph
_MAX_SHOWN = 6  # show_values prints the entries of tensors up to this size
_FIRST_MARK = "first NaN/inf"


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


# -- the graph as the engine recorded it --------------------------------------------------------


class _Node:
    """One box: an operation (a Function) or a leaf Tensor, with what is known about it."""

    __slots__ = (
        "obj", "index", "parents", "consumers", "value", "grad", "out_name",
        "ident", "kind", "name", "cluster", "bad_value", "bad_grad", "norm", "root",
    )

    def __init__(self, obj: Any, index: int) -> None:
        self.obj = obj
        self.index = index
        self.parents: list[_Node] = []
        self.consumers: list[_Node] = []
        self.value: np.ndarray | None = None
        self.grad: np.ndarray | None = None
        self.out_name: str | None = None
        self.ident = ""
        self.kind = "op"
        self.name: str | None = None
        self.cluster: str | None = None
        self.bad_value: str | None = None
        self.bad_grad: str | None = None
        self.norm: float | None = None
        self.root = False

    @property
    def is_op(self) -> bool:
        """An operation (a Function), not a leaf Tensor."""
        return isinstance(self.obj, Function)


def _graph_object(item: Any) -> Any:
    """The box an input stands for: its Function, or the leaf Tensor itself."""
    if isinstance(item, Tensor) and item.grad_fn is not None:
        return item.grad_fn
    return item


def _inputs_of(obj: Any) -> Sequence[Any]:
    # ``parents`` is unset on a Function that was never recorded (an anomaly raised before)
    return getattr(obj, "parents", ()) if isinstance(obj, Function) else ()


def _collect(roots: Sequence[Any]) -> list[_Node]:
    """Every box reachable from ``roots``, each after all of its inputs (inputs first).

    Works on a live graph (``parents`` are Tensors) and on one freed by backward (``parents``
    are leaf Tensors and Function nodes), with an explicit stack so depth does not matter.
    """
    nodes: list[_Node] = []
    by_id: dict[int, _Node] = {}
    seen: set[int] = set()
    for root in roots:
        start = _graph_object(root)
        if id(start) in seen:
            continue
        seen.add(id(start))
        stack = [(start, iter(_inputs_of(start)))]
        while stack:
            obj, inputs = stack[-1]
            for item in inputs:
                parent = _graph_object(item)
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(_inputs_of(parent))))
                    break
            else:
                stack.pop()
                node = _Node(obj, len(nodes))
                by_id[id(obj)] = node
                nodes.append(node)

    for node in nodes:
        if not node.is_op:
            leaf = node.obj
            node.value = leaf._data
            node.name = leaf.name
            if leaf.grad is not None:
                node.grad = np.asarray(leaf.grad._data)
            continue
        fn = node.obj
        for item in _inputs_of(fn):
            parent = by_id[id(_graph_object(item))]
            node.parents.append(parent)
            parent.consumers.append(node)
            if isinstance(item, Tensor) and parent.is_op:
                # a live graph still holds the intermediate values: use them
                parent.value = item._data
                parent.out_name = parent.out_name or item.name
        out_grad = getattr(fn, "out_grad", None)
        if out_grad is not None:
            node.grad = np.asarray(out_grad._data if isinstance(out_grad, Tensor) else out_grad)

    for root in roots:
        node = by_id[id(_graph_object(root))]
        node.root = True
        if isinstance(root, Tensor):
            node.value = root._data
            node.out_name = node.out_name or root.name
    return nodes


# -- names and modules ----------------------------------------------------------------------------


class _Names:
    """Parameter names and module names from ``params=`` (a Module or a dict name -> Tensor)."""

    def __init__(self, params: Any) -> None:
        self.of_tensor: dict[int, str] = {}
        self.module_of_name: dict[str, Any] = {}
        self.name_of_module: dict[int, str] = {}
        if params is None:
            return
        if hasattr(params, "named_parameters"):
            for name, tensor in params.named_parameters():
                self.of_tensor.setdefault(id(tensor), name)
            if hasattr(params, "named_modules"):
                for name, module in params.named_modules():
                    self.module_of_name.setdefault(name, module)
                    self.name_of_module.setdefault(id(module), name)
        elif isinstance(params, Mapping):
            for name, tensor in params.items():
                if not isinstance(tensor, Tensor):
                    raise TypeError(
                        f"draw_graph: params[{name!r}] is a {type(tensor).__name__}, "
                        "expected a Tensor"
                    )
                self.of_tensor.setdefault(id(tensor), str(name))
        else:
            raise TypeError(
                "draw_graph: params must be a Module (with named_parameters()) or a dict "
                f"name -> Tensor, got {type(params).__name__}"
            )


def _describe(module: Any) -> str:
    """``Linear(2→16)``, ``ReLU``, ...: what a module is, in a few characters."""
    kind = type(module).__name__
    weight = getattr(module, "weight", None)
    if isinstance(weight, Tensor) and weight.ndim == 2:
        return f"{kind}({weight.shape[1]}→{weight.shape[0]})"
    extra = getattr(module, "extra_repr", None)
    if callable(extra):
        try:
            text = str(extra())
        except Exception:  # a repr helper must never break a picture
            text = ""
        if text and len(text) <= 24:
            return f"{kind}({text})"
    return kind


def _named_parameters(module: Any) -> list[tuple[str, Any]]:
    method = getattr(module, "named_parameters", None)
    if method is None:
        return []
    try:
        return list(method())
    except Exception:  # a half-built module must not break a picture
        return []


class _Clusters:
    """Cluster keys, labels and nesting.

    A key is a module's dotted name (``0``, ``layers.2``, ``""`` for the model itself) when
    it is known from ``params=``, else ``Linear#1``-style for a module seen only through the
    engine's ``module`` tags (such keys do not nest).
    """

    def __init__(self, names: _Names) -> None:
        self.names = names
        self.labels: dict[str, str] = {}
        self.dotted: set[str] = set()
        self.key_of_module: dict[int, str] = {}
        self.local_names: dict[int, tuple[str, str]] = {}  # id(param) -> (key, local name)
        self.without_params: set[str] = set()

    def of_module(self, module: Any) -> str:
        key = self.key_of_module.get(id(module))
        if key is not None:
            return key
        params = _named_parameters(module)
        name = self.names.name_of_module.get(id(module))
        if name is None:
            # params= was a dict: find the module's place through its parameters' names
            for local, tensor in params:
                full = self.names.of_tensor.get(id(tensor))
                if full == local:
                    name = ""
                elif full and full.endswith("." + local):
                    name = full[: -len(local) - 1]
                if name is not None:
                    break
        if name is None:
            key = f"{type(module).__name__}#{len(self.key_of_module) + 1}"
            self.labels[key] = _describe(module)
        else:
            key = name
            self.dotted.add(key)
            self.labels[key] = f"{key}: {_describe(module)}" if key else _describe(module)
        self.key_of_module[id(module)] = key
        if not params:
            self.without_params.add(key)
        for local, tensor in params:
            self.local_names.setdefault(id(tensor), (key, local))
        return key

    def of_prefix(self, prefix: str) -> str:
        if prefix not in self.labels:
            module = self.names.module_of_name.get(prefix)
            if module is not None:
                return self.of_module(module)
            self.labels[prefix] = prefix
            self.dotted.add(prefix)
        return prefix

    def within(self, inner: str | None, outer: str) -> bool:
        """Whether cluster ``inner`` is ``outer`` or nested in it."""
        if inner is None:
            return False
        if inner == outer:
            return True
        if inner not in self.dotted or outer not in self.dotted:
            return False
        return outer == "" or inner.startswith(outer + ".")

    def parent(self, key: str, used: set[str]) -> str | None:
        """The nearest used cluster that ``key`` sits in, None at the top."""
        if key not in self.dotted or key == "":
            return None
        parts = key.split(".")
        for n in range(len(parts) - 1, 0, -1):
            candidate = ".".join(parts[:n])
            if candidate in used:
                return candidate
        return "" if "" in used else None


def _assign_names_and_clusters(nodes: list[_Node], names: _Names, use_clusters: bool
                               ) -> _Clusters:
    """Name the leaves, decide each box's kind (parameter, input, constant) and cluster."""
    clusters = _Clusters(names)
    tagged = False
    for node in nodes:
        if node.is_op:
            module = getattr(node.obj, "module", None)  # the slot may be unset
            if module is not None:
                # the engine tags the innermost module whose forward made the node
                node.cluster = clusters.of_module(module)
                tagged = True

    for node in nodes:
        if node.is_op:
            continue
        leaf = node.obj
        full = names.of_tensor.get(id(leaf))
        local = clusters.local_names.get(id(leaf))
        if full is not None:
            node.name = full
            prefix = full.rpartition(".")[0]
            if prefix or "" in names.module_of_name:
                node.cluster = clusters.of_prefix(prefix)
        elif local is not None:
            node.cluster, local_name = local
            node.name = node.name or local_name
        if leaf._requires_grad:
            known = full is not None or local is not None
            node.kind = "param" if known or not names.of_tensor else "grad_input"
        elif leaf._data.size == 1 and node.name is None:
            node.kind = "const"
        else:
            node.kind = "input"

    if not use_clusters:
        for node in nodes:
            node.cluster = None
        return clusters
    if not tagged:
        # Without the engine's tags, an operation that uses a module's parameter directly
        # belongs to that module (x @ W.T -> the Linear that owns W).
        for node in nodes:
            if node.is_op:
                for parent in node.parents:
                    if not parent.is_op and parent.cluster is not None:
                        node.cluster = parent.cluster
                        break
    _pull_into_clusters(nodes, clusters)
    return clusters


def _pull_into_clusters(nodes: list[_Node], clusters: _Clusters) -> None:
    """Put the untagged inner operations of a module into its cluster.

    Only the output of a module's forward is tagged; an operation before it (a ``transpose``
    of the weight, a ``matmul`` before the bias ``add``) joins the module's cluster when every
    consumer is in that cluster and one of its inputs is in it too (or in a module nested in
    it). Done in two sweeps (outputs first for the consumers, inputs first for the inputs), so
    an untagged activation of the layer before, which feeds the module from outside, stays
    outside. A module without parameters (a loss, an activation made of several operations)
    has no inputs of its own to tell by, so there the consumers decide alone.
    """
    candidate: dict[int, str] = {}
    for node in reversed(nodes):
        if not node.is_op or node.cluster is not None or not node.consumers:
            continue
        keys = {c.cluster if c.cluster is not None else candidate.get(c.index)
                for c in node.consumers}
        if len(keys) == 1:
            (key,) = keys
            if key is not None:
                candidate[node.index] = key
    for node in nodes:
        key = candidate.get(node.index)
        if key is not None and (
            key in clusters.without_params
            or any(clusters.within(p.cluster, key) for p in node.parents)
        ):
            node.cluster = key


# -- what to warn about ---------------------------------------------------------------------------


def _non_finite(array: np.ndarray | None) -> str | None:
    """'NaN', 'inf' or 'NaN and inf' for a float array holding them, else None."""
    if array is None or array.dtype.kind not in "fc" or np.isfinite(array).all():
        return None
    has_nan = bool(np.isnan(array).any())
    has_inf = bool(np.isinf(array).any())
    return "NaN and inf" if has_nan and has_inf else ("NaN" if has_nan else "inf")


def _norm(array: np.ndarray) -> float:
    # float64: a float32 sum of squares overflows at norms near 1e19, hiding the real size
    return float(np.linalg.norm(np.asarray(array, dtype=np.float64).ravel()))


def _find_trouble(nodes: list[_Node]) -> tuple[_Node | None, str]:
    """Flag NaN/inf values and gradients; return the first node where one appeared.

    "First" follows the order in which the numbers were computed: values in the forward
    pass (inputs first), then gradients in the backward pass (outputs first), so for a
    gradient that went bad it is the box that received the first bad gradient.
    """
    first_value = None
    for node in nodes:
        node.bad_value = _non_finite(node.value)
        if node.grad is not None:
            node.bad_grad = _non_finite(node.grad)
            node.norm = _norm(node.grad) if node.grad.dtype.kind in "fc" else None
        if node.bad_value and first_value is None:
            first_value = node
    if first_value is not None:
        return first_value, "value"
    return next((node for node in reversed(nodes) if node.bad_grad), None), "grad"


# -- large graphs ---------------------------------------------------------------------------------


def _choose_visible(
    nodes: list[_Node], max_nodes: int | None, keep: list[_Node]
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


# -- labels ---------------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _shape_text(obj: Any) -> str:
    """``(2, 16) float32``, ``scalar float64``: a box's output, as far as it is known."""
    shape, dtype = getattr(obj, "shape", None), getattr(obj, "dtype", None)
    if shape is None:
        return str(dtype) if dtype is not None else "?"
    shape_str = "scalar" if shape == () else str(tuple(int(n) for n in shape))
    return f"{shape_str} {dtype}" if dtype is not None else shape_str


def _entries(array: np.ndarray) -> str | None:
    """The entries of a tiny array (``0.5``, ``[1, -2, 3]``), None for bigger ones."""
    if array.size > _MAX_SHOWN:
        return None
    if array.ndim == 0 or array.size == 1:
        item = array.reshape(()).item()
        return _fmt(item) if isinstance(item, float) else str(item)
    # three digits per entry keep a box of six entries narrow enough to read
    items = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in array.ravel().tolist()]
    return "[" + ", ".join(items) + "]"


def _row(text: str, size: int = 10, color: str = _MUTED, bold: bool = False) -> str:
    body = f"<B>{text}</B>" if bold else text
    return f'<TR><TD><FONT POINT-SIZE="{size}" COLOR="{color}">{body}</FONT></TD></TR>'


def _table(rows: list[str]) -> str:
    """An HTML-like label: ``rows`` (see :func:`_row`) stacked in a borderless table."""
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            + "".join(rows) + "</TABLE>>")


def _where_short(where: str) -> str:
    """``train.py:12`` from the engine's ``/path/train.py:12 in main: code``."""
    match = re.match(r"(.*?):(\d+)(?: in |$)", where)
    if not match:
        return where[:40]
    return f"{os.path.basename(match.group(1))}:{match.group(2)}"


def _node_label(node: _Node, show_values: bool, threshold: float | None, mark: str | None,
                message: str | None) -> str:
    obj = node.obj
    rows = []
    if node.is_op:
        title = f"<B>{_esc(obj.name)}</B>"
        if node.out_name:
            title += f' <FONT COLOR="{_MUTED}">→ <I>{_esc(node.out_name)}</I></FONT>'
        rows.append(_row(title, size=12, color=_INK))
        formula = _ROLES.get(obj.name, ((), {}))[1].get(len(node.parents))
        if formula:
            rows.append(_row(_esc(formula), size=9))
        rows.append(_row(_esc(_shape_text(obj))))
    else:
        leaf = obj
        if node.kind == "const":
            title = f"const {_entries(leaf._data)}"
        else:
            title = node.name or {
                "param": "parameter", "grad_input": "input (requires grad)", "input": "input",
            }[node.kind]
        rows.append(_row(_esc(title), size=12, color=_INK, bold=node.kind != "const"))
        rows.append(_row(_esc(_shape_text(leaf))))

    grad_shown = False
    if show_values:
        cells = []
        if node.value is not None and node.kind != "const":
            data = _entries(node.value)
            if data is not None:
                cells.append(f"data {_esc(data)}")
        if node.grad is not None:
            grad = _entries(node.grad)
            if grad is not None:
                cells.append(f'<FONT COLOR="{_GRAD_INK}">grad {_esc(grad)}</FONT>')
                grad_shown = True
        if cells:
            inner = "".join(f'<TD><FONT POINT-SIZE="10">{c}</FONT></TD>' for c in cells)
            rows.append(
                '<TR><TD><TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="2" '
                f'COLOR="#cbd5e1"><TR>{inner}</TR></TABLE></TD></TR>'
            )
    if node.norm is not None and not grad_shown and not node.bad_grad:
        rows.append(_row(f"grad norm {_esc(_fmt(node.norm))}", color=_GRAD_INK))
    if node.bad_value:
        rows.append(_row(f"value has {node.bad_value}", color=_BAD_INK, bold=True))
    if node.bad_grad:
        rows.append(_row(f"grad has {node.bad_grad}", color=_BAD_INK, bold=True))
    elif threshold is not None and node.norm is not None and node.norm > threshold:
        rows.append(_row(f"▲ large grad (&gt; {_esc(_fmt(threshold))})", color="#c2410c",
                         bold=True))
    if mark:
        rows.append(_row(f"⚠ {_esc(mark)}", size=11, color=_BAD_INK, bold=True))
    if message:
        for line in _wrap(message, 48):
            rows.append(_row(_esc(line), size=9, color=_BAD_INK))
    where = getattr(obj, "where", None) if node.is_op else None
    if where:
        rows.append(_row(_esc(_where_short(where)), size=8))
    return _table(rows)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split():
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            lines.append(line)
    return lines


def _tooltip(node: _Node) -> str:
    """Hover text (SVG): the full story of the box, with exact numbers."""
    obj = node.obj
    if node.is_op:
        parts = [f"{obj.name}: {_shape_text(obj)}"]
        if node.out_name:
            parts[0] += f" (output named {node.out_name!r})"
        where = getattr(obj, "where", None)
        parts.append(f"created at {where}" if where else
                     "creation line: unknown (build the graph under tg.detect_anomaly())")
        module = getattr(obj, "module", None)
        if module is not None:
            parts.append(f"output of {type(module).__name__}")
    else:
        described = {
            "param": "parameter", "grad_input": "input that requires grad",
            "input": "input data", "const": "constant",
        }[node.kind]
        parts = [f"{node.name + ': ' if node.name else ''}{described}, "
                 f"{_shape_text(obj)}"]
    if node.norm is not None:
        parts.append(f"gradient norm = {node.norm!r}")
    if node.bad_value:
        parts.append(f"value holds {node.bad_value}")
    if node.bad_grad:
        parts.append(f"gradient holds {node.bad_grad}")
    # DOT reads backslashes in attribute strings as escapes (\n, \l): keep Windows paths intact
    return "\n".join(parts).replace("\\", "\\\\")


# -- the picture ----------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")[:40]


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
    return _draw(
        _as_roots(root_or_roots), params, show_values, rankdir, cluster_modules, max_nodes,
        grad_norm_threshold, title, legend, None, None,
    )


def _draw(
    roots: list[Any], params: Any, show_values: bool, rankdir: str, cluster_modules: bool,
    max_nodes: int | None, grad_norm_threshold: float | None, title: str | None,
    legend: bool, culprit: Function | None, culprit_message: str | None,
) -> graphviz.Digraph:
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR' or 'TB' (or 'RL', 'BT'), got "
                         f"{rankdir!r}")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1 or None, got {max_nodes}")
    if culprit is not None and all(_graph_object(r) is not culprit for r in roots):
        roots = [*roots, culprit]

    nodes = _collect(roots)
    clusters = _assign_names_and_clusters(nodes, _Names(params), cluster_modules)
    first, first_how = _find_trouble(nodes)  # also flags every node's NaN/inf and norm
    if culprit is not None:
        first, first_how = next(n for n in nodes if n.obj is culprit), "anomaly"
    mark = {
        "anomaly": "NaN/inf made here (detect_anomaly)",
        "value": _FIRST_MARK,
        "grad": f"{_FIRST_MARK} (gradient)",
    }[first_how]

    for node in nodes:
        slug = _slug(node.obj.name if node.is_op else node.name or node.kind)
        node.ident = f"n{node.index}_{slug}" if slug else f"n{node.index}"

    keep = [n for n in nodes if n.root]
    if first is not None and not first.root:
        keep.append(first)
    visible = _choose_visible(nodes, max_nodes, keep)

    dot = Picture(name="computation_graph")
    dot.attr(rankdir=rankdir, fontname=_FONT, nodesep="0.22", ranksep="0.35",
             bgcolor="white", pad="0.2")
    dot.attr("node", fontname=_FONT, shape="box", margin="0.1,0.04", penwidth="1.2")
    dot.attr("edge", color="#94a3b8", arrowsize="0.7", fontname=_FONT, fontsize="9",
             fontcolor=_MUTED)

    used_kinds: set[str] = set()
    statements: dict[str | None, list[tuple[str, dict[str, str]]]] = {}
    for node in nodes:
        if visible is not None and node.index not in visible:
            continue
        is_first = node is first
        attrs = _node_attrs(node, grad_norm_threshold, is_first, used_kinds)
        if is_first and first_how == "anomaly" and not (node.bad_value or node.bad_grad):
            attrs.update(fillcolor=_STYLE["nan"][0], color=_STYLE["nan"][1])
            used_kinds.add("nan")
        attrs["label"] = _node_label(node, show_values, grad_norm_threshold,
                                     mark if is_first else None,
                                     culprit_message if is_first else None)
        attrs["tooltip"] = _tooltip(node)
        if is_first and first_how == "value" and getattr(node.obj, "freed", False):
            attrs["tooltip"] += (
                "\nfirst place (in the order the numbers were computed) where NaN/inf is "
                "known; op outputs are not kept after backward, so an earlier op may have "
                "made it: run under tg.detect_anomaly() to stop at the op that did"
            )
        statements.setdefault(node.cluster, []).append((node.ident, attrs))
    _add_boxes(dot, statements, clusters)

    if visible is not None:
        _add_placeholder(dot, nodes, visible, max_nodes)
    _add_edges(dot, nodes, visible)

    _add_caption(dot, title, legend, used_kinds, grad_norm_threshold)
    return dot


def _add_boxes(dot: graphviz.Digraph,
               statements: dict[str | None, list[tuple[str, dict[str, str]]]],
               clusters: _Clusters) -> None:
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
            with graph.subgraph(name=f"cluster_{number[child]}_{_slug(child) or 'model'}") as sub:
                # nohtml: a module name such as "<lambda>" must not be read as an HTML label
                label = graphviz.nohtml(clusters.labels[child])
                sub.attr(label=label, style="rounded,filled",
                         fillcolor="#f8fafc", color="#cbd5e1", fontcolor="#334155",
                         fontsize="11", labeljust="l", margin="10")
                emit(sub, child)

    emit(dot, None)


def _node_attrs(node: _Node, threshold: float | None, is_first: bool,
                used: set[str]) -> dict[str, str]:
    if node.bad_value or node.bad_grad:
        look = "nan"
    elif threshold is not None and node.norm is not None and node.norm > threshold:
        look = "large"
    else:
        look = node.kind
    used.add(node.kind)
    used.add(look)
    fill, border = _STYLE[look]
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
        attrs["color"] = _STYLE["nan"][1]
    return attrs


def _add_edges(dot: graphviz.Digraph, nodes: list[_Node], visible: set[int] | None) -> None:
    """The arrows; with some boxes hidden, one dashed arrow into and out of the placeholder
    for each drawn box that feeds, or is fed by, a hidden one."""
    into_placeholder: set[int] = set()
    out_of_placeholder: set[int] = set()
    for node in nodes:
        if not node.is_op:
            continue
        roles = _edge_roles(node)
        for i, parent in enumerate(node.parents):
            seen_parent = visible is None or parent.index in visible
            seen_node = visible is None or node.index in visible
            if seen_parent and seen_node:
                dot.edge(parent.ident, node.ident, label=roles[i] if roles else None)
            elif seen_node and node.index not in out_of_placeholder:
                out_of_placeholder.add(node.index)
                dot.edge(_PLACEHOLDER, node.ident, style="dashed")
            elif seen_parent and parent.index not in into_placeholder:
                into_placeholder.add(parent.index)
                dot.edge(parent.ident, _PLACEHOLDER, style="dashed")


def _edge_roles(node: _Node) -> list[str] | None:
    count = len(node.parents)
    name = node.obj.name
    if count < 2 or name in _SYMMETRIC:
        return None
    roles = _ROLES.get(name, ((), {}))[0]
    if len(roles) >= count:
        return list(roles[:count])
    return [str(i) for i in range(count)]


def _add_placeholder(dot: graphviz.Digraph, nodes: list[_Node], visible: set[int],
                     max_nodes: int | None) -> None:
    hidden = [n for n in nodes if n.index not in visible]
    counts: dict[str, int] = {}
    for node in hidden:
        key = node.obj.name if node.is_op else "leaf"
        counts[key] = counts.get(key, 0) + 1
    summary = ", ".join(f"{k} ×{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    bad = sum(1 for n in hidden if n.bad_value or n.bad_grad)
    rows = [_row(f"⋯ {len(hidden)} nodes hidden ⋯", size=12, color=_INK, bold=True)]
    for line in _wrap(summary, 40)[:4]:
        rows.append(_row(_esc(line), size=9))
    if bad:
        rows.append(_row(f"{bad} of them with NaN/inf", size=10, color=_BAD_INK, bold=True))
    rows.append(_row(f"(max_nodes={max_nodes}; pass max_nodes=None to see all)", size=8))
    fill, border = _STYLE["nan"] if bad else ("#f3f4f6", "#9ca3af")
    dot.node(_PLACEHOLDER, label=_table(rows), style="dashed,rounded,filled", fillcolor=fill,
             color=border, tooltip=f"{len(hidden)} nodes hidden: {summary}")


def _add_caption(dot: graphviz.Digraph, title: str | None, legend: bool, used: set[str],
                 threshold: float | None) -> None:
    """The title and a legend of the colours used, as the graph's own label (not boxes)."""
    rows = []
    if title:
        rows.append(f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="12" COLOR="{_INK}"><B>'
                    f"{_esc(title)}</B></FONT></TD></TR>")
    if legend:
        cells = []
        for kind in (*_STYLE, "first"):
            if kind not in used:
                continue
            fill, border = _STYLE["nan"] if kind == "first" else _STYLE[kind]
            text = _LEGEND_TEXT[kind]
            if kind == "large" and threshold is not None:
                text += f" (norm &gt; {_esc(_fmt(threshold))})"
            style = "rounded,dashed" if kind == "const" else "rounded"
            width = 3 if kind == "first" else 1
            cells.append(
                f'<TD BGCOLOR="{fill}" COLOR="{border}" BORDER="{width}" STYLE="{style}" '
                f'CELLPADDING="3"><FONT POINT-SIZE="9" COLOR="{_INK}">{text}</FONT></TD>'
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
    settings = {
        name: p.default for name, p in inspect.signature(draw_graph).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    unknown = set(options) - set(settings)
    if unknown:
        raise TypeError(f"draw_anomaly: unexpected options {sorted(unknown)}")
    settings.update(options)
    message = str(error).splitlines()[0] if str(error) else None
    items = [node] if roots is None else _as_roots(roots)
    return _draw(items, **settings, culprit=node, culprit_message=message)


# -- files ----------------------------------------------------------------------------------------

_TEXT_FORMATS = ("dot", "gv")
_RASTER_FORMATS = ("png", "jpg", "jpeg", "gif", "bmp", "webp")
_RASTER_DPI = 144


def save_graph(
    digraph_or_root: graphviz.Digraph | Tensor | Sequence[Tensor],
    path: str | os.PathLike,
    format: str | None = None,
    **options: Any,
) -> Path:
    """Write the picture to ``path`` and return the path written.

    ``format`` defaults to the file's suffix (``.svg``, ``.png``, ``.pdf``; ``svg`` when there
    is none, added to the name). A Tensor (or a list) is drawn first with
    :func:`draw_graph` and ``options``. ``.dot``/``.gv`` write the DOT text, which needs no
    Graphviz program.

    Where Graphviz's ``dot`` program is missing, the DOT text is written next to the picture
    (``graph.svg`` -> ``graph.dot``) and :class:`DotNotFoundError` is raised, naming that file
    and how to install ``dot``: an error rather than a warning, since the picture asked for
    does not exist.

    >>> import tinygrad_mlp as tg, tempfile, os
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> out = save_graph(w * 2, os.path.join(tempfile.mkdtemp(), "g.dot"))
    >>> out.read_text().startswith("digraph")
    True
    """
    if isinstance(digraph_or_root, graphviz.Digraph):
        if options:
            raise TypeError("save_graph: drawing options apply only when given a Tensor")
        dot = digraph_or_root
    else:
        dot = draw_graph(digraph_or_root, **options)
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if not path.suffix and format is None:
        path = path.with_suffix(".svg")
    if fmt not in _TEXT_FORMATS and fmt not in graphviz.FORMATS:
        raise ValueError(
            f"save_graph: unknown picture format {fmt!r} (from {path.name!r}); use a path "
            "ending in .svg, .png or .pdf, or pass format="
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in _TEXT_FORMATS:
        path.write_text(dot.source, encoding="utf-8")
        return path
    if fmt in _RASTER_FORMATS and "dpi" not in dot.graph_attr and "dpi=" not in dot.source:
        # Graphviz's 72 dpi default looks blurry on today's screens
        dot = dot.copy()
        dot.attr(dpi=str(_RASTER_DPI))
    try:
        data = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:  # DotNotFoundError included
        text_path = path.with_suffix(".dot") if path.suffix != ".dot" else path
        text_path.write_text(dot.source, encoding="utf-8")
        raise DotNotFoundError(
            f"save_graph: Graphviz's 'dot' program was not found on PATH, so {path} could "
            f"not be drawn. The DOT text was written to {text_path}; once Graphviz is "
            f"installed, `dot -T{fmt} {text_path} -o {path}` makes the picture.\n"
            + INSTALL_HINT
        ) from None
    path.write_bytes(data)
    return path
