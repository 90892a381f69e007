"""Shape operations: reshape, transpose and permute, broadcasting, indexing, joining; and the
checked helpers behind the methods that move axes (``t.transpose``, ``t.squeeze``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import keywords
from ..autograd import Function, ShapeError
from ..tensor import Tensor
from .rules import ArgumentTypeError, dual, is_int, one_axis, reduced_axes, value


class Reshape(Function):
    __slots__ = ()
    name = "reshape"
    reads = ()  # shapes and dtypes only

    def forward(self, x, shape=()):
        return x.reshape(shape)

    def backward(self, g, out, x):
        return (g.reshape(x.shape),)

    def explain(self, x, shape=()):
        return (
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
            f"into {shape}"
        )


class Transpose(Function):
    __slots__ = ("axes",)
    name = "transpose"
    reads = ()  # shapes and dtypes only

    def forward(self, x, axes=()):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g, out, x):
        return (g.transpose(tuple(np.argsort(self.axes))),)


class Expand(Function):
    """Broadcast to a larger shape (the backward of a sum)."""

    __slots__ = ()
    name = "expand"
    reads = ()  # shapes and dtypes only

    def forward(self, x, shape=()):
        return np.broadcast_to(x, shape)

    def backward(self, g, out, x):
        return (g,)  # the engine sums it back to x's shape


def _plain_index(index: Any) -> Any:
    """Tensors and lists in an index become arrays; remembers nothing else."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, list):
        array = np.asarray(index)
        # ``t[[]]`` picks nothing (as in NumPy and PyTorch): an empty list is no float index.
        return array.astype(np.intp) if array.size == 0 and array.dtype.kind == "f" else array
    return index


def _is_advanced(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype != bool for p in parts)


class GetItem(Function):
    """``x[index]``: ints, slices, None, ..., integer arrays and boolean masks."""

    __slots__ = ("index",)
    name = "getitem"
    reads = ()  # shapes and dtypes only

    def forward(self, x, index=None):
        self.index = _plain_index(index)
        return np.asarray(x[self.index])

    def backward(self, g, out, x):
        return (scatter_add(g, index=self.index, shape=x.shape),)

    def explain(self, x, index=None):
        return f"getitem: index {index!r} does not fit a tensor of shape {x.shape}"


class ScatterAdd(Function):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""

    __slots__ = ("index",)
    name = "scatter_add"
    reads = ()  # shapes and dtypes only

    def forward(self, g, index=None, shape=()):
        self.index = index
        full = np.zeros(shape, dtype=g.dtype)
        if _is_advanced(index):
            np.add.at(full, index, g)
        else:
            full[index] = g
        return full

    def backward(self, g, out, src):
        return (g[self.index],)


class Concatenate(Function):
    __slots__ = ("axis",)
    name = "cat"
    reads = ()  # shapes and dtypes only

    def forward(self, *xs, axis=0):
        self.axis = axis
        return np.concatenate(xs, axis=axis)

    def backward(self, g, out, *xs):
        axis = self.axis % g.ndim
        grads, start = [], 0
        for x in xs:
            stop = start + x.shape[axis]
            grads.append(g[(slice(None),) * axis + (slice(start, stop),)])
            start = stop
        return grads

    def explain(self, *xs, axis=0):
        return f"cat: shapes {[x.shape for x in xs]} cannot be joined along axis {axis}"


class Stack(Function):
    __slots__ = ("axis",)
    name = "stack"
    reads = ()  # shapes and dtypes only

    def forward(self, *xs, axis=0):
        self.axis = axis
        return np.stack(xs, axis=axis)

    def backward(self, g, out, *xs):
        axis = self.axis % g.ndim
        return [g[(slice(None),) * axis + (i,)] for i in range(len(xs))]

    def explain(self, *xs, axis=0):
        return f"stack: shapes {[x.shape for x in xs]} must all be equal to stack along {axis}"


# The dual helpers used inside rules (see ``rules``).
expand = dual(Expand)
scatter_add = dual(ScatterAdd)


# ---------------------------------------------------------------------------------------------
# Behind the methods and functions


