"""The graph and reverse-mode differentiation.

Every differentiable operation is a small :class:`Function` subclass (see ``ops.py``) with
``forward`` on NumPy arrays and ``backward`` beside it. When an operation runs on a Tensor
that requires grad, the Function instance becomes a node of the graph: it remembers its input
Tensors (``parents``) and the output Tensor points back at it through ``grad_fn``.

``backward`` sorts the graph once (iteratively, so a 100,000-op chain is fine), then walks it
from the output to the inputs, calling each node's rule exactly once with the summed gradient
of its output. A gradient rule is written once, with operators and methods that both
``np.ndarray`` and ``Tensor`` have: it runs on arrays normally, and on Tensors (recording a
graph of the backward pass) under ``create_graph=True``.
"""

from __future__ import annotations

import functools
import itertools
import linecache
import operator
import os
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .tensor import Tensor

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Frames that are never "the user's line": this package, and Python's own machinery that runs
# a module (``python -m``: ``<frozen runpy>``).
_NOT_USER_CODE = (_PACKAGE_DIR, "<frozen ")
_ENGINE = {"autograd.py", "tensor.py", "ops.py", "functions.py", "module.py", "layers.py",
           "functional.py", "loss.py"}


class _Mode(threading.local):
    """Grad mode and anomaly mode, one copy per thread (as in PyTorch), and weak references to
    the nodes of the latest backward pass (they hold its gradients, for pictures, until the
    next pass)."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.latest_pass: list[weakref.ref[Function]] = []


_mode = _Mode()


def is_grad_enabled() -> bool:
    """True when operations are being recorded for backward in this thread.

    >>> import tinygrad_mlp as tg
    >>> tg.is_grad_enabled()
    True
    """
    return _mode.grad_enabled


def is_anomaly_enabled() -> bool:
    """True inside :class:`detect_anomaly` in this thread (PyTorch's name).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp.engine.autograd import is_anomaly_enabled
    >>> with tg.detect_anomaly():
    ...     is_anomaly_enabled()
    True
    """
    return _mode.anomaly


class _SetGradMode:
    """A context manager that is also a decorator (``with no_grad():`` / ``@no_grad()``)."""

    enabled: bool

    def __new__(cls, func: Callable | None = None):
        self = super().__new__(cls)
        if func is not None:  # used bare: ``@no_grad``
            return self(func)
        return self

    def __init__(self, func: Callable | None = None) -> None:
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_mode.grad_enabled)
        _mode.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        _mode.grad_enabled = self._previous.pop()

    def __call__(self, func: Callable) -> Callable:
        cls = type(self)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with cls():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_SetGradMode):
    """Record nothing inside: results do not require grad. Also a decorator.

    >>> import tinygrad_mlp as tg
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> with tg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    enabled = False


class enable_grad(_SetGradMode):
    """Record again inside a ``no_grad`` block. Also a decorator.

    >>> import tinygrad_mlp as tg
    >>> with tg.no_grad(), tg.enable_grad():
    ...     tg.is_grad_enabled()
    True
    """

    enabled = True


class detect_anomaly:
    """Stop at the first operation whose output or gradient holds NaN or inf.

    Inside the block every operation remembers the line of user code that created it, checks
    its forward output, and backward checks every gradient it produces; the first non-finite
    value raises ``FloatingPointError`` (an :class:`AnomalyError`) naming the operation and
    that line. It is slower, so use it to hunt a NaN, not to train.

    >>> import tinygrad_mlp as tg
    >>> x = tg.tensor([0.0], requires_grad=True)
    >>> with tg.detect_anomaly():  # doctest: +IGNORE_EXCEPTION_DETAIL
    ...     y = x.log()
    Traceback (most recent call last):
    AnomalyError: log produced -inf in its output ...
    """

    def __init__(self) -> None:
        self._previous: list[bool] = []

    def __enter__(self) -> detect_anomaly:
        self._previous.append(_mode.anomaly)
        _mode.anomaly = True
        return self

    def __exit__(self, *exc: object) -> None:
        _mode.anomaly = self._previous.pop()


class AnomalyError(FloatingPointError):
    """A NaN or inf found by :class:`detect_anomaly`; ``.node`` is the operation that made it."""

    def __init__(self, message: str, node: Function | None = None) -> None:
        super().__init__(message)
        self.node = node

    def draw(self, roots: Any = None, **options: Any) -> Any:
        """The graph around the culprit, marked (see ``tinygrad_mlp.viz.draw_anomaly``)."""
        from ..viz import draw_anomaly

        return draw_anomaly(self, roots, **options)


class OperationError(ValueError):
    """An operation refused its arguments; the message names the operation and why."""


class ShapeError(OperationError):
    """Operands whose shapes do not fit; the message names the operation and the shapes."""


def _user_frame() -> str:
    """``file:line in function: code`` of the innermost caller outside this package.

    When the whole stack is the package's own (``python -m tinygrad_mlp``), the innermost
    line outside the engine's core (the code that built this graph) is named instead.
    """
    innermost = sys._getframe(1)
    frame = innermost
    while frame is not None and frame.f_code.co_filename.startswith(_NOT_USER_CODE):
        frame = frame.f_back
    if frame is None:
        frame = innermost
        while frame is not None and os.path.basename(frame.f_code.co_filename) in _ENGINE:
            frame = frame.f_back
    if frame is None:
        return "<unknown>"
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    code = linecache.getline(filename, lineno).strip()
    where = f"{filename}:{lineno} in {frame.f_code.co_name}"
    return f"{where}: {code}" if code else where


def _non_finite(array: np.ndarray) -> str | None:
    """'nan', 'inf', '-inf' or 'nan and inf' for a float array that holds them, else None."""
    if array.dtype.kind not in "fc" or np.isfinite(array).all():
        return None
    kinds = []
    if np.isnan(array).any():
        kinds.append("nan")
    if np.isposinf(array).any():
        kinds.append("inf")
    if np.isneginf(array).any():
        kinds.append("-inf")
    return " and ".join(kinds)


class Function:
    """One operation of the graph: ``forward`` on arrays and ``backward`` beside it.

    Subclasses define ``forward(self, *arrays, **params) -> ndarray`` and
    ``backward(self, g, out, *inputs) -> one gradient per input`` (``None`` where there is
    none). In ``backward``, ``g`` is the gradient of the output, ``out`` the output and
    ``inputs`` the inputs: NumPy arrays normally, Tensors under ``create_graph=True``, so a
    rule written with operators, ``.sum``, ``.reshape``, ``.mT`` and the dual helpers of
    ``ops.py`` serves both. Gradients may have the broadcast shape; the engine sums them back
    to each input's shape and dtype.
    """

    __slots__ = (
        "parents", "shape", "dtype", "out_grad", "where", "freed", "module", "made", "__weakref__"
    )

    name = "function"
    # True for operations whose result is a float even on integer inputs (exp, /, mean...).
    float_result = False
    # Attributes holding arrays that forward saved for backward: freeing the graph drops them,
    # so a tensor kept after backward (a logged loss) does not keep them alive.
    _saved: tuple[str, ...] = ()

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g: Any, out: Any, *inputs: Any) -> Sequence[Any]:
        raise NotImplementedError

    def explain(self, *arrays: np.ndarray, **params: Any) -> str | None:
        """A friendlier message for a forward that NumPy refused; None keeps NumPy's."""
        return None

    @property
    def needs(self) -> list[bool]:
        """Which inputs want a gradient, so a rule can skip costly work for constants."""
        return [p._requires_grad for p in self.parents]

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> Tensor:
        """Run the operation on Tensors (or numbers/arrays) and record it when needed."""
        tensors: Sequence[Tensor] = args
        try:
            arrays = [a._data for a in args]
        except AttributeError:  # a number, list or array beside the Tensors
            tensors = [a if isinstance(a, Tensor) else _lift(a, args) for a in args]
            arrays = [t._data for t in tensors]
        for array in arrays:
            if array.dtype.kind != "f":  # rare: an integer or boolean operand
                tensors = _promote(cls, tensors)
                arrays = [t._data for t in tensors]
                break
        fn = cls()
        try:
            out = fn.forward(*arrays, **params)
        except (ValueError, IndexError, TypeError) as error:
            if type(error).__module__.startswith(__package__):
                raise  # our own error: it already names the operation and the shapes
            message = fn.explain(*arrays, **params)
            shapes = ", ".join(str(t.shape) for t in tensors)
            text = message or f"{cls.name}: {error} (input shapes {shapes})"
            raise type(error)(text) from None
        if type(out) is not np.ndarray:  # NumPy turns 0-d results into scalars
            out = np.asarray(out)
        mode = _mode
        if mode.grad_enabled:
            for t in tensors:
                if t._requires_grad:
                    break
            else:
                return _unrecorded(fn, out, tensors, mode.anomaly)
        else:
            return _unrecorded(fn, out, tensors, mode.anomaly)
        fn.parents = tensors
        fn.shape = out.shape
        fn.dtype = out.dtype
        fn.out_grad = fn.module = None
        fn.freed = False
        fn.made = next(_clock)
        if mode.anomaly:
            fn.where = _user_frame()
            _check_forward(fn, out, tensors, fn.where)
        else:
            fn.where = None
        return Tensor._make(out, True, fn)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


