"""The graph and reverse-mode differentiation, in one place to import them from.

The ideas live in modules of their own, each small:

- ``modes``: grad mode and anomaly mode, per thread (``no_grad``, ``enable_grad``,
  ``detect_anomaly``, ``is_grad_enabled``; ``mode`` is the current thread's settings);
- ``function``: the graph node :class:`Function` and its ``apply``, the errors operations
  raise (``OperationError``, ``ShapeError``, ``AnomalyError``) and the creation ``clock``;
- ``backward``: the backward pass in its steps (``run_backward``), the public graph walk
  (``topological_order``, ``inputs_of``), ``unbroadcast``, and the entry points ``backward``
  and ``grad``.

Every name they offer is importable from here, as before the split.
"""

from __future__ import annotations

from .backward import (
    backward,
    free,
    grad,
    inputs_of,
    run_backward,
    topological_order,
    unbroadcast,
)
from .function import (
    AnomalyError,
    Function,
    OperationError,
    ShapeError,
    clock,
    user_line,
)
from .modes import (
    Mode,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    mode,
    no_grad,
)

__all__ = [
    "AnomalyError",
    "Function",
    "Mode",
    "OperationError",
    "ShapeError",
    "backward",
    "clock",
    "detect_anomaly",
    "enable_grad",
    "free",
    "grad",
    "inputs_of",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "mode",
    "no_grad",
    "run_backward",
    "topological_order",
    "unbroadcast",
    "user_line",
]
