"""Networks in the course skeleton's convention: forward_pass, backward_pass, update_weights.

A network written by hand in the course skeleton (see :mod:`tinygrad_mlp.manual`) has four
places where backprop can go wrong: the forward pass, the loss derivative ``dL/dŷ``, the
deltas of ``backward_pass`` and the step of ``update_weights``. :func:`check_skeleton` (what
:func:`~tinygrad_mlp.compare.check_backprop` calls for such a network) runs *your* methods
(any object with ``W``, ``activations``, ``loss``, ``learning_rate``, ``forward_pass``,
``backward_pass`` and ``update_weights``; it does not have to be ours) and compares each
stage with the same quantity computed by the autograd engine in float64:

==========  ==========================================  ====================================
stage       what your code produced                     what it is compared with
==========  ==========================================  ====================================
forward     ``A_vals[i]``, ``Z_vals[i]``                ``[1, Z_{i-1}] @ W[i]`` and ``g_i(A_i)``
loss        ``loss.derivative(ŷ, y)``                   the gradient of *your* ``loss.value``
activation  ``activations[i].derivative(A_i)``          the derivative of *your* ``.value``
backward    ``deltas[i]``                               ``dL/dA_i``
update      ``ΔW[i] / -learning_rate``, bias row and    ``dL/dW[i]``, same split
            weight rows separately
end-to-end  the same, with your stages chained          ``dL/dW[i]``
==========  ==========================================  ====================================

When stages disagree the report says where they first part and, when it recognises the
pattern, why (a bias column of zeros, a missing ``1/n``, an activation derivative evaluated
at the wrong argument, a transpose). How the references are computed is told in
:mod:`.skeleton_reference`. Your network is never changed: every call runs on a copy, and
the original's weights and attributes are checked and restored afterwards.

>>> from tinygrad_mlp import manual
>>> X = np.random.default_rng(0).normal(size=(8, 3)); y = X[:, :1] ** 2
>>> net = manual.NeuralNetwork(3, [4, 1], [manual.Tanh(), manual.Identity()], manual.MSE())
>>> check_skeleton(net, X, y).ok
True
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .arrays import BATCH_EXPONENT, batch_confirmation
from .skeleton_report import BackpropReport, Finding, Location, Row
from .skeleton_stages import SkeletonChecker, check_convention, untouched
from .usercode import exception_text

STAGE_ORDER = ("forward", "loss", "activation", "backward", "update", "end-to-end")



def first_mismatch(rows: list[Row]) -> Location | None:
    """The first counted row that disagrees, in the order of the stages.

    >>> first_mismatch([]) is None
    True
    """
    for stage in STAGE_ORDER:
        for r in rows:
            if r.location.stage == stage and r.counted and not r.ok:
                return r.location
    return None


def check_skeleton(
    net: Any,
    X: ArrayLike,
    y: ArrayLike,
    rtol: float = 1e-6,
    atol: float = 1e-12,
    confirm: bool = True,
) -> BackpropReport:
    """Check a hand-written network's backprop against autograd, stage by stage, in float64.

    :param net: any object in the skeleton's convention (``W``, ``activations``, ``loss``,
        ``learning_rate``, ``forward_pass``, ``backward_pass``, ``update_weights``). It is
        not changed: every method runs on a copy.
    :param X: inputs, shape ``(n, n_features)``; ``y``: targets as your loss expects them.
    :param rtol, atol: a stage agrees when ``max|yours - autograd's| <= atol + rtol * scale``
        (``scale`` = the largest magnitude of either). References computed by finite
        differences use at least ``rtol = 1e-5``.
    :param confirm: rerun at a second batch size to confirm a factor equal to ``n``.
    :returns: a :class:`BackpropReport`; print it for the table and the explanations.

    >>> import numpy as np
    >>> from tinygrad_mlp import manual
    >>> X = np.random.default_rng(0).normal(size=(6, 2)); y = X.sum(1, keepdims=True)
    >>> net = manual.PostedNeuralNetwork(2, [3, 1], [manual.ReLU(), manual.Identity()],
    ...                                  manual.MSE())
    >>> report = check_skeleton(net, X, y)
    >>> report.ok, str(report.first_mismatch), "zero_bias_column" in report.causes
    (False, 'update, layer 0, bias row', True)
    """
    check_convention(net)
    X = np.array(X, dtype=np.float64, copy=True)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, n_features), got shape {X.shape}")
    y_arr = np.array(y, copy=True)
    if y_arr.dtype.kind in "fc":
        y_arr = y_arr.astype(np.float64)
    with untouched(net), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        checker = SkeletonChecker(net, X, y_arr, rtol, atol)
        checker.run()
        if confirm:
            _confirm_factors(checker, net, X, y_arr, rtol, atol)
    rows, findings, notes = checker.rows, checker.findings, checker.notes
    first = first_mismatch(rows)
    first = _compensated(rows, findings, notes, first)
    for ref in checker.ref.acts:
        if ref.note:
            notes.append(ref.note + ".")
    ref_notes = [
        "autograd in float64",
        "activations: " + ", ".join(a.label for a in checker.ref.acts),
        f"loss: {checker.ref.loss_ref.label}",
    ]
    shapes = " -> ".join([str(X.shape[1])] + [str(a.shape[1]) for a in checker.ref.A])
    title = (
        f"check_backprop: {type(net).__name__} ({shapes}), {X.shape[0]} samples, "
        f"learning_rate {checker.lr:g}, loss {type(net.loss).__name__} = "
        f"{checker.ref.loss_value:.6g}"
    )
    return BackpropReport(rows, findings, notes, title, X.shape[0], first, ref_notes)


def _compensated(rows: list[Row], findings: list[Finding], notes: list[str],
                 first: Location | None) -> Location | None:
    """Accept stages that are off by factors which cancel when the stages are chained.

    Where the 1/n lives (in loss.derivative, as the skeleton says, or in update_weights) is
    a convention; if the chained step agrees with autograd, training is right.
    """
    if first is None:
        return None
    chained = [r for r in rows if r.location.stage == "end-to-end"]
    isolated_bad = [r for r in rows if r.counted and not r.ok and r.location.stage != "end-to-end"]
    if not chained or not all(r.ok for r in chained):
        return first
    if all(r.factor is not None for r in isolated_bad if not r.inherited) and not any(
        r.location.stage == "forward" for r in isolated_bad
    ):
        where = ", ".join(str(r.location) for r in isolated_bad)
        notes.append(
            f"Stages are off by constant factors ({where}) that cancel when chained: one "
            "training step agrees with autograd. The skeleton puts the 1/n of a mean loss in "
            "loss.derivative; yours lives elsewhere, which is fine as long as both move together."
        )
        for r in isolated_bad:
            r.counted = False
            r.verdict += " (compensated)"
        findings.clear()
        return None
    return first


def _confirm_factors(checker: SkeletonChecker, net: Any, X: np.ndarray, y: np.ndarray,
                     rtol: float, atol: float) -> None:
    """Rerun with half the samples: a factor that follows the batch size is the 1/n.

    A rerun that fails (your code raised at the smaller batch) is reported as such and
    leaves the factor unconfirmed; only a rerun that measures the same constant again
    calls it a constant.
    """
    todo = [f for f in checker.findings if f.cause in BATCH_EXPONENT]
    if not todo:
        return
    n, m = X.shape[0], X.shape[0] // 2
    if m < 1:
        for f in todo:
            f.message += " (Could not confirm at a second batch size: only one sample.)"
        return
    try:
        small = SkeletonChecker(net, X[:m], y[:m], rtol, atol)
        small.run()
    except Exception as exc:
        for f in todo:
            f.message += (f" (Not confirmed: the rerun with {m} samples failed: "
                          f"{exception_text(exc)}.)")
        return
    for f in todo:
        big = next(r for r in checker.rows if r.location == f.location)
        part = next((r for r in small.rows if r.location == f.location), None)
        if part is None:
            failed = next((r.error for r in small.rows if r.error), "that stage did not run")
        else:
            failed = part.error
        small_factor = None if part is None else part.factor
        verdict = batch_confirmation(big.factor, small_factor, failed,
                                     BATCH_EXPONENT[f.cause], n, m)
        f.confirmed = verdict.confirmed
        f.message += " " + verdict.words
