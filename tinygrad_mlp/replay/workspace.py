"""What a replay form writes with: the source writer, the scratch memory, and how it says no.

A :class:`Workspace` is handed to every replay form (``forms.py``, ``updates.py``). It
names objects in the replay's source, emits lines, and hands out buffers: fresh ones
(``buffer``), two that gradients flowing backward take in turn (``turn_buffer``), and a float
and a bool scratch shared by every layer (``scratch``, ``mask``). ``gradient(p)`` is where
the gradient of parameter ``p`` must be written. A form that meets something it cannot
mirror raises :class:`Unsupported`, and the step runs eager.

>>> import numpy as np
>>> ws = Workspace(np.dtype(np.float32), rows=4, widths=[3])
>>> out = ws.buffer("a", (4, 3))
>>> ws.emit(f"maximum(x, ZERO, out={out})")
>>> ws.emit(f"return {out}")
>>> ws.function()(-np.ones((4, 3), np.float32), None).max()
np.float32(0.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from .writer import Writer


class Unsupported(Exception):
    """The model, loss, optimizer or input is outside what a replay can mirror exactly."""


class Workspace:
    """Names, lines and memory for the replay of one step at one batch size (``rows``).

    ``widths`` are the feature counts that flow through the step (the input's and every
    layer's output): the scratch buffers hold ``rows`` times the widest. ``ZERO`` and
    ``ONE`` are bound as 0-d arrays of ``dtype``: the values the eager rules' Python 0 and 1
    become (NEP 50), at a lower price per call.
    """

    def __init__(self, dtype: np.dtype, rows: int, widths: list[int]) -> None:
        self.writer = Writer()
        self.dtype = np.dtype(dtype)
        self.rows = rows
        self.writer.bind("ZERO", np.zeros((), self.dtype))
        self.writer.bind("ONE", np.ones((), self.dtype))
        size = rows * max(widths)
        self._turn = [np.empty(size, self.dtype), np.empty(size, self.dtype)]
        self._turn_next = 0
        self._scratch = np.empty(size, self.dtype)
        self._mask = np.empty(size, bool)
        # id(parameter) -> the view its gradient is written into
        self.grads: dict[int, np.ndarray] = {}

    # -- source --------------------------------------------------------------------------

    def name(self, prefix: str, obj: Any) -> str:
        """The name of ``obj`` in the replay (a fresh ``prefix<n>`` the first time)."""
        return self.writer.name(prefix, obj)

    def emit(self, line: str) -> None:
        """A line of the step's body."""
        self.writer.emit(line)

    def guard(self, line: str) -> None:
        """A line run before anything else: ``return None`` sends the step back to eager,
        ``return False`` too, saying the eager step will raise."""
        self.writer.guard.append(line)

    def setup(self, line: str) -> None:
        """A line run after the guards: reading this step's hyperparameters, say."""
        self.writer.setup.append(line)

    def array(self, name: str) -> Any:
        """The object bound to ``name``."""
        return self.writer.ns[name]

    def function(self) -> Callable[..., Any]:
        return self.writer.function()

    def source(self) -> str:
        return self.writer.source()

    # -- memory --------------------------------------------------------------------------

    def buffer(self, prefix: str, shape: tuple[int, ...], dtype: Any = None,
               order: str = "C") -> str:
        """A buffer of its own (values that must live until backward reads them)."""
        array = np.empty(shape, self.dtype if dtype is None else dtype, order=order)
        return self.name(prefix, array)

    def turn_buffer(self, shape: tuple[int, ...]) -> str:
        """One of two buffers taken in turn: a gradient flowing backward reads one and
        writes the other."""
        flat = self._turn[self._turn_next]
        self._turn_next = 1 - self._turn_next
        return self.name("h", flat[: math.prod(shape)].reshape(shape))

    def scratch(self, shape: tuple[int, ...]) -> str:
        """Float scratch, overwritten by the next layer."""
        return self.name("t", self._scratch[: math.prod(shape)].reshape(shape))

    def mask(self, shape: tuple[int, ...]) -> str:
        """Boolean scratch, overwritten by the next layer."""
        return self.name("m", self._mask[: math.prod(shape)].reshape(shape))

    def transposed(self, name: str) -> str:
        """The transpose of the array called ``name`` (``x.T`` for an argument)."""
        if name not in self.writer.ns:
            return f"{name}.T"
        return self.name(f"{name}_T", self.writer.ns[name].T)

    def gradient(self, p: Tensor) -> np.ndarray:
        """Where the gradient of ``p`` goes."""
        return self.grads[id(p)]