# Numbers nodes in the order they were made. A node's inputs exist before it, so this order is
# a topological order of any graph: backward sorts by it instead of searching the graph.
_clock = itertools.count()


def _unrecorded(fn: Function, out: np.ndarray, tensors: Sequence[Tensor], anomaly: bool) -> Tensor:
    """The result of an operation that is not recorded (no input requires grad, or no_grad)."""
    if anomaly:
        _check_forward(fn, out, tensors, "")
    return Tensor._make(out, False, None)


def _check_forward(fn: Function, out: np.ndarray, tensors: Sequence[Tensor], where: str) -> None:
    bad = _non_finite(out)
    if bad is None:
        return
    origin = "" if any(_non_finite(t._data) for t in tensors) else " from finite inputs"
    where = where or _user_frame()
    raise AnomalyError(
        f"{fn.name} produced {bad} in its output of shape {out.shape}{origin}.\n"
        f"  created at {where}",
        fn,
    )


def _lift(value: Any, args: Sequence[Any]) -> Tensor:
    """Turn a Python number, list or array into a constant Tensor beside Tensor operands.

    A constant follows the float Tensor beside it (as a Python number does in PyTorch): it
    takes the dtype of the first float Tensor operand, so ``x * 0.5``, ``x * np.sqrt(2.0)``,
    ``x + np.arange(3)`` and a float32 model applied to a float64 NumPy batch all stay
    float32. (Wrap the array in a Tensor to have it promote instead.)
    """
    for a in args:
        if isinstance(a, Tensor) and a._data.dtype.kind == "f":
            if isinstance(value, (np.ndarray, *_NUMBERS)):
                array = np.asarray(value, dtype=a._data.dtype)
            else:
                array = Tensor(value, dtype=a._data.dtype)._data
            return Tensor._make(array, False, None)
    if isinstance(value, np.ndarray):
        return Tensor._make(value, False, None)
    return Tensor(value)


