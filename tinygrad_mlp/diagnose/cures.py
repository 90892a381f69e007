"""The cures: which of the usual fixes to try, each rerun from the same initial weights.

Fix the bias column, average the gradient, standardize inputs (and targets, when they are
values rather than class labels), a smaller learning rate, gradient clipping. A cure must
leave a finite, valid loss that at least halved; one that stays stable but falls by less
is called slow. A "smaller learning rate" is always smaller than the one given.

>>> outcome([4.0, 1.0, 0.5], 3, True), outcome([4.0, np.inf], 2, True)
('cured', 'no')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..data import Standardize
from ..engine.numerics import format_number
from .findings import CureTrial, Diagnosis
from .watch import Fix


def regression_targets(y: Any, outputs: int) -> bool:
    """Are these targets values to regress on, rather than class labels?

    Labels are integer arrays, 0/1 labels (binary or one-hot), class indices ``0..k-1`` for
    a network of ``k > 1`` outputs, and rows of class probabilities. Standardized, they
    would stop being labels: a cross-entropy of a standardized 0/1 target can go negative.

    >>> regression_targets(np.array([[0.0], [1.0]]), 1), regression_targets([[25.0], [346.0]], 1)
    (False, True)
    """
    y = np.asarray(y)
    if y.dtype.kind != "f" or y.size == 0 or np.all((y == 0) | (y == 1)):
        return False
    if outputs > 1 and y.ndim == 1:
        return not np.all((y == np.round(y)) & (y >= 0) & (y < outputs))
    rows = y.reshape(y.shape[0], -1)
    return not (rows.shape[1] > 1 and np.all((rows >= 0) & (rows <= 1))
                and np.allclose(rows.sum(axis=1), 1.0))


def standardize(X: np.ndarray, y: Any, outputs: int, samples_axis: int = 0
                ) -> tuple[np.ndarray, Any, str]:
    """Standardized inputs, and targets when they are values rather than class labels;
    with the words for what was standardized. ``samples_axis`` is 1 for data laid out
    ``(features, m)``.

    >>> Xs, ys, what = standardize(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]), 1)
    >>> Xs.ravel().tolist(), what
    ([-1.0, 1.0], 'inputs')
    """
    if samples_axis == 1:
        Xt, yt, what = standardize(np.asarray(X).T, np.asarray(y).T, outputs)
        return Xt.T, (yt.T if what == "inputs and targets" else y), what
    Xs = Standardize().fit_transform(X)
    if not regression_targets(y, outputs):
        return Xs, y, "inputs"
    shape = np.shape(y)
    ys = Standardize().fit_transform(np.reshape(y, (shape[0], -1))).reshape(shape)
    return Xs, ys, "inputs and targets"


def outcome(losses: list[float], epochs: int, nonnegative: bool) -> str:
    """``"cured"``: all epochs ran, the loss stayed finite and valid (never negative for a
    loss that cannot be), still went down at the end and at least halved. ``"slow"``: all of
    that but less than halved. ``"no"`` otherwise.

    >>> outcome([4.4e4, 3.5e4, 2.9e4], 3, True), outcome([0.7, 0.1, -0.1], 3, True)
    ('slow', 'no')
    """
    if len(losses) < epochs or not np.all(np.isfinite(losses)):
        return "no"
    if nonnegative and min(losses) < 0:
        return "no"  # not a value this loss can take: the "fix" changed the problem
    start, end = losses[0], losses[-1]
    late = losses[int(0.9 * (len(losses) - 1))]
    if not (end < start and end <= late * (1 + 1e-9)):
        return "no"
    return "cured" if end <= 0.5 * start else "slow"


def needs_cure(d: Diagnosis) -> bool:
    """Blew up, or ended with a finite loss above where it started."""
    return d.blew_up or bool(d.losses and np.isfinite(d.losses[-1])
                             and d.losses[-1] > d.losses[0])


def smaller_lr(d: Diagnosis, base_lr: float) -> Fix | None:
    """The smaller-learning-rate cure: ``1/λmax`` (lr · λmax = 1, half the stability limit)
    when that is below ``base_lr``, else a tenth of ``base_lr`` (the curvature at the
    start does not ask for less, but the run still failed)."""
    if not (d.lambda_max > 0 and np.isfinite(d.lambda_max)):
        return None
    fmt = format_number
    new_lr = 1.0 / d.lambda_max
    if new_lr < base_lr:
        change = (f"learning_rate {fmt(base_lr)} -> {fmt(new_lr)} = 1/λmax, half the stability "
                  "limit (lr·λmax = 1)")
    else:
        new_lr = base_lr / 10
        change = (f"learning_rate {fmt(base_lr)} -> {fmt(new_lr)}, a tenth (lr · λmax is "
                  f"already {fmt(base_lr * d.lambda_max)} at the start, below 1)")
    return Fix("lower_lr", f"smaller learning rate ({fmt(new_lr)})", change, lr=new_lr)


def candidate_fixes(d: Diagnosis, bias_broken: bool, clip_norm: float, base_lr: float,
                    averaged: str = "loss.derivative") -> list[Fix]:
    """The fixes worth trying on this run, in the order the report lists them; ``averaged``
    is what the averaging cure divides (``"loss.derivative"``, ``"the loss"``, ``"the
    step"``)."""
    fixes: list[Fix] = []
    avg = d.averaging_factor
    # A negative factor is a sign error in the backprop, which no averaging mends.
    can_average = avg > 0 and abs(avg - 1.0) > 1e-6
    fmt = format_number
    if bias_broken:
        zero_bias = d.backprop is not None and "zero_bias_column" in d.backprop.causes
        fixes.append(Fix("bias", "fix the bias column" if zero_bias else "textbook update_weights",
                         "update_weights replaced by the textbook update W[i] -= lr * "
                         "[1, Z_{i-1}].T @ delta_i, whose column multiplying the bias row is "
                         "made of ones", fix_update=True))
    if can_average:
        fixes.append(Fix("average", f"average the gradient (/{fmt(avg)})",
                         f"{averaged} divided by {fmt(avg)}, so each step is the gradient of "
                         "the per-sample mean loss", average=avg))
    what = d.standardized_what
    y_too = "y likewise" if what == "inputs and targets" else "y (class labels) kept as it is"
    fixes.append(Fix("standardize", f"standardize {what}",
                     f"X -> (X - mean) / std per feature, {y_too} (statistics of this data); "
                     "same initial weights", standardize=True))
    if can_average:
        fixes.append(Fix("average+standardize", "average + standardize",
                         "both of the above together", average=avg, standardize=True))
    lower = smaller_lr(d, base_lr)
    if lower is not None:
        fixes.append(lower)
    fixes.append(Fix("clip", f"clip the gradient norm at {fmt(clip_norm)}",
                     f"each step rescaled so that the applied gradient has norm at most "
                     f"{fmt(clip_norm)} (the step is at most lr × {fmt(clip_norm)} long)",
                     clip=clip_norm))
    if bias_broken and can_average:
        fixes.append(Fix("bias+average+standardize", "all code fixes + standardize",
                         f"bias column fixed, gradient averaged, {what} standardized",
                         fix_update=True, average=avg, standardize=True))
    return fixes


def run_trials(d: Diagnosis, runner: Any, fixes: list[Fix], X: np.ndarray, y: Any,
               epochs: int, data_std: tuple[np.ndarray, Any], nonnegative: bool) -> None:
    """Rerun with each fix from the same initial weights and add its trial to ``d``."""
    for fix in fixes:
        Xf, yf = data_std if fix.standardize else (X, y)
        run = runner.run(Xf, yf, epochs, fix, record=False)
        lam_data = d.lambda_max_standardized if fix.standardize else d.lambda_max_loss
        lrl = None
        if fix.clip is None and lam_data is not None:
            # Dividing the derivative by the averaging factor divides the curvature of what
            # the steps descend by the same factor (for a summed loss that leaves the mean's).
            scale = d.update_scale / (fix.average or 1.0)
            lr = fix.lr if fix.lr is not None else d.learning_rate
            lrl = lr * scale * lam_data
        first = run.events[0].epoch if run.events else None
        losses = run.losses
        result = outcome(losses, epochs, nonnegative)
        d.trials.append(CureTrial(
            fix.key, fix.label, fix.change, lrl, first,
            losses[0] if losses else math.nan, losses[-1] if losses else math.nan,
            result == "cured", losses, slow=result == "slow"))


def late_check(d: Diagnosis, lam_at: Callable[[int], float | None]) -> None:
    """Compare the growth predicted by |1 - lr·λmax| with the growth seen, late in a blow-up."""
    losses = np.asarray(d.losses)
    if not d.blew_up or losses.size < 20:
        return
    ok = np.flatnonzero(np.isfinite(losses) & (losses < 1e100) & (losses > 0))
    if ok.size < 12:
        return
    e = int(ok[-2])
    if e < 10:
        return
    lam = lam_at(e)
    if lam is None or not np.isfinite(lam):
        return
    lrl = d.learning_rate * d.update_scale * lam
    window = losses[e - 5: e + 1]
    if np.any(window <= 0) or not np.all(np.isfinite(window)):
        return
    observed = float(np.exp(np.mean(np.diff(np.log(window)))) ** 0.5)
    d.late_check = {"epoch": float(e), "lr_lambda": lrl, "predicted": abs(1 - lrl),
                    "observed": observed}
