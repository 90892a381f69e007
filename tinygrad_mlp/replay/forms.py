"""The replay forms of the operations: each op's forward and backward as NumPy calls into
``out=`` buffers, in two tables keyed by the engine's op class.

``LAYER_FORMS`` holds the layers an MLP is made of (``ops.Linear``, ``ops.ReLU``,
``ops.Tanh``, ``ops.Sigmoid``) and ``LOSS_FORMS`` its losses (``ops.MeanSquaredError``,
``ops.CrossEntropy``). Each entry writes exactly the NumPy calls that the op's own
``forward`` and ``backward`` in ``engine/ops.py`` make, in the same order and dtypes, so that
the replay is bit-identical to the eager step; ``tests/test_replay_forms.py`` runs every
entry on random inputs against its op, and a recording checks the whole step again. An op
with no entry here is not replayed (the step runs eager and ``step.reason`` names it); the
activations the replay supports are read off this table and ``nn.activations.ACTIVATIONS``.

To add an activation: an :class:`Elementwise` entry below, whose ``forward`` lines compute
``{out}`` from ``{x}`` (``{out}`` may be ``{x}`` itself) and whose ``backward`` lines
compute ``{h}`` from the upstream gradient ``{g}`` and the output ``{out}`` (``{h}`` may be
``{g}``); ``{t}`` and ``{m}`` are float and bool scratch. ``ZERO``/``ONE`` are 0 and 1 in
the model's dtype.

>>> sorted(op.__name__ for op in LAYER_FORMS)
['Linear', 'ReLU', 'Sigmoid', 'Tanh']
>>> print("\\n".join(LAYER_FORMS[ops.Tanh].backward))
multiply({out}, {out}, {t})  # tanh': 1 - out * out
subtract(ONE, {t}, {t})
multiply({g}, {t}, {h})
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import ops
from ..engine.autograd import Function
from ..engine.tensor import Tensor
from ..nn.module import Module
from .workspace import Unsupported, Workspace


@dataclass(eq=False)
class Layer:
    """One computing layer of the model, in forward order, and what its backward computes.

    ``recorded``: the node is in the graph (some input requires grad); ``need_x``,
    ``need_w``, ``need_b``: which gradients its eager rule computes. ``input`` and ``output``
    are the names of its arrays in the replay, set as it is written.
    """

    module: Module | None
    op: type[Function]
    weight: Tensor | None = None
    bias: Tensor | None = None
    recorded: bool = False
    need_x: bool = False
    need_w: bool = False
    need_b: bool = False
    input: str = ""
    output: str = ""

    @property
    def form(self) -> Any:
        return LAYER_FORMS[self.op]


# ---------------------------------------------------------------------------------------------
# Layers


class LinearForm:
    """``ops.Linear``: ``x @ W.T + b``; backward ``g @ W``, the weight's gradient in the
    weight's own memory layout, the bias's as a product with a row of ones."""

    op = ops.Linear

    def grad_order(self, layer: Layer, p: Tensor) -> str:
        """The layout of ``p``'s gradient: ``(x.T @ g).T`` is column-major, and the eager
        rule takes it for a column-major weight; ``g.T @ x`` and a bias are row-major."""
        return "F" if p is layer.weight and p._data.flags.f_contiguous else "C"

    def write_forward(self, ws: Workspace, layer: Layer, x: str, fresh: bool) -> tuple[str, bool]:
        weight = ws.name("p", layer.weight._data)
        z = ws.buffer("z", (ws.rows, layer.weight._data.shape[0]))
        ws.emit(f"matmul({x}, {ws.transposed(weight)}, {z})  # linear: x @ W.T")
        if layer.bias is not None:
            ws.emit(f"add({z}, {ws.name('p', layer.bias._data)}, {z})  # += bias")
        return z, True  # nothing reads a Linear's output in backward

    def write_backward(self, ws: Workspace, layer: Layer, g: str) -> str | None:
        x = layer.input
        if layer.need_w:
            view = ws.gradient(layer.weight)
            if self.grad_order(layer, layer.weight) == "F":
                gw_t = ws.name(f"{ws.name('g', view)}_T", view.T)
                ws.emit(f"matmul({ws.transposed(x)}, {g}, {gw_t})  # linear: (x.T @ g).T")
            else:
                ws.emit(f"matmul({ws.transposed(g)}, {x}, {ws.name('g', view)})"
                        "  # linear: g.T @ x")
        if layer.need_b:
            gb = ws.name("g", ws.gradient(layer.bias))
            ones = ws.name("ONES", np.ones(ws.rows, ws.dtype))
            ws.emit(f"matmul({ones}, {g}, {gb})  # linear: ones @ g")
        if not layer.need_x:
            return None
        h = ws.turn_buffer((ws.rows, layer.weight._data.shape[1]))
        ws.emit(f"matmul({g}, {ws.name('p', layer.weight._data)}, {h})  # g @ W")
        return h


@dataclass(frozen=True)
class Elementwise:
    """An activation: lines for its forward and for its backward (see the module's doc)."""

    op: type[Function]
    forward: tuple[str, ...]
    backward: tuple[str, ...]

    def grad_order(self, layer: Layer, p: Tensor) -> str:
        return "C"

    def write_forward(self, ws: Workspace, layer: Layer, x: str, fresh: bool) -> tuple[str, bool]:
        shape = ws.array(x).shape
        out = x if fresh else ws.buffer("a", shape)
        names = dict(x=x, out=out, t=ws.scratch(shape), m=ws.mask(shape))
        self._emit(ws, self.forward, names)
        return out, False  # backward reads the output

    def write_backward(self, ws: Workspace, layer: Layer, g: str) -> str:
        # In place, unless g is column-major (cross-entropy's, for few classes): NumPy gives
        # a row-major result for g times the row-major output, and the layout decides which
        # BLAS routine the next layer's backward runs.
        array = ws.array(g)
        h = g if array.flags.c_contiguous else ws.turn_buffer(array.shape)
        names = dict(g=g, out=layer.output, h=h, t=ws.scratch(array.shape),
                     m=ws.mask(array.shape))
        self._emit(ws, self.backward, names)
        return h

    def _emit(self, ws: Workspace, lines: tuple[str, ...], names: dict[str, str]) -> None:
        for line in lines:
            ws.emit(line.format(**names))


LAYER_FORMS: dict[type[Function], Any] = {
    ops.Linear: LinearForm(),
    ops.ReLU: Elementwise(
        ops.ReLU,
        forward=("maximum({x}, ZERO, out={out})  # relu",),
        backward=("greater({out}, ZERO, {m})  # relu': x > 0",
                  "multiply({g}, {m}, {h})"),
    ),
    ops.Tanh: Elementwise(
        ops.Tanh,
        forward=("tanh({x}, {out})  # tanh",),
        backward=("multiply({out}, {out}, {t})  # tanh': 1 - out * out",
                  "subtract(ONE, {t}, {t})",
                  "multiply({g}, {t}, {h})"),
    ),
    ops.Sigmoid: Elementwise(
        ops.Sigmoid,
        # where(x >= 0, 1 / (1 + e), e / (1 + e)) with e = exp(-|x|)
        forward=("greater_equal({x}, ZERO, {m})  # sigmoid",
                 "absolute({x}, {out})",
                 "negative({out}, {out})",
                 "exp({out}, {out})",
                 "add(ONE, {out}, {t})",
                 "divide({out}, {t}, {out})",
                 "divide(ONE, {t}, {t})",
                 "copyto({out}, {t}, 'same_kind', {m})"),
        backward=("multiply({g}, {out}, {h})  # sigmoid': g * out * (1 - out)",
                  "subtract(ONE, {out}, {t})",
                  "multiply({h}, {t}, {h})"),
    ),
}


# ---------------------------------------------------------------------------------------------
# Losses: each writes ``loss`` (the value) and returns the buffer of its gradient, the
# gradient of backward's seed ``np.ones_like(loss)``.


class MSEForm:
    """``ops.MeanSquaredError``: ``diff = x - y``, the sum (or mean) of ``diff * diff``;
    the gradient ``(g * scale) * diff`` with ``scale`` 2 (or 2 / size)."""

    op = ops.MeanSquaredError
    inputs = 2  # the node's inputs: the model's output and the target

    def check_target(self, shape: tuple[int, ...], y: np.ndarray) -> None:
        if y.dtype.kind not in "biuf":
            raise Unsupported(f"the target has dtype {y.dtype}")
        if y.shape != shape:
            raise Unsupported(f"the target has shape {y.shape}")

    def write(self, ws: Workspace, out: str, y: np.ndarray, reduction: str) -> str:
        shape = ws.array(out).shape
        target = "y"
        if y.dtype != ws.dtype:  # F.mse_loss casts the target to the input's dtype
            ws.emit(f"yc = y.astype({ws.name('DT', ws.dtype)})")
            target = "yc"
        d, q = ws.buffer("d", shape), ws.buffer("q", shape)
        ws.emit(f"subtract({out}, {target}, {d})  # mse: diff = x - y")
        ws.emit(f"multiply({d}, {d}, {q})")
        ws.emit(f"total = add_reduce({q}, None)")
        size = math.prod(shape)
        ws.emit(f"loss = total / {size}" if reduction == "mean" else "loss = total")
        scale = 2.0 / max(size, 1) if reduction == "mean" else 2.0
        seed = np.ones((), ws.dtype)
        ws.emit(f"multiply({ws.name('C', seed * scale)}, {d}, {q})  # (g * scale) * diff")
        return q


class CrossEntropyForm:
    """``ops.CrossEntropy`` with class indices: shifted logits, their softmax and the
    picked ``log_norm - shifted[class]``; the gradient ``probs * per_row``, less ``per_row``
    at each row's class. In the memory layout the engine runs them in (column-major for few
    classes)."""

    op = ops.CrossEntropy
    inputs = 1  # the model's output (the classes are a parameter of the node)

    def check_target(self, shape: tuple[int, ...], y: np.ndarray) -> None:
        if y.dtype.kind not in "iu":
            raise Unsupported(
                f"the target has dtype {y.dtype}: only integer class indices are replayed"
            )
        if y.shape != shape[:1]:
            raise Unsupported(f"the target has shape {y.shape}")

    def write(self, ws: Workspace, out: str, y: np.ndarray, reduction: str) -> str:
        n, classes = shape = ws.array(out).shape
        # CrossEntropy.forward refuses a class out of range, and then so does the eager step.
        # Seen as unsigned, a negative class is huge: one max() checks both ends.
        unsigned = np.dtype(f"u{y.dtype.itemsize}")
        ws.guard(f"if y.view({ws.name('UINT', unsigned)}).max() >= {classes}: return False")
        index_type = np.intp if np.can_cast(y.dtype, np.intp) else np.uint64
        index = ws.buffer("index", (n,), index_type)
        mx, norm, losses = ws.buffer("mx", (n, 1)), ws.buffer("norm", (n, 1)), ws.buffer(
            "losses", (n,))
        ws.emit("# cross-entropy")
        s = self._shift(ws, out, shape, index, mx, index_type)
        flat = ws.name("flat_s", np.ravel(ws.array(s), order="K"))
        assert np.shares_memory(ws.array(flat), ws.array(s))
        ws.emit(f"picked = {flat}[{index}]  # shifted[rows, classes]")
        ws.emit(f"exp({s}, {s})")
        ws.emit(f"add_reduce({s}, -1, None, {norm}, True)")
        ws.emit(f"divide({s}, {norm}, {s})  # probabilities")
        ws.emit(f"log({norm}, {norm})")
        ws.emit(f"subtract({ws.name('norm0_', ws.array(norm)[:, 0])}, picked, {losses})")
        ws.emit(f"total = add_reduce({losses}, None)")
        ws.emit(f"loss = total / {n}" if reduction == "mean" else "loss = total")
        seed = np.ones((), ws.dtype)
        per_row = ws.name("C", seed * (1.0 / max(n, 1)) if reduction == "mean" else seed)
        ws.emit(f"multiply({s}, {per_row}, {s})  # probs * per_row")
        ws.emit(f"{flat}[{index}] -= {per_row}  # ... - per_row at the classes")
        return s

    def _shift(self, ws: Workspace, out: str, shape: tuple[int, int], index: str, mx: str,
               index_type: Any) -> str:
        """``shifted = logits - max`` in a buffer of the engine's layout, and ``index``: the
        flat position of each row's class in it."""
        n, classes = shape
        if _engine_layout(shape, ws.dtype) == "F":
            # The engine copies few-class logits to column-major (np.asfortranarray), which
            # changes the order of the sums over a row: so does the replay.
            s = ws.buffer("s", shape, order="F")
            ws.emit(f"copyto({s}, {out})  # np.asfortranarray(logits)")
            ws.emit(f"max_reduce({s}, -1, None, {mx}, True)")
            ws.emit(f"subtract({s}, {mx}, {s})  # shifted")
            # (row, class) as an index into the buffer's memory: row + class * n
            # (n in the index's dtype: a Python n would multiply in a uint8 target's dtype)
            rows, count = ws.name("ROWS", np.arange(n)), ws.name("N", np.array(n, index_type))
            ws.emit(f"multiply(y, {count}, {index}); add({index}, {rows}, {index})")
            return s
        s = ws.buffer("s", shape)
        ws.emit(f"max_reduce({out}, -1, None, {mx}, True)")
        ws.emit(f"subtract({out}, {mx}, {s})  # shifted")
        starts = ws.name("STARTS", np.arange(n, dtype=index_type) * classes)
        ws.emit(f"add({starts}, y, {index})  # row * classes + class")
        return s


def _engine_layout(shape: tuple[int, int], dtype: np.dtype) -> str:
    """The memory layout ``ops.CrossEntropy`` works in for logits of this shape, asked of the
    op itself (its probabilities come out in it), so that the rule has one home: ``"F"``
    (column-major, as the engine does for few classes) or ``"C"``."""
    probe = ops.CrossEntropy()
    probe.forward(np.zeros(shape, dtype), classes=np.zeros(shape[0], np.intp))
    flags = probe.probs.flags
    return "F" if flags.f_contiguous and not flags.c_contiguous else "C"


LOSS_FORMS: dict[type[Function], Any] = {
    ops.MeanSquaredError: MSEForm(),
    ops.CrossEntropy: CrossEntropyForm(),
}
