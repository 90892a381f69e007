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
