"""Labels and styles: the words, numbers and colours of every box.

One table of looks (``STYLE``: fill and border per kind of box, ``LEGEND_TEXT`` for the
legend), the roles of the inputs of operations whose inputs differ (``ROLES``: ``x``, ``W``,
``b`` of ``linear``), and the functions that write a box's label (an HTML-like Graphviz
label, :func:`node_label`) and its hover text (:func:`tooltip`). Numbers are written by the
engine's :func:`~tinygrad_mlp.engine.numerics.format_number`, NaN/inf in the words of its
``non_finite``. Strings only: nothing here imports graphviz.

>>> entries(np.array([0.5, -2.0]))
'[0.5, -2]'
>>> shape_text(np.zeros((2, 3), np.float32))
'(2, 3) float32'
"""

from __future__ import annotations

import html
import os
import re
from typing import Any

import numpy as np

from ..engine.numerics import format_number
from .graph import Node

FONT = "Helvetica,Arial,sans-serif"
INK = "#1f2937"
MUTED = "#6b7280"
GRAD_INK = "#7c3aed"
BAD_INK = "#b91c1c"

# (fill, border) per kind of box; the legend is built from the same table.
STYLE = {
    "op": ("#ffffff", "#6b7280"),
    "param": ("#dbeafe", "#2563eb"),
    "grad_input": ("#ede9fe", "#7c3aed"),
    "input": ("#fef3c7", "#d97706"),
    "target": ("#dcfce7", "#16a34a"),
    "const": ("#ffffff", "#9ca3af"),
    "nan": ("#fee2e2", "#dc2626"),
    "large": ("#ffedd5", "#ea580c"),
}
LEGEND_TEXT = {
    "op": "operation",
    "param": "parameter",
    "grad_input": "input (requires grad)",
    "input": "input data",
    "target": "target",
    "const": "constant",
    "nan": "NaN / inf",
    "large": "large gradient",
    "first": "first NaN/inf",
}

# Why an operation's value is missing after backward(), in the pictures and the stepper.
FREED_VALUES = (
    "backward() freed the values of the operations (the graph keeps only its shape, the "
    "leaves' values and the gradients); make the picture before backward(), or call "
    "backward(retain_graph=True), to see them"
)

# What a leaf without a name is called in its box.
KIND_TITLE = {"param": "parameter", "grad_input": "input (requires grad)", "input": "input",
              "target": "target", "const": "constant"}

# Operations whose inputs play different roles: the arrows into them are labelled, and the
# formula is printed under the name, so that ``a - b`` is not confused with ``b - a``.
ROLES: dict[str, tuple[tuple[str, ...], dict[int, str]]] = {
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
SYMMETRIC = frozenset({"add", "mul", "maximum", "minimum"})

MAX_SHOWN = 6  # show_values prints the entries of tensors up to this size
FIRST_MARK = "first NaN/inf"


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def number(x: float) -> str:
    """A number in a label: the engine's format, with four significant digits."""
    return format_number(x, 4)


def shape_text(obj: Any) -> str:
    """``(2, 16) float32``, ``scalar float64``: a box's output, as far as it is known."""
    shape, dtype = getattr(obj, "shape", None), getattr(obj, "dtype", None)
    if shape is None:
        return str(dtype) if dtype is not None else "?"
    shape_str = "scalar" if shape == () else str(tuple(int(n) for n in shape))
    return f"{shape_str} {dtype}" if dtype is not None else shape_str


def entries(array: np.ndarray) -> str | None:
    """The entries of a tiny array (``0.5``, ``[1, -2, 3]``), None for bigger ones."""
    if array.size > MAX_SHOWN:
        return None
    if array.ndim == 0 or array.size == 1:
        item = array.reshape(()).item()
        return number(item) if isinstance(item, float) else str(item)
    # three digits per entry keep a box of six entries narrow enough to read
    items = [format_number(v) if isinstance(v, float) else str(v) for v in array.ravel().tolist()]
    return "[" + ", ".join(items) + "]"


def row(text: str, size: int = 10, color: str = MUTED, bold: bool = False) -> str:
    body = f"<B>{text}</B>" if bold else text
    return f'<TR><TD><FONT POINT-SIZE="{size}" COLOR="{color}">{body}</FONT></TD></TR>'


def table(rows: list[str]) -> str:
    """An HTML-like label: ``rows`` (see :func:`row`) stacked in a borderless table."""
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            + "".join(rows) + "</TABLE>>")


def where_short(where: str) -> str:
    """``train.py:12`` from the engine's ``/path/train.py:12 in main: code``."""
    match = re.match(r"(.*?):(\d+)(?: in |$)", where)
    if not match:
        return where[:40]
    return f"{os.path.basename(match.group(1))}:{match.group(2)}"