def _promote(cls: type[Function], tensors: Sequence[Tensor]) -> list[Tensor]:
    """Integer and boolean operands of a float operation become float (as in PyTorch).

    Beside a float Tensor they take its dtype; alone, in an operation whose result is a float
    (``exp``, ``/``, ``mean``...), they become float32, PyTorch's default.
    """
    floats = [t._data.dtype for t in tensors if t._data.dtype.kind == "f"]
    if floats:
        target = np.result_type(*floats)
    elif cls.float_result:
        target = np.dtype(np.float32)
    else:
        return tensors
    return [
        t if t._data.dtype.kind == "f" else Tensor._make(t._data.astype(target), False, None)
        for t in tensors
    ]


# NumPy scalars count as numbers: np.float64(0.5) is what np.sqrt(2.0) or arr.mean() hands back.
_NUMBERS = (bool, int, float, np.bool_, np.integer, np.floating)


# ---------------------------------------------------------------------------------------------
# The backward pass


_FREED_MESSAGE = (
    "Trying to backward through the graph a second time: its saved values were freed when "
    "the first backward() returned. Call backward(retain_graph=True) the first time if you "
    "need to backward through the same graph again (or recompute the forward pass)."
)


_made = operator.attrgetter("grad_fn.made")


def _topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Non-leaf Tensors reachable from ``roots``, each after all of its inputs.

    A plain search collects them (an explicit stack, so depth is limited only by memory), and
    the order in which their nodes were made sorts them.
    """
    found: list[Tensor] = []
    seen: set[int] = set()
    stack = [root for root in roots if root.grad_fn is not None]
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        node = tensor.grad_fn
        if node.freed:
            raise RuntimeError(_FREED_MESSAGE)
        found.append(tensor)
        for parent in node.parents:
            if parent.grad_fn is not None:
                stack.append(parent)
    found.sort(key=_made)
    return found


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum a gradient of a broadcast result back to an operand's ``shape``.

    The one place where broadcasting is undone; it works on arrays and on Tensors.

    >>> unbroadcast(np.ones((4, 3)), (3,))
    array([4., 4., 4.])
    """
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1
    )
    if axes:
        g = g.sum(axis=axes)
    return g.reshape(shape) if g.shape != shape else g


