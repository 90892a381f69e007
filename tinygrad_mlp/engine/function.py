"""The graph node: :class:`Function`, and ``apply``, which runs an operation and records it.

Every differentiable operation is a small :class:`Function` subclass (see ``ops``) with
``forward`` on NumPy arrays and ``backward`` beside it. When an operation runs on a Tensor
that requires grad, the Function instance becomes a node of the graph: it remembers its input
Tensors (``parents``) and the output Tensor points back at it through ``grad_fn``. Nodes are
numbered in the order they are made (``made``, from ``clock``): a node's inputs exist before
it, so that order is a topological order of every graph.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import frames
from .modes import mode
from .numerics import non_finite


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


def user_line() -> str:
    """``file:line in function: code`` of the user's line that is running now (see ``frames``)."""
    return frames.describe(frames.user_frame())


# Numbers nodes in the order they were made. A node's inputs exist before it, so this order is
# a topological order of any graph: backward sorts by it instead of searching the graph. An
# in-place change is stamped from the same clock (see ``inplace``).
clock = itertools.count()


class Function:
    """One operation of the graph: ``forward`` on arrays and ``backward`` beside it.

    Subclasses define ``forward(self, *arrays, **params) -> ndarray`` and
    ``backward(self, g, out, *inputs) -> one gradient per input`` (``None`` where there is
    none). In ``backward``, ``g`` is the gradient of the output, ``out`` the output and
    ``inputs`` the inputs: NumPy arrays normally, Tensors under ``create_graph=True``, so a
    rule written with operators, ``.sum``, ``.reshape``, ``.mT`` and the dual helpers of
    ``ops`` serves both. Gradients may have the broadcast shape; the engine sums them back
    to each input's shape and dtype.

    The tools read three attributes of a recorded node: ``out_grad`` (the gradient of its
    output in the latest backward pass, for pictures), ``where`` (the user's line that made
    it, under ``detect_anomaly``) and ``module`` (the ``nn.Module`` whose forward made it).
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
    # Which values the rule reads: "inputs", "output", or "others" (an input only when another
    # input wants a gradient: the product rule). Backward raises when one of them was changed
    # in place after the node was made (see ``inplace``). The default is the safe guess.
    reads: tuple[str, ...] = ("inputs", "output")

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g: Any, out: Any, *inputs: Any) -> Sequence[Any]:
        raise NotImplementedError

    def explain(self, *arrays: np.ndarray, **params: Any) -> str | None:
        """A friendlier message for a forward that NumPy refused; None keeps NumPy's."""
        return None

    @property
    def grad_fn(self) -> Function:
        """The node itself. A graph freed by backward keeps its nodes in place of the Tensors
        they made, so a walk asks every input, Tensor or node, for its ``grad_fn``."""
        return self

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
            tensors = [a if isinstance(a, Tensor) else _lift(a, args, cls) for a in args]
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
            raise _reworded(error, fn, arrays, tensors, params) from error
        if type(out) is not np.ndarray:  # NumPy turns 0-d results into scalars
            out = np.asarray(out)
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
        fn.made = next(clock)
        if mode.anomaly:
            fn.where = user_line()
            _check_forward(fn, out, tensors, fn.where)
        else:
            fn.where = None
        return Tensor._make(out, True, fn)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def _reworded(
    error: Exception, fn: Function, arrays: Sequence[np.ndarray], tensors: Sequence[Tensor],
    params: dict[str, Any],
) -> Exception:
    """NumPy's refusal of a forward, said in the operation's words, as a plain ``TypeError``,
    ``ValueError`` or ``IndexError`` (NumPy's own classes need other constructor arguments, so
    they are never re-made; the original is chained as the cause)."""
    message = fn.explain(*arrays, **params)
    shapes = ", ".join(str(t.shape) for t in tensors)
    text = message or f"{fn.name}: {error} (input shapes {shapes})"
    for kind in (TypeError, ValueError, IndexError):  # ValueError first: AxisError is both
        if isinstance(error, kind):
            return kind(text)
    return ValueError(text)


def _unrecorded(fn: Function, out: np.ndarray, tensors: Sequence[Tensor], anomaly: bool) -> Tensor:
    """The result of an operation that is not recorded (no input requires grad, or no_grad)."""
    if anomaly:
        _check_forward(fn, out, tensors, "")
    return Tensor._make(out, False, None)


def _check_forward(fn: Function, out: np.ndarray, tensors: Sequence[Tensor], where: str) -> None:
    bad = non_finite(out)
    if bad is None:
        return
    origin = "" if any(non_finite(t._data) for t in tensors) else " from finite inputs"
    where = where or user_line()
    raise AnomalyError(
        f"{fn.name} produced {bad} in its output of shape {out.shape}{origin}.\n"
        f"  created at {where}",
        fn,
    )


def _lift(value: Any, args: Sequence[Any], cls: type[Function]) -> Tensor:
    """Turn a Python number, list or array into a constant Tensor beside Tensor operands.

    A constant follows the float Tensor beside it (as a Python number does in PyTorch): it
    takes the dtype of the first float Tensor operand, so ``x * 0.5``, ``x * np.sqrt(2.0)``,
    ``x + np.arange(3)`` and a float32 model applied to a float64 NumPy batch all stay
    float32. (Wrap the array in a Tensor to have it promote instead.) Complex numbers, strings
    and objects are refused: casting would drop an imaginary part or parse text as numbers.
    """
    array = operand_array(value, cls.name)
    for a in args:
        if isinstance(a, Tensor) and a._data.dtype.kind == "f":
            return Tensor._make(np.asarray(array, dtype=a._data.dtype), False, None)
    if isinstance(value, np.ndarray):
        return Tensor._make(value, False, None)
    return Tensor(value)


def operand_array(value: Any, name: str) -> Any:
    """``value`` (a number, list or array beside Tensors) as an array, or the number itself;
    complex numbers, strings and objects are refused with a TypeError naming ``name``."""
    array = value
    if not isinstance(value, (np.ndarray, *_NUMBERS)):
        try:
            array = np.asarray(value)
        except ValueError as error:  # ragged nested lists
            raise ValueError(f"{name}: cannot make an array from an operand: {error}") from None
    if isinstance(array, np.ndarray) and array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name}: an operand of dtype {array.dtype} (from {type(value).__name__}) cannot "
            "be used beside a Tensor; expected numbers (bool, int or float)"
        )
    return array


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


from .tensor import Tensor  # noqa: E402  (Tensor needs this module first)
