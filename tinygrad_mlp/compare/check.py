"""Checking a network in any convention but the skeleton's: the reference, your parts, the verdicts.

:func:`check_network` is what :func:`~tinygrad_mlp.compare.check_backprop` runs for
Nielsen's and Ng's conventions and :func:`~tinygrad_mlp.compare.check_gradients` for a free
form: it computes the reference (:mod:`.reference`), runs your backprop under the line
tracer to collect every part your convention exposes, judges them in backprop order
(:mod:`.stages`), confirms a factor equal to the batch size by a rerun at another batch
size, and writes the :class:`~.report.GradientReport`. An error inside your code is the
report's finding, not a crash of the check; a call with other arguments than the
convention's gets a :class:`~.network.ConventionError` first.

>>> from tinygrad_mlp.compare.freeform import FreeformNetwork
>>> net = FreeformNetwork(lambda p: float((p["w"] ** 2).sum()), {"w": np.ones(2)},
...                       {"w": np.full(2, 2.0)})
>>> check_network(net).ok
True
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..text import wrap
from .network import NotDifferentiable, UserNetwork
from .reference import EXACT, FINITE, Reference, exact_reference, finite_reference
from .report import GradientReport
from .stages import FD_RTOL, RTOL, confirm_batch_factors, run_checks
from .usercode import exception_text, user_traceback_frame

TITLES = {
    "nielsen": "Nielsen's network.py", "nielsen2": "Nielsen's network2.py",
    "ng": "Ng's 2-layer form", "ng-deep": "Ng's L-layer form", "free-form": "free form",
}
SHAPE_HINT = (" A shape error in backprop is almost always a missing or extra transpose: in "
              "the column layout (one example per column) dW = dZ @ A_prev.T and "
              "dA_prev = W.T @ dZ.")


def reference_of(net: Any, X: Any, Y: Any) -> Reference:
    """The exact reference when your code runs on Tensors, finite differences otherwise.

    >>> from tinygrad_mlp.compare.freeform import FreeformNetwork
    >>> net = FreeformNetwork(lambda p: (p["w"] ** 2).sum(), {"w": np.ones(2)},
    ...                       {"w": np.zeros(2)})
    >>> ref = reference_of(net, None, None)
    >>> ref.method, ref.pieces[0]["w"].tolist()
    ('exact', [2.0, 2.0])
    """
    try:
        return exact_reference(net.pieces(X, Y))
    except NotDifferentiable as exc:
        return finite_reference(net.fd_losses(X, Y), net.parameters(), exc.reason)


def check_network(net: UserNetwork, X: Any = None, Y: Any = None, rtol: float | None = None,
                  confirm: bool = True) -> GradientReport:
    """Check every part of ``net``'s backprop on the batch ``X``, ``Y`` (see the module
    docstring); ``rtol`` defaults to 1e-6 (1e-5 against finite differences).

    >>> from tinygrad_mlp.compare.freeform import FreeformNetwork
    >>> net = FreeformNetwork(lambda p: float((p["w"] ** 2).sum()), {"w": np.ones(2)},
    ...                       {"w": np.ones(2)})
    >>> check_network(net).first_mismatch, sorted(check_network(net).causes)
    ('w', ['factor_half'])
    """
    X, Y = net.prepare(X, Y)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = reference_of(net, X, Y)
        if ref.method == FINITE and hasattr(net, "example_losses") and X.shape[0] > 8:
            X, Y = net.subset(X, Y, 8)  # per-example differences: a few examples suffice
            ref = reference_of(net, X, Y)
            ref.notes.append("finite differences on the first 8 examples only")
        tolerance = rtol if rtol is not None else (RTOL if ref.method == EXACT else FD_RTOL)
        m = net.batch_size(X)
        try:
            quantities, dense = net.collect(X, Y, ref)
        except Exception as exc:
            return _raised(net, X, Y, ref, exc)
        checks = run_checks(quantities, dense, m, tolerance)
        if confirm and m is not None and m > 1 and net.subset is not None:
            confirm_batch_factors(checks, lambda: _quantities_at(net, X, Y, m // 2), m, m // 2)
    notes = list(ref.notes) + [f"your code changed {path}; it was put back" for path in net.changes]
    return GradientReport(_title(net, X, ref, m), net.convention, checks.rows, checks.findings,
                          ref.method, ref.reason, notes)


def _quantities_at(net: UserNetwork, X: Any, Y: Any, k: int) -> list[Any]:
    Xs, Ys = net.subset(X, Y, k)
    ref = reference_of(net, Xs, Ys)
    return net.collect(Xs, Ys, ref)[0]


def _raised(net: UserNetwork, X: Any, Y: Any, ref: Reference, exc: Exception) -> GradientReport:
    found = user_traceback_frame(exc.__traceback__)
    part = found[0].f_code.co_name if found is not None else type(exc).__name__
    words = exception_text(exc) + "."
    if isinstance(exc, ValueError) and any(w in str(exc).lower() for w in
                                           ("shape", "align", "broadcast", "dimension")):
        words += SHAPE_HINT
    return GradientReport(_title(net, X, ref, net.batch_size(X)), net.convention, [], [],
                          ref.method, ref.reason, list(ref.notes), error=words, error_part=part)


def _title(net: UserNetwork, X: Any, ref: Reference, m: int | None) -> str:
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in net.parameters().items())
    batch = "" if m is None else f", {m} examples"
    return wrap(f"check_backprop: {TITLES.get(net.convention, net.convention)}{batch}, loss "
                f"{ref.value:.6g}; parameters {shapes}", "", "  ")
