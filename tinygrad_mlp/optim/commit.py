"""Writing a step: what it will write (``Writes``), written with Ctrl-C held back until the
step is whole (``commit_writes``, with the one SIGINT deferral ``INTERRUPTS``).

>>> import numpy as np
>>> from collections import defaultdict
>>> data = np.ones(2)
>>> writes = Writes()
>>> writes.subtracts.append((data, np.array([0.5, 0.25])))
>>> commit_writes(writes, defaultdict(dict))
>>> data.tolist()
[0.5, 0.75]
"""

from __future__ import annotations

import _signal  # signal.getsignal without its conversion to an enum: 50 ns, not 4 µs
import signal
import threading
from collections import defaultdict
from typing import Any

import numpy as np

from ..engine.tensor import Tensor

_SIGINT = int(signal.SIGINT)
_installed_handler = _signal.getsignal
_get_ident = threading.get_ident


class InterruptDeferral:
    """A SIGINT handler, installed from the main thread (the only place Python allows it),
    that chains to the handler it replaced, except while ``committing`` is set: then the
    interrupt is remembered and raised by ``release`` once the step is whole. Threads other
    than the main one need nothing, since Python delivers signals to the main thread only.

    Per step it costs a flag and one look at the installed handler (``tried``): when
    something else has replaced it since (a notebook kernel, a test runner), it is installed
    again, chaining to the newcomer.
    """

    __slots__ = ("caught", "committing", "handler", "main", "previous", "unavailable")

    def __init__(self) -> None:
        self.main = threading.main_thread().ident
        self.committing = False
        self.handler = self.handle  # the one bound method installed, for ``is`` to find it
        self.unavailable = False  # signal.signal refused (an embedded interpreter, say)
        self.previous: Any = None
        self.caught: tuple[int, Any] | None = None

    @property
    def ready(self) -> bool:
        """Whether this handler is the one installed."""
        return _installed_handler(_SIGINT) is self.handler

    @property
    def tried(self) -> bool:
        """Whether there is nothing to install: this handler is in place, or cannot be, or
        SIGINT is ignored or left to the system (SIG_IGN, SIG_DFL: nothing to defer)."""
        current = _installed_handler(_SIGINT)
        return current is self.handler or self.unavailable or not callable(current)

    def install(self) -> None:
        try:
            previous = signal.getsignal(signal.SIGINT)
            if previous is self.handler or not callable(previous):
                return
            signal.signal(signal.SIGINT, self.handler)
        except (ValueError, OSError):  # not the main thread, or an embedded interpreter
            self.unavailable = threading.get_ident() == self.main
            return
        self.previous = previous

    def handle(self, signum: int, frame: Any) -> None:
        if self.committing:
            self.caught = (signum, frame)
            return
        self.previous(signum, frame)

    def release(self) -> None:
        signum, frame = self.caught  # type: ignore[misc]
        self.caught = None
        self.previous(signum, frame)


# The one deferral, for every step that writes: the optimizers' (commit_writes) and the compiled
# step's (tinygrad_mlp.replay sets ``committing`` around its writes as commit_writes does).
INTERRUPTS = InterruptDeferral()

class Writes:
    """What a step will write, gathered while nothing is written yet: new state entries,
    factors to scale parameters by (AdamW's decay) and amounts to subtract from them, one
    by one (``subtracts``) or a group's at once (``blocks``: its arrays and their amounts)."""

    __slots__ = ("blocks", "entries", "scales", "subtracts")

    def __init__(self) -> None:
        self.entries: list[tuple[Tensor, dict[str, Any]]] = []
        self.scales: list[tuple[np.ndarray, float]] = []
        self.subtracts: list[tuple[np.ndarray, np.ndarray]] = []
        self.blocks: list[tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]] = []

    def clear(self) -> None:
        """Forget everything (for the next step)."""
        self.entries.clear()
        self.scales.clear()
        self.subtracts.clear()
        self.blocks.clear()


def commit_writes(writes: Writes, state: defaultdict[Tensor, dict[str, Any]]) -> None:
    """Write ``writes`` (into ``state`` and the parameters' arrays), with Ctrl-C held back
    until all is written when this is the main thread. Nothing here can fail: in-place
    arithmetic into writable arrays of known shapes, and dict assignments."""
    deferral = INTERRUPTS
    held = _get_ident() == deferral.main
    if held:
        if _installed_handler(_SIGINT) is not deferral.handler and not deferral.tried:
            deferral.install()  # not yet, or something else was installed over it since
        deferral.committing = True
    try:
        for p, entries in writes.entries:
            state[p].update(entries)
        for data, scale in writes.scales:  # each parameter scaled before its step
            data *= scale
        for data, delta in writes.subtracts:
            data -= delta
        for datas, deltas in writes.blocks:
            for data, delta in zip(datas, deltas):
                data -= delta
    finally:
        if held:
            deferral.committing = False
    if held and deferral.caught is not None:
        deferral.release()
