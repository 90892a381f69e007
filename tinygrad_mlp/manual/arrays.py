"""What the manual network's modules share: arrays as float64, and the column of ones.

Offered to the other modules of :mod:`tinygrad_mlp.manual` (activations, losses, the
networks); NumPy only.

>>> prepend_ones(np.zeros((2, 1))).tolist()
[[1.0, 0.0], [1.0, 0.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def as_float(a: ArrayLike) -> FloatArray:
    """``a`` as a float64 array (no copy when it already is one).

    >>> as_float([1, 2]).dtype.name
    'float64'
    """
    return np.asarray(a, dtype=np.float64)


def prepend_ones(Z: FloatArray) -> FloatArray:
    """``[1, Z]``: a column of ones before ``Z``, the column that multiplies row 0 of
    ``W[i]``, which is how the bias enters.

    >>> prepend_ones(np.array([[5.0]])).tolist()
    [[1.0, 5.0]]
    """
    return np.concatenate((np.ones((Z.shape[0], 1)), Z), axis=1)