def _fit_to(g: Any, parent: Tensor) -> Any:
    """The gradient for ``parent`` with its shape, dtype and type (only work that is needed)."""
    if isinstance(g, np.generic):  # NumPy turns 0-d results into scalars
        g = np.asarray(g)
    if g.shape != parent._data.shape:
        g = unbroadcast(g, parent._data.shape)
    if g.dtype != parent._data.dtype:
        g = g.astype(parent._data.dtype)
    return g


def _buffer_owner(array: np.ndarray) -> int:
    while array.base is not None:
        array = array.base
    return id(array)


def run_backward(
    roots: Sequence[Tensor],
    seeds: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> list[Any] | None:
    """Propagate ``seeds`` (gradients of ``roots``) through the graph.

    Without ``capture`` the gradients of leaves that require grad are added to their
    ``.grad``; with it, the gradients of the captured Tensors are returned instead and no
    ``.grad`` changes. Leaves' ``.grad`` are written only after the whole pass succeeded, and
    the graph is freed only then, so a failed backward changes nothing.
    """
    order = _topological_order(roots)
    # Each node keeps the gradient of its output (``out_grad``) so that a picture drawn after
    # backward can show it, but only until the next pass: a loop that keeps every loss Tensor
    # must not keep every step's gradients.
    for ref in _mode.latest_pass:
        node = ref()
        if node is not None:
            node.out_grad = None
    _mode.latest_pass = [weakref.ref(tensor.grad_fn) for tensor in order]
    grads: dict[int, Any] = {}  # id of a Tensor -> the sum of the gradients reaching it
    leaves: dict[int, Tensor] = {}  # id -> leaf, for the leaves that require grad
    for root, seed in zip(roots, seeds):
        _add_to(grads, id(root), seed)
        if root.grad_fn is None and root._requires_grad:
            leaves[id(root)] = root
    wanted = None if capture is None else {id(t) for t in capture}
    found: dict[int, Any] = {}  # the captured non-leaf Tensors' gradients
    anomaly = _mode.anomaly
    previous_mode = _mode.grad_enabled
    _mode.grad_enabled = create_graph
    try:
        for tensor in reversed(order):
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            node = tensor.grad_fn
            node.out_grad = g._data if create_graph else g
            if wanted is not None and id(tensor) in wanted:
                found[id(tensor)] = g
            parents = node.parents
            if create_graph:
                input_grads = node.backward(g, tensor, *parents)
            else:
                input_grads = node.backward(g, tensor._data, *[p._data for p in parents])
            for index, (parent, pg) in enumerate(zip(parents, input_grads)):
                if pg is None or not parent._requires_grad:
                    continue
                data = parent._data
                if (type(pg) is not np.ndarray or pg.shape != data.shape
                        or (pg.dtype is not data.dtype and pg.dtype != data.dtype)):
                    pg = _fit_to(pg, parent)
                if anomaly:
                    _check_backward(node, pg, index)
                key = id(parent)
                previous = grads.get(key)
                if previous is None:
                    grads[key] = pg
                    if parent.grad_fn is None:
                        leaves[key] = parent
                else:
                    grads[key] = previous + pg
    finally:
        _mode.grad_enabled = previous_mode

    if wanted is not None:
        result = [found[id(t)] if id(t) in found else grads.get(id(t)) for t in capture]
    else:
        result = None
        # A seed can reach a leaf unchanged (through add, reshape, ...) and Add hands one
        # array to both sides: .grad is the user's to modify, so never share a buffer.
        owners = {_buffer_owner(s) for s in seeds if isinstance(s, np.ndarray)}
        for key, leaf in leaves.items():
            g = grads[key]
            if create_graph:
                leaf._grad = g if leaf._grad is None else leaf._grad + g
                continue
            owner = id(g) if g.base is None else _buffer_owner(g)
            if owner in owners or not g.flags.writeable:
                g = g.copy()
            owners.add(owner)
            previous = leaf._grad
            leaf._grad = Tensor._make(g if previous is None else previous._data + g, False, None)
    if not retain_graph:
        # Free the graph: drop the nodes' hold on intermediate values and saved arrays,
        # keeping the graph's shape (nodes in place of non-leaf inputs) for pictures.
        for tensor in order:
            node = tensor.grad_fn
            node.parents = [p.grad_fn or p for p in node.parents]
            for name in node._saved:
                setattr(node, name, None)
            node.freed = True
    return result


def _add_to(grads: dict[int, Any], key: int, g: Any) -> None:
    previous = grads.get(key)
    grads[key] = g if previous is None else previous + g


def _check_backward(node: Function, g: np.ndarray | Tensor, index: int) -> None:
    array = g._data if isinstance(g, Tensor) else g
    bad = _non_finite(array)
    if bad is None:
        return
    upstream = node.out_grad
    origin = (
        "; the gradient reaching it was already non-finite"
        if upstream is not None and _non_finite(np.asarray(upstream))
        else " from a finite incoming gradient"
    )
    where = node.where or "(unknown: enable detect_anomaly before the forward pass)"
    raise AnomalyError(
        f"backward of {node.name} produced {bad} in the gradient for its input {index} "
        f"(shape {array.shape}){origin}.\n  created at {where}",
        node,
    )


# ---------------------------------------------------------------------------------------------
# The public entry points


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _seed(root: Tensor, gradient: Any, create_graph: bool, caller: str) -> Any:
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"{caller}: grad can be implicitly created only for one-element outputs, but "
                f"this tensor has shape {root.shape}; pass gradient= (an array of that shape)"
            )
        seed = np.ones(root._data.shape, root._data.dtype)
    else:
        seed = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
        if seed.shape != root._data.shape:
            raise RuntimeError(
                f"{caller}: gradient has shape {seed.shape} but the tensor has shape "
                f"{root.shape}; they must match"
            )
        if create_graph and isinstance(gradient, Tensor) and gradient._requires_grad:
            # The recorded backward pass is then differentiable in the seed too (PyTorch's
            # double-backward trick for Jacobian-vector products needs this).
            return gradient.astype(root._data.dtype)
        seed = seed.astype(root._data.dtype, copy=False)
    return Tensor._make(seed, False, None) if create_graph else seed


