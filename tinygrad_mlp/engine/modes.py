"""Grad mode and anomaly mode: what the engine records and checks, one copy per thread.

``mode`` holds the current thread's settings (as in PyTorch, grad mode is per thread):
``mode.grad_enabled`` (record operations for backward), ``mode.anomaly`` (check every value
for NaN and inf) and ``mode.latest_pass`` (weak references to the nodes of the latest backward
pass, which keep its gradients for pictures until the next pass). The engine reads it on
every operation; the compiled step (``tinygrad_mlp.replay``) reads it to decide whether it may
replay. The context managers below are how users change it.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any


class Mode(threading.local):
    """Grad mode and anomaly mode, one copy per thread (as in PyTorch), and weak references to
    the nodes of the latest backward pass (they hold its gradients, for pictures, until the
    next pass)."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.latest_pass: list[weakref.ref[Any]] = []  # of Function nodes


mode = Mode()


def is_grad_enabled() -> bool:
    """True when operations are being recorded for backward in this thread.

    >>> import tinygrad_mlp as tg
    >>> tg.is_grad_enabled()
    True
    """
    return mode.grad_enabled


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()`` in this thread (as ``torch.is_anomaly_enabled``).

    >>> import tinygrad_mlp as tg
    >>> with tg.detect_anomaly():
    ...     is_anomaly_enabled()
    True
    """
    return mode.anomaly


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
        self._previous.append(mode.grad_enabled)
        mode.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        mode.grad_enabled = self._previous.pop()

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
        self._previous.append(mode.anomaly)
        mode.anomaly = True
        return self

    def __exit__(self, *exc: object) -> None:
        mode.anomaly = self._previous.pop()
