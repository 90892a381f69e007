"""The stepper: a graph's forward and backward pass, node by node, in a browser page.

``stepper(loss)`` returns a :class:`Stepper`; in Jupyter it shows itself inline, and
``.save("step.html")`` writes one self-contained HTML file to open from disk in any browser
(no network needed). The page steps through the forward pass (each value appears as it is
computed), then the backward pass (the gradient arriving at each operation, its local rule,
what it sends to each input, the sum where a value is used twice), with buttons, the arrow
keys and a slider. Every number comes from the engine: the values the graph holds, and the
gradients of one backward pass that the stepper asks the engine to run (``tg.grad``, which
leaves every ``.grad`` as it was).

>>> import tinygrad_mlp as tg
>>> x = tg.tensor(3.0, requires_grad=True)
>>> page = stepper(x * x + x)
>>> len(page.steps), page.steps[1]["phase"], page.steps[-1]["phase"]
(7, 'forward', 'done')
"""

from __future__ import annotations

import html
import os
import secrets
import stat
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from .graph import walk
from .layout import dot_layout
from .page import render
from .scene import make_scene
from .steps import build, run_pass

LAYOUTS = ("auto", "dot", "page")


class Stepper:
    """A stepper page: ``.save(path)`` writes it, ``.html()`` is its text, Jupyter shows it.

    ``.data`` is what the page shows (JSON-able): ``nodes`` (one per box, with its value,
    gradient, rule and what it sends to each input), ``edges``, ``clusters``, ``steps`` and
    ``layout`` (from ``dot``, or None when the page lays the graph out itself).
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The steps: ``{"phase": "start" | "forward" | "backward" | "done", "node": id}``."""
        return self.data["steps"]

    def html(self) -> str:
        """The page: one HTML document, its script and style inline."""
        return render(self.data)

    def _repr_html_(self) -> str:
        # An iframe keeps the page's script and style apart from the notebook's own.
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                'style="width:100%;height:620px;border:1px solid #e5e7eb" '
                'title="backward, step by step"></iframe>')

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path`` (``.html`` is added when there is no suffix) and return
        the path written. The file is written whole or not at all; a directory, or a suffix
        other than ``.html``/``.htm``, is refused with ``ValueError``."""
        target = Path(path)
        if target.is_dir():
            raise ValueError(f"Stepper.save: {target} is a directory; give a file name such "
                             "as step.html")
        if not target.suffix:
            target = target.with_suffix(".html")
        if target.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"Stepper.save: a stepper is an HTML page; give a path ending in "
                             f".html, not {target.name!r}")
        text = self.html()
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_whole(target, text)
        return target

    def __repr__(self) -> str:
        ops = sum(1 for n in self.data["nodes"] if n["op"])
        return f"<Stepper: {ops} operations, {len(self.steps)} steps>"


def _write_whole(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a file beside it, renamed over it when complete:
    a failure leaves the old file as it was. A new file gets the usual permissions (umask),
    a replaced one keeps its own."""
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        if target.exists():
            os.chmod(temporary, stat.S_IMODE(target.stat().st_mode))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def stepper(root: Tensor, params: Any = None, title: str | None = None, rankdir: str = "LR",
            layout: str = "auto") -> Stepper:
    """A page that steps through the forward and backward pass of the graph of ``root``.

    Args:
        root: a Tensor with one element (a loss) that requires grad. Best made just before
            ``backward()`` (or kept with ``backward(retain_graph=True)``): after a plain
            ``backward()`` the engine has freed the values of the operations, and the page
            says so and shows what is left.
        params: a Module or a dict name -> Tensor, to name parameters and modules as
            :func:`~tinygrad_mlp.viz.draw_graph` does.
        title: the page's title.
        rankdir: ``"LR"`` (left to right) or ``"TB"`` (top to bottom).
        layout: ``"auto"`` (Graphviz's ``dot`` when installed, else the page's own),
            ``"dot"`` (``dot`` required) or ``"page"`` (the page's own layered layout).

    >>> import tinygrad_mlp as tg
    >>> w = tg.tensor([0.5, -1.0], requires_grad=True)
    >>> s = stepper((w * w).sum(), title="w·w")
    >>> [step["phase"] for step in s.steps]
    ['start', 'forward', 'forward', 'backward', 'backward', 'backward', 'done']
    """
    _check(root, rankdir, layout)
    objects = walk([root])
    # a graph partly freed by an earlier backward (a loss reused after it) counts as freed
    live = not any(getattr(obj, "freed", False) for obj in objects if obj is not root)
    if live:
        leaves = [obj for obj in objects if isinstance(obj, Tensor) and obj.requires_grad]
        pass_grads = run_pass(root, leaves)
    scene = make_scene([root], params, True)
    if live:  # this pass's gradients, not what .grad (of leaves, or retained) has added up
        for node in scene.nodes:
            if node.is_op:
                node.grad = None if node.obj.out_grad is None else np.asarray(node.obj.out_grad)
            else:
                node.grad = pass_grads.get(id(node.obj))
    data = build(scene, live, title)
    data["rankdir"] = rankdir
    positions = None if layout == "page" else dot_layout(scene, rankdir)
    if positions is None and layout == "dot":
        raise RuntimeError("stepper: layout='dot' needs Graphviz's dot program, which was not "
                           "found on PATH (or failed); layout='auto' falls back to the page's "
                           "own layout")
    data["layout"] = positions
    return Stepper(data)


def _check(root: Any, rankdir: str, layout: str) -> None:
    """Refuse what the stepper cannot show."""
    if not isinstance(root, Tensor):
        raise TypeError(f"stepper: expected a Tensor (the loss), got {type(root).__name__}")
    if root.grad_fn is None:
        raise ValueError("stepper: this tensor has no graph (it is a leaf, or was made under "
                         "no_grad()): give the result of operations on tensors that require "
                         "grad, such as a loss")
    if root.numel() != 1:
        raise ValueError(f"stepper: root must have one element (a loss), got shape "
                         f"{root.shape}; reduce it first, e.g. with .sum()")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"stepper: rankdir must be 'LR' or 'TB' (or 'RL', 'BT'), got "
                         f"{rankdir!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"stepper: layout must be one of {LAYOUTS}, got {layout!r}")