def _check_root(root: Any, caller: str) -> None:
    if not isinstance(root, Tensor):
        raise TypeError(f"{caller}: expected a Tensor, got {type(root).__name__}")
    if not root._requires_grad:
        raise RuntimeError(
            f"{caller}: this tensor does not require grad and has no grad_fn: nothing that "
            "it was computed from has requires_grad=True (or it was made under no_grad())"
        )


def backward(
    tensor: Tensor,
    gradient: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Add the gradient of ``tensor`` to ``.grad`` of every leaf it depends on.

    Used as ``t.backward()``; see :meth:`Tensor.backward`.
    """
    _check_root(tensor, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    seed = _seed(tensor, gradient, create_graph, "backward")
    run_backward([tensor], [seed], retain_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, leaving ``.grad`` untouched.

    >>> import tinygrad_mlp as tg
    >>> x = tg.tensor([3.0], requires_grad=True)
    >>> (dx,) = tg.grad((x ** 2).sum(), x)
    >>> dx
    tensor([6.])
    >>> x.grad is None
    True
    """
    outs, ins = _as_list(outputs), _as_list(inputs)
    if grad_outputs is None:
        g_outs = [None] * len(outs)
    else:
        g_outs = _as_list(grad_outputs)
        if len(g_outs) != len(outs):
            raise ValueError(
                f"grad: {len(outs)} outputs but {len(g_outs)} grad_outputs; give one each"
            )
    for out in outs:
        _check_root(out, "grad")
    for i, x in enumerate(ins):
        if not isinstance(x, Tensor) or not x._requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [_seed(o, g, create_graph, "grad") for o, g in zip(outs, g_outs)]
    found = run_backward(outs, seeds, retain_graph, create_graph, capture=ins)
    results: list[Tensor | None] = []
    for i, g in enumerate(found):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} was not used to compute the outputs; pass "
                    "allow_unused=True to get None for it"
                )
            results.append(None)
        elif isinstance(g, Tensor):
            results.append(g)
        else:
            results.append(Tensor._make(g, False, None))
    return tuple(results)


from .tensor import Tensor  # noqa: E402  (Tensor needs this module first)