def node_label(node: Node, show_values: bool, threshold: float | None, mark: str | None,
               message: str | None) -> str:
    obj = node.obj
    rows = []
    if node.is_op:
        title = f"<B>{esc(obj.name)}</B>"
        if node.out_name:
            title += f' <FONT COLOR="{MUTED}">→ <I>{esc(node.out_name)}</I></FONT>'
        rows.append(row(title, size=12, color=INK))
        formula = ROLES.get(obj.name, ((), {}))[1].get(len(node.parents))
        if formula:
            rows.append(row(esc(formula), size=9))
        rows.append(row(esc(shape_text(obj))))
    else:
        leaf = obj
        if node.kind == "const":
            title = f"const {entries(leaf._data)}"
        else:
            title = node.name or KIND_TITLE[node.kind]
        rows.append(row(esc(title), size=12, color=INK, bold=node.kind != "const"))
        rows.append(row(esc(shape_text(leaf))))

    grad_shown = False
    if show_values:
        cells = []
        if node.value is not None and node.kind != "const":
            data = entries(node.value)
            if data is not None:
                cells.append(f"data {esc(data)}")
        if node.grad is not None:
            grad = entries(node.grad)
            if grad is not None:
                cells.append(f'<FONT COLOR="{GRAD_INK}">grad {esc(grad)}</FONT>')
                grad_shown = True
        if cells:
            inner = "".join(f'<TD><FONT POINT-SIZE="10">{c}</FONT></TD>' for c in cells)
            rows.append(
                '<TR><TD><TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="2" '
                f'COLOR="#cbd5e1"><TR>{inner}</TR></TABLE></TD></TR>'
            )
    if node.norm is not None and not grad_shown and not node.bad_grad:
        rows.append(row(f"grad norm {esc(number(node.norm))}", color=GRAD_INK))
    if node.retained:
        rows.append(row("grad kept by retain_grad()", size=8, color=GRAD_INK))
    if node.bad_value:
        rows.append(row(f"value has {node.bad_value}", color=BAD_INK, bold=True))
    if node.bad_grad:
        rows.append(row(f"grad has {node.bad_grad}", color=BAD_INK, bold=True))
    elif threshold is not None and node.norm is not None and node.norm > threshold:
        rows.append(row(f"▲ large grad (&gt; {esc(number(threshold))})", color="#c2410c",
                         bold=True))
    if mark:
        rows.append(row(f"⚠ {esc(mark)}", size=11, color=BAD_INK, bold=True))
    if message:
        for line in wrap(message, 48):
            rows.append(row(esc(line), size=9, color=BAD_INK))
    if node.line:
        rows.append(row(esc(where_short(node.line)), size=8))
    return table(rows)


def wrap(text: str, width: int) -> list[str]:
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


def tooltip(node: Node) -> str:
    """Hover text (SVG): the full story of the box, with exact numbers."""
    obj = node.obj
    if node.is_op:
        parts = [f"{obj.name}: {shape_text(obj)}"]
        if node.out_name:
            parts[0] += f" (output named {node.out_name!r})"
        if node.line:
            parts.append(f"created at {node.line}")
        elif getattr(obj, "where", None):
            parts.append("created inside tinygrad_mlp, not by a line of your code")
        else:
            parts.append("creation line: unknown (build the graph under tg.detect_anomaly())")
        module = getattr(obj, "module", None)
        if module is not None:
            parts.append(f"output of {type(module).__name__}")
    else:
        described = {"grad_input": "input that requires grad", "input": "input data"}.get(
            node.kind, KIND_TITLE[node.kind])
        parts = [f"{node.name + ': ' if node.name else ''}{described}, "
                 f"{shape_text(obj)}"]
    if node.norm is not None:
        parts.append(f"gradient norm = {node.norm!r}"
                     + (" (its .grad, kept by retain_grad())" if node.retained else ""))
    if node.bad_value:
        parts.append(f"value holds {node.bad_value}")
    if node.bad_grad:
        parts.append(f"gradient holds {node.bad_grad}")
    # DOT reads backslashes in attribute strings as escapes (\n, \l): keep Windows paths intact
    return "\n".join(parts).replace("\\", "\\\\")


def slug(text: str) -> str:
    """``n3_linear``-style identifiers: letters, digits and ``_`` only."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")[:40]


def edge_roles(node: Node) -> list[str] | None:
    """The labels of the arrows into an operation (``x``, ``W``, ``b``), None for one input
    or inputs that are interchangeable."""
    count = len(node.parents)
    name = node.obj.name
    if count < 2 or name in SYMMETRIC:
        return None
    roles = ROLES.get(name, ((), {}))[0]
    if len(roles) >= count:
        return list(roles[:count])
    return [str(i) for i in range(count)]
