"""The buffer arena: flat arrays allocated once and cut into the views a replay writes into.

The gradients of the trainable parameters live in one flat array (an :class:`Arena`), and so
do the two temporaries of the update, in the same layout: an elementwise operation over a
whole parameter group is then one NumPy call on a span of each (``multiply(GF, lr, UF)``),
not one call per parameter.

>>> import numpy as np
>>> arena = Arena([(2, 3), (3,)], np.dtype(np.float32))
>>> arena.view(0).shape, arena.view(1, "F").flags.f_contiguous
((2, 3), True)
>>> arena.span(0, 1).size >= 9
True
"""

from __future__ import annotations

import math

import numpy as np

# Segments of a flat arena start at multiples of this many bytes.
ALIGN = 64


class Arena:
    """One flat zeroed array cut into aligned, contiguous views (the gradients, say).

    Views made in the same order in two arenas of one layout sit at the same offsets, so an
    elementwise operation over a whole span of one arena lines up with the other's.
    """

    def __init__(self, shapes: list[tuple[int, ...]], dtype: np.dtype) -> None:
        step = max(1, ALIGN // dtype.itemsize)
        self.offsets, total = [], 0
        for shape in shapes:
            self.offsets.append(total)
            total += -(-math.prod(shape) // step) * step
        self.total = total
        self.flat = np.zeros(total + step, dtype)
        shift = (-self.flat.ctypes.data % ALIGN) // dtype.itemsize
        self.flat = self.flat[shift : shift + total]
        self.shapes = shapes

    def view(self, index: int, order: str = "C") -> np.ndarray:
        """View ``index`` with its shape, row-major (``"C"``) or column-major (``"F"``)."""
        start, shape = self.offsets[index], self.shapes[index]
        return self.flat[start : start + math.prod(shape)].reshape(shape, order=order)

    def span(self, first: int, last: int) -> np.ndarray:
        """The flat stretch from view ``first`` to the end of view ``last`` (padding too)."""
        return self.flat[self.offsets[first] : self.offsets[last] + math.prod(self.shapes[last])]


class Gradients:
    """The gradients of some parameters and two temporaries of their update, three arenas
    of one layout; each view in the memory order given for its parameter (``"C"`` or
    ``"F"``: a gradient in the layout the eager rule gives it).

    ``pair(key)`` gives two more arenas for one buffer of the optimizer's state
    (``"exp_avg"``, say): a step writes its new values into one of them while the state
    still holds the old ones, and hands them over only when the whole step is known to be
    good; the next step writes into the other.
    """

    def __init__(self, shapes: list[tuple[int, ...]], orders: list[str], dtype: np.dtype):
        self.shapes, self.orders, self.dtype = shapes, orders, dtype
        self.grads, self.temp, self.temp2 = (Arena(shapes, dtype) for _ in range(3))
        self.grad_views = self._views(self.grads)
        self.temp_views = self._views(self.temp)
        self.temp2_views = self._views(self.temp2)
        self.pairs: dict[str, tuple[Arena, Arena]] = {}

    def _views(self, arena: Arena) -> list[np.ndarray]:
        return [arena.view(i, order) for i, order in enumerate(self.orders)]

    def pair(self, key: str) -> tuple[Arena, Arena]:
        """The two arenas for the state buffer ``key`` (made the first time)."""
        if key not in self.pairs:
            self.pairs[key] = (Arena(self.shapes, self.dtype), Arena(self.shapes, self.dtype))
        return self.pairs[key]

    def pair_views(self, key: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per parameter, its two views of ``pair(key)``."""
        first, second = self.pair(key)
        return list(zip(self._views(first), self._views(second)))
