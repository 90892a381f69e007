"""What every gradient rule shares, and the checks of arguments the operations make.

A rule is ``backward(g, out, *inputs)`` beside its ``forward``, and returns one gradient per
input. It is written once for two worlds: normally ``g``, ``out`` and ``inputs`` are NumPy
arrays; under ``create_graph=True`` they are Tensors and the same lines record the backward
pass as a graph of its own (that is how second derivatives work). So a rule uses only what
both have: operators, ``.sum``, ``.mean``, ``.reshape``, ``.transpose``, ``.mT``, indexing,
``.astype``, and the *dual* helpers (``exp``, ``cos``, ``where``, ``expand``, ... made by
:func:`dual` beside each operation), which call NumPy on arrays and record an operation on
Tensors. Non-differentiable masks are computed on plain values (:func:`value`). Gradients may
keep the broadcast shape: the engine sums them back (``autograd.unbroadcast``). Each class
says what its rule ``reads`` of the values ("inputs", "output", "others" for the product
rule's other input, or nothing): a value read that is changed in place after the node was
made makes backward raise, as PyTorch's version counter does.

Used by every module of ``ops``; the argument checks (:func:`reduced_axes`, :func:`one_axis`,
:func:`number`) also by the Tensor methods and ``numpy_protocol``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd import Function, ShapeError
from ..tensor import Tensor


def value(x: Any) -> np.ndarray:
    """The plain array behind a Tensor (or the array itself): for masks and shapes."""
    return x._data if isinstance(x, Tensor) else x


def dual(op: type[Function]):
    """``op``'s forward on arrays, or a recorded ``op`` when any argument is a Tensor.

    Pass the operation's parameters by keyword (``expand(g, shape=s)``): a positional argument
    would become an input of the recorded node.
    """

    def call(*args: Any, **params: Any) -> Any:
        for a in args:
            if isinstance(a, Tensor):
                return op.apply(*args, **params)
        return op().forward(*args, **params)

    call.__name__ = op.name
    return call


def zeros_like(g: Any) -> Any:
    """Zeros of ``g``'s shape and dtype: an array for an array, a constant Tensor for a Tensor."""
    zeros = np.zeros(value(g).shape, value(g).dtype)
    return Tensor._make(zeros, False, None) if isinstance(g, Tensor) else zeros


def as_tensor(x: Any) -> Tensor:
    """``x`` itself when it is a Tensor, else a new constant Tensor made from it.

    >>> import tinygrad_mlp as tg
    >>> tg.as_tensor([1.0]).dtype
    dtype('float32')
    """
    return x if isinstance(x, Tensor) else Tensor(x)


# ---------------------------------------------------------------------------------------------
# Arguments checked up front, with the operation's name


class ArgumentTypeError(TypeError):
    """An operation refused an argument of the wrong type; the message names both."""


def is_int(n: Any) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_))


def reduced_axes(axis: int | Sequence[int] | None, ndim: int, name: str) -> tuple[int, ...]:
    """Normalise ``axis`` (int, tuple or None) to a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if is_int(axis) else axis
    if not isinstance(axes, (tuple, list)) or not all(is_int(a) for a in axes):
        raise ArgumentTypeError(
            f"{name}: axis must be an int, a tuple of ints or None, got {axis!r} "
            f"({type(axis).__name__})"
        )
    result = []
    for a in axes:
        # As in PyTorch, a 0-d tensor accepts axis 0 and -1 (and has nothing to reduce).
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ShapeError(f"{name}: axis {a} is out of range for a tensor with {ndim} dims")
        result.append(int(a) % max(ndim, 1))
    if len(set(result)) != len(result):
        raise ShapeError(f"{name}: repeated axis in {axis}")
    return tuple(sorted(result)) if ndim else ()


def one_axis(axis: Any, ndim: int, name: str, argument: str = "axis") -> int:
    """``axis`` as one non-negative int below ``ndim`` (a 0-d tensor takes 0 and -1)."""
    if not is_int(axis):
        raise ArgumentTypeError(
            f"{name}: {argument} must be an int, got {axis!r} ({type(axis).__name__})"
        )
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ShapeError(f"{name}: {argument} {axis} is out of range for a tensor with {ndim} dims")
    return int(axis) % max(ndim, 1)


def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


REALS = (int, float, np.integer, np.floating)  # bool is an int: the callers that care say so


def number(x: Any, name: str, argument: str) -> float:
    """``x`` checked to be a real number (not a bool, string, array or Tensor)."""
    if not isinstance(x, REALS) or isinstance(x, (bool, np.bool_)):
        raise ArgumentTypeError(
            f"{name}: {argument} must be a number, got {x!r} ({type(x).__name__})"
        )
    return x