def shape_argument(shape: tuple, name: str) -> tuple[int, ...]:
    """Sizes given as ints or as one tuple/list, checked to be integers."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(is_int(n) for n in shape):
        raise ShapeError(f"{name}: sizes must be integers, got {shape}")
    return tuple(int(n) for n in shape)


def reshape(x: Tensor, *shape: Any) -> Tensor:
    shape = shape_argument(shape, "reshape")
    if any(n < -1 for n in shape) or shape.count(-1) > 1:
        raise ShapeError(
            f"reshape: invalid shape {shape}: sizes must be >= 0, except one -1 that stands "
            "for the size that fits"
        )
    return Reshape.apply(x, shape=shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, 1)
    start = one_axis(start_dim, x.ndim, "flatten", "start_dim")
    end = one_axis(end_dim, x.ndim, "flatten", "end_dim")
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = (*x.shape[:start], -1, *x.shape[end + 1 :])
    return reshape(x, shape)


def permute(x: Tensor, axes: Sequence[Any], name: str = "permute") -> Tensor:
    """The axes in a new order: ``axes`` names every axis once (NumPy's ``transpose(axes)``)."""
    if not isinstance(axes, (tuple, list)) or not all(is_int(a) for a in axes):
        raise ArgumentTypeError(f"{name}: expected a permutation of the axes as ints, got {axes!r}")
    n = x.ndim
    perm = tuple(int(a) % n if n and -n <= a < n else a for a in axes)
    if sorted(perm) != list(range(n)):
        raise ShapeError(
            f"{name}: {tuple(axes)} is not a permutation of the {n} axes of a tensor of "
            f"shape {x.shape}"
        )
    return Transpose.apply(x, axes=perm)


def transpose(x: Tensor, *axes: Any) -> Tensor:
    """PyTorch's swap of two axes (``transpose(0, 1)``), NumPy's permutation of all axes
    (``transpose((1, 0, 2))`` or ``transpose(1, 0, 2)``), or all axes reversed (no axes or
    None). One tuple is always NumPy's permutation, never PyTorch's swap."""
    if axes in ((), (None,)):
        return Transpose.apply(x, axes=tuple(reversed(range(x.ndim))))
    if len(axes) == 1:  # one tuple, or the one axis of a vector (NumPy's transpose(0))
        return permute(x, axes if is_int(axes[0]) else axes[0], "transpose")
    if len(axes) == 2:
        i, j = (one_axis(a, x.ndim, "transpose", f"dim{k}") for k, a in enumerate(axes))
        perm = list(range(x.ndim))
        perm[i], perm[j] = perm[j], perm[i]
        return Transpose.apply(x, axes=tuple(perm))
    return permute(x, axes, "transpose")


def squeeze(x: Tensor, axis: int | Sequence[int] | None = None, strict: bool = False) -> Tensor:
    """Size-1 axes removed: all of them, or those of ``axis``. An axis whose size is not 1 is
    left alone, as in PyTorch, unless ``strict`` (NumPy's ``np.squeeze`` refuses it)."""
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        axes = reduced_axes(axis, x.ndim, "squeeze")
        if strict and any(x.shape[a] != 1 for a in axes):
            raise ShapeError(
                f"squeeze: cannot squeeze axis {axis} of a tensor of shape {x.shape}: its size "
                "is not 1"
            )
        axes = tuple(a for a in axes if x.ndim and x.shape[a] == 1)
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    shape = list(x.shape)
    shape.insert(one_axis(axis, x.ndim + 1, "unsqueeze"), 1)
    return reshape(x, tuple(shape))


def broadcast_to(x: Tensor, shape: Any, name: str = "broadcast_to") -> Tensor:
    """``x`` repeated (without copying) to ``shape``, as ``np.broadcast_to``."""
    shape = shape_argument((shape,), name)
    fits = len(shape) >= x.ndim and all(
        n == m or n == 1 for n, m in zip(reversed(x.shape), reversed(shape))
    )
    if not fits or any(n < 0 for n in shape):
        raise ShapeError(f"{name}: a tensor of shape {x.shape} cannot be broadcast to {shape}")
    return Expand.apply(x, shape=shape)


def expand_sizes(x: Tensor, *sizes: Any) -> Tensor:
    """PyTorch's ``expand``: ``broadcast_to`` where -1 keeps an existing axis's size."""
    sizes = shape_argument(sizes, "expand")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(
            f"expand: {len(sizes)} sizes given for a tensor with {x.ndim} dims; give at least "
            f"{x.ndim}"
        )
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    return broadcast_to(x, shape, "expand")


def joined_axis(name: str, axis: Any, dim: Any) -> Any:
    """``axis`` (NumPy) or ``dim`` (PyTorch) of ``cat``/``stack``; PyTorch refuses dim=None."""
    if keywords.given(dim) and dim is None:
        raise ArgumentTypeError(
            f"{name}: dim=None is not allowed (PyTorch refuses it too); axis=None joins the "
            "flattened tensors, as np.concatenate does"
        )
    return keywords.pick(name, axis, dim)


def _joined(tensors: Any, name: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise ArgumentTypeError(f"{name}: expected a non-empty list or tuple of tensors, got "
                        f"{type(tensors).__name__}")
    return list(tensors)


def cat(tensors: Sequence[Any], axis: int | None) -> Tensor:
    """Join along an existing axis; ``axis=None`` joins the flattened values (NumPy's)."""
    tensors = _joined(tensors, "cat")
    if axis is None:
        tensors, axis = [flat(t) for t in tensors], 0
    ndim = np.ndim(value(tensors[0]))
    return Concatenate.apply(*tensors, axis=one_axis(axis, ndim, "cat"))


def stack(tensors: Sequence[Any], axis: int) -> Tensor:
    """Join equally shaped tensors along a new axis."""
    tensors = _joined(tensors, "stack")
    return Stack.apply(*tensors, axis=one_axis(axis, np.ndim(value(tensors[0])) + 1, "stack"))


def flat(x: Any) -> Any:
    """``x`` as one axis: a Tensor reshaped in the graph, anything else as ``np.ravel``."""
    return reshape(x, -1) if isinstance(x, Tensor) else np.ravel(x)
