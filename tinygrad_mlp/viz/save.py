"""Saving: a picture (or a Tensor, drawn first) written to an SVG, PNG, PDF or DOT file.

>>> import tinygrad_mlp as tg, tempfile, os
>>> out = save_graph(tg.tensor([1.0], requires_grad=True) * 2,
...                  os.path.join(tempfile.mkdtemp(), "g.dot"))
>>> out.suffix
'.dot'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import graphviz

from ..engine.tensor import Tensor
from .draw import INSTALL_HINT, DotNotFoundError, draw_graph

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

    A directory (``"pics/"``) is refused with ``ValueError``: name the file in it. Where
    Graphviz's ``dot`` program is missing, the DOT text is written next to the picture
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
    text = os.fspath(path)
    path = Path(path)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise ValueError(f"save_graph: {text!r} is a directory, not a file to write; give a "
                         f"file name in it, such as {os.path.join(text, 'graph.svg')!r}")
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
