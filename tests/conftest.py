"""Helpers shared by the engine tests: finite differences and hypothesis shape strategies."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

# Few examples and no deadline: the suite must stay fast, and the first example of a test pays
# for imports and warm-up, which a deadline would misread as slowness.
FAST = settings(max_examples=25, deadline=None)


def numerical_grad(
    f: Callable[..., np.ndarray],
    arrays: Sequence[np.ndarray],
    index: int,
    upstream: np.ndarray,
    eps: float = 1e-6,
) -> np.ndarray:
    """Central differences of ``sum(f(*arrays) * upstream)`` with respect to ``arrays[index]``.

    Works in float64 whatever the inputs are, because float32 rounding would swamp the
    difference quotient.
    """
    arrays = list(arrays)
    x = np.array(arrays[index], dtype=np.float64)
    arrays[index] = x
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + eps
        plus = np.sum(np.asarray(f(*arrays), dtype=np.float64) * upstream)
        x[i] = original - eps
        minus = np.sum(np.asarray(f(*arrays), dtype=np.float64) * upstream)
        x[i] = original
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def spaced_values(rng: np.random.Generator, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Arrays of the given shapes whose entries are all different, 0.01 apart and never 0.

    Ties and zeros are where max, min, abs, relu and clip have kinks; keeping every value
    0.005 away from them keeps a finite difference of step 1e-6 on one smooth side.
    """
    sizes = [int(np.prod(s)) for s in shapes]
    grid = rng.choice(np.arange(-300, 300), size=sum(sizes), replace=False) / 100 + 0.005
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(grid[start : start + size].reshape(shape))
        start += size
    return out


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy:
    return st.lists(st.integers(1, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def broadcastable_shapes(draw, n: int = 2, max_dims: int = 3, max_side: int = 4):
    """``n`` shapes that broadcast together: trailing parts of one shape, some sides set to 1."""
    full = draw(shapes(0, max_dims, max_side))
    result = []
    for _ in range(n):
        ndim = draw(st.integers(0, len(full)))
        tail = full[len(full) - ndim :]
        result.append(tuple(1 if draw(st.booleans()) else side for side in tail))
    return tuple(result)


@st.composite
def matmul_shapes(draw):
    """Operand shapes for ``@``: vectors, matrices and broadcast batches of matrices."""
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(broadcastable_shapes(2, max_dims=2, max_side=3))
    a = (k,) if draw(st.booleans()) else (*batch_a, n, k)
    b = (k,) if draw(st.booleans()) else (*batch_b, k, m)
    return a, b


seeds = st.integers(0, 2**32 - 1)


# ---------------------------------------------------------------------------------------------
# Strategies for the shape operations and indexing


def axes_of(ndim: int, extra: int = 0) -> st.SearchStrategy:
    """One axis of an ``ndim + extra``-dim result, in positive or negative form."""
    n = ndim + extra
    return st.integers(-n, n - 1)


@st.composite
def reshape_targets(draw, size: int):
    """A shape with ``size`` elements: random factors, some 1s, maybe one side given as -1."""
    sides, rest = [], size
    while rest > 1 and draw(st.booleans()):
        side = draw(st.sampled_from([d for d in range(2, rest + 1) if rest % d == 0]))
        sides.append(side)
        rest //= side
    if rest > 1 or not sides:
        sides.append(rest)
    sides += [1] * draw(st.integers(0, 2))
    sides = list(draw(st.permutations(sides)))
    if draw(st.booleans()):
        sides[draw(st.integers(0, len(sides) - 1))] = -1
    return tuple(sides)


def _slice_for(draw, side: int) -> slice:
    bound = st.none() | st.integers(-side - 2, side + 2)
    step = st.none() | st.integers(-3, 3).filter(bool)
    return slice(draw(bound), draw(bound), draw(step))


@st.composite
def basic_indices(draw, shape: tuple[int, ...]):
    """A basic index for ``shape``: ints, slices with steps (also negative and out of range),
    ``None`` anywhere and at most one ``...`` standing for the axes not named."""
    ndim = len(shape)
    lead = draw(st.integers(0, ndim))
    ellipsis = draw(st.booleans())
    trail = draw(st.integers(0, ndim - lead)) if ellipsis else 0
    named = list(range(lead)) + list(range(ndim - trail, ndim))
    parts: list = []
    for axis in named:
        side = shape[axis]
        if draw(st.booleans()):
            parts.append(draw(st.integers(-side, side - 1)))
        else:
            parts.append(_slice_for(draw, side))
    if ellipsis:
        parts.insert(lead, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


@st.composite
def integer_array_indices(draw, shape: tuple[int, ...]):
    """Integer arrays on one or two axes (adjacent or not), other axes sliced or left out.

    At least one element is always picked twice, sometimes once as ``i`` and once as
    ``i - side``, so the backward must accumulate rather than overwrite. A second array is
    either as large as the first or a single value that broadcasts against it.
    """
    ndim = len(shape)
    count = draw(st.integers(1, min(2, ndim)))
    axes = sorted(draw(st.permutations(range(ndim)))[:count])
    index_shape = draw(shapes(1, 2, 3).filter(lambda s: int(np.prod(s)) >= 2))
    arrays = {}
    for k, axis in enumerate(axes):
        side = shape[axis]
        full = k == 0 or draw(st.booleans())
        size = int(np.prod(index_shape)) if full else 1
        values = draw(st.lists(st.integers(-side, side - 1), min_size=size, max_size=size))
        array = np.array(values, dtype=draw(st.sampled_from([np.int64, np.int32])))
        if full:
            array[1] = array[0] - side if array[0] >= 0 and draw(st.booleans()) else array[0]
            array = array.reshape(index_shape)
        elif draw(st.booleans()):
            array = array.reshape(())
        arrays[axis] = array
    last = draw(st.integers(axes[-1] + 1, ndim))  # axes after this one are left implicit
    parts = []
    for axis in range(last):
        if axis in arrays:
            parts.append(arrays[axis])
        else:
            parts.append(draw(st.sampled_from([slice(None), _slice_for(draw, shape[axis])])))
    return parts[0] if len(parts) == 1 and draw(st.booleans()) else tuple(parts)


@st.composite
def boolean_mask_indices(draw, shape: tuple[int, ...]):
    """A boolean mask over the leading axes (all of them or fewer), or a 1-D mask on one
    axis after full slices; some masks pick nothing, some everything."""
    ndim = len(shape)
    start = draw(st.integers(0, ndim - 1))
    stop = draw(st.integers(start + 1, ndim)) if start == 0 else start + 1
    mask_shape = shape[start:stop]
    size = int(np.prod(mask_shape))
    mask = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)), dtype=bool)
    mask = mask.reshape(mask_shape)
    return mask if start == 0 and draw(st.booleans()) else (slice(None),) * start + (mask,)


@st.composite
def cat_shapes(draw, max_inputs: int = 4):
    """Shapes for ``cat`` along a random axis (positive or negative): equal except on that
    axis, where each input has its own side (0 included)."""
    base = draw(shapes(1, 3, 3))
    axis = draw(axes_of(len(base)))
    result = []
    for _ in range(draw(st.integers(1, max_inputs))):
        shape = list(base)
        shape[axis] = draw(st.integers(0, 3))
        result.append(tuple(shape))
    return result, axis
