"""Why did my network blow up to inf and NaN? Train a copy while watching, then try the cures.

:func:`diagnose` takes a network in the course skeleton's convention (your own class, or
ours) or an ``nn`` model with a loss, and trains a **copy** with full-batch gradient descent
while it watches every stage of every epoch. Its report says:

* where the first inf or NaN appears: the epoch, the method or operation, and for a
  hand-written network the source line (found by replaying that call under a line tracer);
* how each layer grows: max |activation|, max |weight|, gradient norm and the ratio of the
  update to the weights, per epoch, with the growth factor;
* what was wrong before training started: units dead or saturated at the initial weights,
  a loss that is already inf, input features on wildly different scales;
* the step-size check. Gradient descent on a loss with curvature ``λ`` along some direction
  multiplies the error along it by ``|1 - lr·λ|`` per step, so it is stable only when
  ``lr · λmax < 2``, ``λmax`` being the largest eigenvalue of the Hessian. ``λmax`` is
  estimated by power iteration on Hessian-vector products, each one a double backward
  through the engine (``tg.grad(loss, params, create_graph=True)`` then the gradient of
  ``<g, v>``);
* which of the usual cures (fix the bias column, average the gradient, standardize inputs
  and targets, a smaller learning rate, gradient clipping) actually cure the run, each tried
  from the same initial weights. Targets are standardized only when they are values (class
  labels stay labels), and a cure must leave a finite, valid loss that at least halved; one
  that stays stable but falls by less is called slow.

The posted network of the question that started this project is :func:`posted_setup`; run
``print(demo())`` for its diagnosis.

>>> import numpy as np
>>> from tinygrad_mlp import manual
>>> X = np.random.default_rng(0).normal(size=(40, 3)); y = X[:, :1] - X[:, 1:2]
>>> net = manual.NeuralNetwork(3, [8, 1], [manual.Tanh(), manual.Identity()], manual.MSE(),
...                            learning_rate=0.05)
>>> report = diagnose(net, X, y, epochs=50, try_cures=False)
>>> report.blew_up, report.lr_times_lambda_max < 2
(False, True)
"""

from __future__ import annotations

import copy
import functools
import linecache
import math
import os
import sys
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import compare, manual
from ..engine import functions as F
from ..engine.autograd import AnomalyError, detect_anomaly
from ..engine.autograd import grad as _grad
from ..engine.tensor import Tensor
from ..scenario import PostedMSE, diabetes_feature_names, fixed_setup, posted_setup
from ..scenario import setup as _setup
from ..text import NUMPY_DIR, wrap

__all__ = [
    "CureTrial",
    "DiagnosisReport",
    "FeatureScales",
    "NonFinite",
    "PostedMSE",
    "UnitHealth",
    "demo",
    "diagnose",
    "fixed_setup",
    "hessian_lambda_max",
    "posted_setup",
]

_STDLIB_DIR = os.path.dirname(os.path.abspath(os.__file__))
_THIS_FILES = {os.path.abspath(__file__), os.path.abspath(compare.__file__)}


# ---------------------------------------------------------------------------------------------
# Report pieces


@dataclass
class NonFinite:
    """The first inf or NaN of one kind: ``epoch``, ``stage`` (method or operation), the
    ``array`` that held it, ``kind`` (``"inf"``, ``"nan"``, or ``"exception"``), the source
    ``line`` where it was made when known, and what NumPy said (``numpy_message``).

    >>> str(NonFinite(3, "loss.value", "loss", "inf"))
    'epoch 3, loss.value: loss became inf'
    """

    epoch: int
    stage: str
    array: str
    kind: str
    line: str | None = None
    numpy_message: str | None = None

    def __str__(self) -> str:
        if self.kind == "exception":
            return f"epoch {self.epoch}, {self.stage} raised {self.array}"
        text = f"epoch {self.epoch}, {self.stage}: {self.array} became {self.kind}"
        return text


@dataclass
class FeatureScales:
    """Per-feature scale of the inputs and targets: mean, standard deviation, RMS, max |x|.

    ``flagged`` names features whose RMS is 100 or more times the smallest one (or far from
    1); ``spread`` is the largest RMS over the smallest.

    >>> s = FeatureScales.of(np.array([[1.0, 100.0], [3.0, 300.0]]), np.ones((2, 1)))
    >>> s.spread
    100.0
    """

    names: list[str]
    mean: np.ndarray
    std: np.ndarray
    rms: np.ndarray
    max_abs: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    y_rms: np.ndarray
    flagged: list[str]
    spread: float

    @classmethod
    def of(cls, X: np.ndarray, y: np.ndarray, names: Sequence[str] | None = None) -> FeatureScales:
        """Measure ``X`` (n, f) and ``y`` (n, k).

        >>> FeatureScales.of(np.zeros((2, 1)), np.zeros((2, 1))).names
        ['x0']
        """
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
        names = list(names) if names is not None else [f"x{j}" for j in range(X.shape[1])]
        # The RMS (not the standard deviation) is what the curvature sees: an uncentred
        # feature such as age (about 50 +- 13) enters the Hessian through E[x^2] = 50^2.
        rms = np.sqrt(np.mean(X * X, axis=0))
        positive = rms[rms > 0]
        smallest = float(positive.min()) if positive.size else 1.0
        spread = float(rms.max() / smallest) if positive.size else 1.0
        flagged = [n for n, r in zip(names, rms) if r >= 100 * smallest or r > 10 or 0 < r < 0.1]
        return cls(names, X.mean(0), X.std(0), rms, np.abs(X).max(0), Y.mean(0), Y.std(0),
                   np.sqrt(np.mean(Y * Y, axis=0)), flagged, spread)

    @property
    def standardized(self) -> bool:
        """True when every feature and target has mean about 0 and std about 1.

        >>> FeatureScales.of(np.array([[-1.0], [1.0]]), np.array([[-1.0], [1.0]])).standardized
        True
        """
        ok_x = np.all(np.abs(self.mean) < 0.1) and np.all(np.abs(self.std - 1) < 0.1)
        ok_y = np.all(np.abs(self.y_mean) < 0.1) and np.all(np.abs(self.y_std - 1) < 0.1)
        return bool(ok_x and ok_y)


@dataclass
class UnitHealth:
    """Units of one layer at the initial weights: how many are dead or saturated.

    ``constant`` counts units whose output is the same on every sample (a dead ReLU: 0; a
    saturated sigmoid: exactly 0 or 1); ``saturated_fraction`` is the share of outputs
    that sit exactly at a limit of the activation (0 or 1 for a sigmoid, ±1 for tanh).

    >>> UnitHealth(0, "relu", 16, 3, 0.0).constant
    3
    """

    layer: int
    activation: str
    units: int
    constant: int
    saturated_fraction: float
    note: str = ""


@dataclass
class CureTrial:
    """One candidate fix, rerun from the same initial weights.

    ``key`` is short (``"average"``, ``"standardize"``, ``"average+standardize"``, ...),
    ``change`` says in words what was changed, ``lr_times_lambda_max`` is the step-size
    number at the start (None when not meaningful), ``cured`` is True when the loss stayed
    finite and valid (never negative for a loss that cannot be), at least halved and was still
    going down at the end; ``slow`` when it did all that but fell by less than half.

    >>> CureTrial("clip", "clip", "clip at 1", None, None, 1.0, 0.5, True, []).cured
    True
    """

    key: str
    label: str
    change: str
    lr_times_lambda_max: float | None
    first_nonfinite_epoch: int | None
    initial_loss: float
    final_loss: float
    cured: bool
    losses: list[float]
    slow: bool = False


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if not np.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits + 1}g}"
    return f"{x:.{digits - 1}e}"


@dataclass
class DiagnosisReport:
    """What :func:`diagnose` found; ``str(report)`` reads as a report.

    Fields for tests and tools: ``blew_up`` (an inf or NaN appeared), ``first_nonfinite``
    (a :class:`NonFinite` or None), ``events`` (the first inf/NaN of each stage, in order),
    ``lambda_max`` (largest Hessian eigenvalue of the loss the update actually descends),
    ``lambda_max_loss`` (of the printed ``loss.value``), ``update_scale`` (the update is
    that many times the gradient of the printed loss), ``lr_times_lambda_max``,
    ``max_stable_lr`` (``2 / lambda_max``), ``losses`` and per-epoch ``history``, ``units``,
    ``scales``, ``standardized_what`` (``"inputs and targets"``, or ``"inputs"`` when the
    targets are class labels), ``trials`` and ``cures`` (keys of the trials that cured the run),
    ``backprop`` (a :class:`~tinygrad_mlp.compare.BackpropReport`, hand-written networks
    only) and ``anomaly`` (the engine's :class:`~tinygrad_mlp.AnomalyError` for the first
    non-finite operation, for ``tinygrad_mlp.viz.draw_anomaly``).

    >>> print(str(_example_report()).splitlines()[0].split(",")[0])
    Diagnosis: NeuralNetwork (1 -> 1)
    """

    title: str
    learning_rate: float
    epochs: int
    losses: list[float]
    history: dict[str, np.ndarray]
    layer_labels: list[str]
    events: list[NonFinite]
    units: list[UnitHealth]
    loss_at_init: float
    scales: FeatureScales
    lambda_max_loss: float
    update_scale: float
    loss_is_sum: bool
    n_samples: int
    hessian_method: str
    lambda_max_standardized: float | None = None
    standardized_what: str = "inputs and targets"
    late_check: dict[str, float] | None = None
    trials: list[CureTrial] = field(default_factory=list)
    backprop: compare.BackpropReport | None = None
    anomaly: AnomalyError | None = None
    notes: list[str] = field(default_factory=list)
    stopped: str | None = None

    # -- numbers ---------------------------------------------------------------------------

    @property
    def blew_up(self) -> bool:
        """True when an inf or NaN appeared (or a stage raised) during training.

        >>> _example_report().blew_up
        True
        """
        return bool(self.events)

    @property
    def first_nonfinite(self) -> NonFinite | None:
        """The first inf or NaN: epoch, stage, array and source line.

        >>> str(_example_report().first_nonfinite)
        'epoch 303, loss.value: loss became inf'
        """
        return self.events[0] if self.events else None

    @property
    def lambda_max(self) -> float:
        """λmax of the loss whose gradient the update follows (``update_scale`` × λmax of
        the printed loss).

        >>> round(_example_report().lambda_max, 4)  # (9 + sqrt(61)) / 2 for this data
        8.4051
        """
        return self.update_scale * self.lambda_max_loss

    @property
    def lr_times_lambda_max(self) -> float:
        """``learning_rate · λmax``: gradient descent is stable only below 2.

        >>> round(_example_report().lr_times_lambda_max, 2)
        4.2
        """
        return self.learning_rate * self.lambda_max

    @property
    def max_stable_lr(self) -> float:
        """``2 / λmax``: the largest learning rate that does not diverge near the start.

        >>> round(_example_report().max_stable_lr, 3)
        0.238
        """
        return 2.0 / self.lambda_max if self.lambda_max > 0 else math.inf

    @property
    def averaging_factor(self) -> float:
        """How many times the gradient of the per-sample MEAN loss the update is.

        >>> _example_report().averaging_factor
        1.0
        """
        return self.update_scale * (self.n_samples if self.loss_is_sum else 1.0)

    @property
    def cures(self) -> list[str]:
        """Keys of the fixes that cured the run (empty when it did not need curing).

        >>> _example_report().cures
        ['standardize', 'lower_lr', 'clip']
        """
        return [t.key for t in self.trials if t.cured]

    # -- text ------------------------------------------------------------------------------

    def verdict(self, width: int = 96) -> str:
        """The first paragraph of the report: what happened and the main reason.

        >>> print(_example_report().verdict().splitlines()[0])
        The run blows up: epoch 303, loss.value: loss became inf.
        """
        lines: list[str] = []
        lrl = self.lr_times_lambda_max
        if not np.isfinite(self.loss_at_init):
            lines.append(f"The loss is already {self.loss_at_init} at the initial weights, before "
                         "any update, so no step size can help: see section 3 (an output "
                         "exactly 0 or 1 makes log(ŷ) = -inf) and section 1 for the line.")
        if self.blew_up:
            first = self.first_nonfinite
            assert first is not None
            nan = next((e for e in self.events if e.kind == "nan"), None)
            text = f"The run blows up: {first}"
            if nan is not None and nan is not first:
                text += f"; the first NaN appears at epoch {nan.epoch} ({nan.stage}, {nan.array})"
            lines.append(text + ".")
        elif np.isfinite(self.losses[-1]) and self.losses[-1] > 10 * self.losses[0]:
            lines.append(f"The run diverges without reaching inf in {self.epochs} epochs: the "
                         f"loss grew from {_fmt(self.losses[0])} to {_fmt(self.losses[-1])}.")
        else:
            lines.append(f"The run is stable: all values stay finite for {self.epochs} epochs "
                         f"and the loss goes from {_fmt(self.losses[0])} to "
                         f"{_fmt(self.losses[-1])}.")
        if not np.isfinite(lrl):
            lines.append(f"λmax could not be estimated: {self._why_no_lambda()}.")
        elif lrl > 2:
            lines.append(
                f"The steps are too large for the curvature of the loss: lr · λmax = "
                f"{_fmt(self.learning_rate)} × {_fmt(self.lambda_max)} = {_fmt(lrl)}, and "
                "gradient descent is only stable below 2; each step multiplies the error "
                f"along the steepest direction by about |1 - lr·λmax| = {_fmt(abs(1 - lrl))}."
            )
            causes = []
            if abs(self.averaging_factor - 1) > 1e-6:
                causes.append(
                    f"the update is {_fmt(self.averaging_factor)} times the gradient of the "
                    "mean loss (a sum over the samples where a mean belongs), which "
                    "multiplies λmax by that much"
                )
            if self.lambda_max_standardized and self.lambda_max_standardized > 0 and (
                    self.lambda_max_loss > 10 * self.lambda_max_standardized):
                ratio = self.lambda_max_loss / self.lambda_max_standardized
                causes.append(
                    f"the raw feature scales make λmax {_fmt(ratio)} times larger than on "
                    f"standardized {self.standardized_what}"
                )
            if causes:
                lines.append("Where that comes from: " + "; ".join(causes) + ".")
            lines.append(f"The largest stable learning rate here is 2/λmax = "
                         f"{_fmt(self.max_stable_lr)}.")
        elif self.blew_up or self.losses[-1] > self.losses[0]:
            lines.append(f"lr · λmax = {_fmt(lrl)} is below the stability limit 2, so the step "
                         "size is not what breaks it: look at the first non-finite line, the "
                         "units and the backprop check below.")
        else:
            lines.append(f"lr · λmax = {_fmt(lrl)} is below the stability limit 2.")
        cured = [t.label for t in self.trials if t.cured]
        slow = [t.label for t in self.trials if t.slow]
        if self.trials:
            if cured:
                lines.append("Cured by: " + "; ".join(cured) + ".")
            else:
                lines.append("None of the candidate fixes cured it on its own (see the table).")
            if slow:
                lines.append("Stable but slow (the loss fell by less than half): "
                             + "; ".join(slow) + ".")
        return "\n".join(wrap(line, "", width=width) for line in lines)

    def _why_no_lambda(self) -> str:
        if not np.isfinite(self.loss_at_init):
            return "the loss is not finite at the initial weights"
        return "the Hessian-vector products were not finite"

    def __str__(self) -> str:
        out = [self.title, "=" * min(len(self.title), 96), "", self.verdict(), ""]
        out += self._section_nonfinite()
        out += self._section_scales()
        out += self._section_units()
        out += self._section_step()
        out += self._section_growth()
        out += self._section_backprop()
        out += self._section_cures()
        for note in self.notes:
            out.append(wrap("Note: " + note, ""))
        return "\n".join(out).rstrip() + "\n"

    def _section_nonfinite(self) -> list[str]:
        out = ["1. Where the first inf/NaN appears"]
        if not self.events:
            out.append("  Nowhere: every value stayed finite.")
            return [*out, ""]
        explained_nan = False
        for e in self.events:
            out.append(f"  - {e}")
            if e.line:
                out.append(f"      at {e.line}")
            if e.numpy_message:
                out.append(f"      NumPy: {e.numpy_message}")
            if e.kind == "nan" and not explained_nan:
                explained_nan = True
                out.append(wrap("NaN is what inf - inf, 0 × inf and inf / inf give: once a "
                                 "value overflows to inf, the next operation that meets a 0 "
                                 "(a dead ReLU's derivative) or another inf makes NaN, and NaN "
                                 "spreads to everything it touches.", "      "))
        if self.anomaly is not None:
            node = getattr(self.anomaly, "node", None)
            name = getattr(node, "name", "?")
            out.append(f"  The same computation in the autograd engine first fails at its "
                       f"'{name}' operation (tg.detect_anomaly).")
        if self.stopped:
            out.append(wrap(self.stopped))
        return [*out, ""]

    def _section_scales(self) -> list[str]:
        s = self.scales
        out = ["2. Inputs and targets"]
        out.append(f"  {'feature':<10}{'mean':>10}{'std':>10}{'rms':>10}{'max|x|':>10}")
        for j, name in enumerate(s.names):
            out.append(f"  {name[:10]:<10}{_fmt(s.mean[j]):>10}{_fmt(s.std[j]):>10}"
                       f"{_fmt(s.rms[j]):>10}{_fmt(s.max_abs[j]):>10}")
        for k in range(len(s.y_mean)):
            label = "y" if len(s.y_mean) == 1 else f"y{k}"
            out.append(f"  {label:<10}{_fmt(s.y_mean[k]):>10}{_fmt(s.y_std[k]):>10}"
                       f"{_fmt(s.y_rms[k]):>10}{'':>10}")
        if s.flagged:
            out.append(wrap(
                f"Feature scales (RMS) range over a factor {_fmt(s.spread)}; not standardized: "
                f"{', '.join(s.flagged)}. The curvature of the loss grows with the square of "
                "the input scale, so one learning rate cannot suit them all; standardize "
                "(subtract the mean, divide by the std, fit on the training set)."))
        elif s.standardized:
            out.append("  Inputs and targets are standardized (mean 0, std 1).")
        return [*out, ""]

    def _section_units(self) -> list[str]:
        out = ["3. Units at the initial weights"]
        for u in self.units:
            text = f"layer {u.layer} ({u.activation}, {u.units} unit{'s' * (u.units != 1)}): "
            parts = []
            if u.constant and u.activation == "relu":
                parts.append(f"{u.constant} of {u.units} dead (output 0 on every sample)")
            elif u.constant:
                parts.append(f"{u.constant} of {u.units} give the same output on every sample "
                             "(saturated)")
            if u.saturated_fraction > 0:
                parts.append(f"{100 * u.saturated_fraction:.1f}% of outputs exactly at a limit "
                             "of the activation")
            if u.note:
                parts.append(u.note)
            last = u.layer == len(self.units) - 1
            out.append(wrap(text + ("; ".join(parts) if parts else
                                     ("the output" if last else "no dead or saturated units"))))
        if not np.isfinite(self.loss_at_init):
            out.append(wrap(f"The loss is already {self.loss_at_init} at the initial weights, "
                             "before any update."))
        else:
            out.append(f"  Loss at the initial weights: {_fmt(self.loss_at_init, 4)}.")
        return [*out, ""]

    def _section_step(self) -> list[str]:
        out = ["4. Step size against curvature"]
        out.append(wrap(
            f"λmax of the Hessian of the printed loss at the initial weights: "
            f"{_fmt(self.lambda_max_loss, 3)} ({self.hessian_method})."))
        if abs(self.update_scale - 1) > 1e-6:
            out.append(wrap(
                f"The update applies {_fmt(self.update_scale, 4)} times that loss's gradient "
                "(see the backprop check), so the steps descend a loss whose λmax is "
                f"{_fmt(self.lambda_max, 3)}."))
        if self.loss_is_sum:
            out.append(wrap("The loss value is a SUM over the samples (it doubles when the "
                             "data are repeated), so its curvature grows with n."))
        lrl = self.lr_times_lambda_max
        if not np.isfinite(lrl):
            out.append(f"  lr · λmax cannot be computed: {self._why_no_lambda()}.")
            return [*out, ""]
        verdict = "UNSTABLE" if lrl > 2 else "stable"
        out.append(f"  lr · λmax = {_fmt(self.learning_rate)} × {_fmt(self.lambda_max, 3)} = "
                   f"{_fmt(lrl, 3)}   (stability limit 2: {verdict})")
        out.append(f"  largest stable learning rate 2/λmax = {_fmt(self.max_stable_lr, 3)}")
        if self.lambda_max_standardized is not None:
            std_lrl = self.learning_rate * self.update_scale * self.lambda_max_standardized
            steps = ", and lr · λmax"
            if abs(self.update_scale - 1) > 1e-6:
                scale = _fmt(self.update_scale, 4)
                steps = f"; with the update's factor {scale}, lr · {scale} · λmax"
            out.append(wrap(
                f"On standardized {self.standardized_what} (same weights) the printed loss "
                f"has λmax = {_fmt(self.lambda_max_standardized, 3)}{steps} would be "
                f"{_fmt(std_lrl, 3)}."))
        late = self.late_check
        if late:
            out.append(wrap(
                f"Later, at epoch {int(late['epoch'])}, lr · λmax = {_fmt(late['lr_lambda'], 3)}: "
                f"gradient descent predicts the error to grow by |1 - lr·λmax| = "
                f"{_fmt(late['predicted'], 3)} per epoch; measured (the square root of the "
                f"loss ratio): {_fmt(late['observed'], 3)}."))
        return [*out, ""]

    def _section_growth(self) -> list[str]:
        h = self.history
        E = len(self.losses)
        if E == 0:
            return []
        out = ["5. Growth per layer (selected epochs)"]
        out.append(f"  {'epoch':>5}  {'layer':<22}{'max|A|':>10}{'max|W|':>10}{'|grad|':>10}"
                   f"{'|dW|/|W|':>10}{'const':>7}{'loss':>11}")
        for e in _chosen_epochs(E, self.first_nonfinite):
            for i, label in enumerate(self.layer_labels):
                loss = _fmt(self.losses[e]) if i == 0 else ""
                const = "" if np.isnan(h["constant"][e, i]) else str(int(h["constant"][e, i]))
                out.append(
                    f"  {(str(e) if i == 0 else ''):>5}  {label[:22]:<22}"
                    f"{_fmt(h['max_abs_A'][e, i]):>10}{_fmt(h['max_abs_W'][e, i]):>10}"
                    f"{_fmt(h['grad_norm'][e, i]):>10}{_fmt(h['update_ratio'][e, i]):>10}"
                    f"{const:>7}{loss:>11}")
        for text in self.growth_lines():
            out.append(wrap(text))
        for text in self.story_lines():
            out.append(wrap(text))
        return [*out, ""]

    def growth_lines(self) -> list[str]:
        """Per-layer growth factors of max |A| (per epoch, over the last finite stretch).

        >>> _example_report().growth_lines()[0].split(" over ")[0]
        'layer 0 (identity, 1): max|A| x3.203 per epoch'
        """
        A = self.history["max_abs_A"]
        finite = np.all(np.isfinite(A), axis=1) & (A.max(axis=1) > 0)
        idx = np.flatnonzero(finite)
        if idx.size < 3:
            return []
        last = int(idx[-1])
        start = max(int(idx[0]), last - 10)
        lines = []
        for i, label in enumerate(self.layer_labels):
            a0, a1 = A[start, i], A[last, i]
            if a0 > 0 and a1 > 0 and last > start:
                per = (a1 / a0) ** (1.0 / (last - start))
                since = f" (x{_fmt(A[last, i] / A[0, i])} since epoch 0)" if A[0, i] > 0 else ""
                if abs(per - 1) < 0.01:
                    lines.append(f"{label}: max|A| steady over epochs {start}-{last}{since}.")
                else:
                    lines.append(f"{label}: max|A| x{_fmt(per, 3)} per epoch over epochs "
                                 f"{start}-{last}{since}.")
        return lines

    def story_lines(self) -> list[str]:
        """Plain-words milestones: the first large jump, hidden units dying.

        >>> _example_report().story_lines()
        []
        """
        h = self.history
        lines = []
        W = h["max_abs_W"]
        if (W.shape[0] > 1 and np.all(np.isfinite(W[:2])) and np.max(W[0]) > 0
                and np.max(W[1]) > 1e3 * np.max(W[0])):
            lines.append(f"The very first update multiplied the largest weight by "
                         f"{_fmt(np.max(W[1]) / np.max(W[0]))}: the first step already "
                         "overshoots.")
        const, units = h["constant"], h["units"]
        hidden = [i for i in range(len(self.layer_labels) - 1) if not np.isnan(const[0, i])]
        if hidden:
            all_dead = np.all(const[:, hidden] >= units[:, hidden], axis=1)
            if np.any(all_dead):
                e = int(np.argmax(all_dead))
                lines.append(
                    f"From epoch {e} every hidden unit gives the same output on every sample "
                    "(ReLUs dead): the network predicts one constant, and only the output "
                    "layer's bias still learns.")
        return lines

    def _section_backprop(self) -> list[str]:
        if self.backprop is None:
            return []
        out = ["6. Backprop against autograd (check_backprop at the initial weights)"]
        for line in self.backprop.summary().splitlines():
            out.append(wrap(line))
        return [*out, ""]

    def _section_cures(self) -> list[str]:
        if not self.trials:
            if not self.blew_up:
                return ["7. Candidate fixes: not needed, the run is stable.", ""]
            return []
        out = [f"7. Candidate fixes (each rerun from the same initial weights, "
               f"{self.epochs} epochs)"]
        out.append(f"  {'fix':<34}{'lr·λmax':>9}  {'first inf/NaN':<14}{'loss start -> end':>24}"
                   "  cured?")
        for t in self.trials:
            bad = "-" if t.first_nonfinite_epoch is None else f"epoch {t.first_nonfinite_epoch}"
            losses = f"{_fmt(t.initial_loss)} -> {_fmt(t.final_loss)}"
            lrl = t.lr_times_lambda_max
            lrl_text = _fmt(lrl) if lrl is not None and np.isfinite(lrl) else "-"
            verdict = "YES" if t.cured else "slow" if t.slow else "no"
            out.append(f"  {t.label[:34]:<34}{lrl_text:>9}  {bad:<14}{losses:>24}  {verdict}")
        out.append("  What each fix changed:")
        for t in self.trials:
            out.append(wrap(f"- {t.label}: {t.change}", "    "))
        return [*out, ""]


def _chosen_epochs(E: int, first: NonFinite | None) -> list[int]:
    picks = {0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, E - 1}
    if first is not None:
        picks |= {first.epoch - 1, first.epoch}
    return sorted(e for e in picks if 0 <= e < E)


# ---------------------------------------------------------------------------------------------
# Finding the line that made the first inf/NaN


def _nonfinite_kind(value: Any) -> str | None:
    try:
        a = np.asarray(value)
    except Exception:
        return None
    if a.dtype.kind not in "fc" or a.size == 0:
        return None
    with np.errstate(all="ignore"):
        if np.all(np.isfinite(a)):
            return None
        return "nan" if np.any(np.isnan(a)) else "inf"


def _scan(frame: types.FrameType) -> dict[str, str]:
    """Names of the frame's locals (and ``self``'s arrays) that hold inf or NaN."""
    found: dict[str, str] = {}

    def visit(name: str, value: Any, depth: int) -> None:
        if isinstance(value, (np.ndarray, float, np.floating)):
            kind = _nonfinite_kind(value)
            if kind:
                found[name] = kind
        elif isinstance(value, (list, tuple)) and depth < 1 and len(value) < 1000:
            for i, item in enumerate(value):
                visit(f"{name}[{i}]", item, depth + 1)

    for name, value in list(frame.f_locals.items()):
        if name == "self" and hasattr(value, "__dict__"):
            for attr, item in list(vars(value).items()):
                visit(f"self.{attr}", item, 0)
        else:
            visit(name, value, 0)
    return found


def _traced_file(filename: str) -> bool:
    path = os.path.abspath(filename)
    if path in _THIS_FILES or path.startswith(NUMPY_DIR):
        return False
    return not (path.startswith(_STDLIB_DIR) or filename.startswith("<"))


class _LineFinder:
    """Replays one call under ``sys.settrace`` and records the first line that made an
    inf or NaN appear among the local variables (or in a return value).

    BLAS matrix products overflow silently, so NumPy's floating point flags alone would
    miss them; looking at the values after every line does not.
    """

    def __init__(self) -> None:
        self.line: str | None = None
        self.numpy_message: str | None = None

    def run(self, call: Callable[[], Any]) -> None:
        previous = sys.gettrace()

        def errcall(kind: str, flag: int) -> None:
            if self.numpy_message is None:
                self.numpy_message = f"floating point {kind} reported"

        old_call = np.seterrcall(errcall)
        sys.settrace(self._global)
        try:
            with np.errstate(over="call", invalid="call", divide="call", under="ignore"):
                call()
        except Exception:
            pass  # a replay that raises has already been reported as an exception
        finally:
            sys.settrace(previous)
            np.seterrcall(old_call)

    def _global(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if self.line is not None or event != "call" or not _traced_file(frame.f_code.co_filename):
            return None
        state = {"previous": frame.f_lineno, "bad": set(_scan(frame))}

        def local(frame: types.FrameType, event: str, arg: Any) -> Any:
            if self.line is not None:
                return None
            if event in ("line", "return"):
                bad = _scan(frame)
                new = [name for name in bad if name not in state["bad"]]
                lineno = state["previous"]
                if event == "return" and not new and _nonfinite_kind(arg):
                    new, lineno = ["the return value"], frame.f_lineno
                if new:
                    kind = bad.get(new[0]) or _nonfinite_kind(arg) or "non-finite"
                    self._record(frame, lineno, f"{new[0]} became {kind}")
                    return None
                state["bad"] = set(bad)
                state["previous"] = frame.f_lineno
            return local

        return local

    def _record(self, frame: types.FrameType, lineno: int, what: str) -> None:
        filename = frame.f_code.co_filename
        code = linecache.getline(filename, lineno).strip()
        qual = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
        self.line = f"{os.path.basename(filename)}:{lineno} in {qual}: {code}   [{what}]"


# ---------------------------------------------------------------------------------------------
# Watching a hand-written network train


@dataclass
class _Fix:
    key: str
    label: str
    change: str
    fix_update: bool = False
    average: float | None = None
    standardize: bool = False
    lr: float | None = None
    clip: float | None = None


_NO_FIX = _Fix("none", "as given", "nothing")


class _ScaledLoss:
    """A loss whose derivative is multiplied by ``scale`` (the value is unchanged)."""

    def __init__(self, loss: Any, scale: float) -> None:
        self.loss = loss
        self.scale = scale
        self.name = getattr(loss, "name", type(loss).__name__)

    def value(self, y_hat: Any, y: Any) -> float:
        return self.loss.value(y_hat, y)

    def derivative(self, y_hat: Any, y: Any) -> np.ndarray:
        return np.asarray(self.loss.derivative(y_hat, y), dtype=np.float64) * self.scale


def _textbook_update(self: Any, X: Any, Z_vals: Sequence[Any], deltas: Sequence[Any]) -> Any:
    """``W[i] -= lr * [1, Z_{i-1}].T @ delta_i``, the update of the skeleton done right."""
    inputs = [np.asarray(X, dtype=np.float64)] + [np.asarray(z) for z in Z_vals[:-1]]
    for i, (Z, delta) in enumerate(zip(inputs, deltas)):
        ones = np.ones((Z.shape[0], 1))
        self.W[i] -= self.learning_rate * (np.concatenate((ones, Z), axis=1).T @ delta)
    return self.W


class _Run:
    """What one watched training run saw: the loss per epoch, the per-layer history, and the
    first inf/NaN of each stage, with what is needed to replay the call that made the first
    one (and the first NaN) in ``replays``."""

    _KEYS = ("max_abs_A", "max_abs_Z", "max_abs_W", "grad_norm", "update_ratio", "constant",
             "units")

    def __init__(self, epochs: int, L: int) -> None:
        self.losses: list[float] = []
        self.history = {k: np.full((epochs, L), np.nan) for k in self._KEYS}
        self.events: list[NonFinite] = []
        self.replays: dict[int, tuple] = {}
        self.stopped: str | None = None

    def note(self, epoch: int, stage: str, items: list[tuple[str, Any]],
             weights: Sequence[np.ndarray], inputs: tuple | None = None) -> None:
        """Record the first non-finite value among ``items`` unless ``stage`` already had one
        of its kind; ``weights`` and ``inputs`` are what replaying that call needs."""
        for name, value in items:
            is_list = isinstance(value, (list, tuple))
            for i, v in enumerate(value if is_list else [value]):
                kind = _nonfinite_kind(v)
                if kind is None:
                    continue
                first_nan = kind == "nan" and not any(e.kind == "nan" for e in self.events)
                if not first_nan and any(e.stage == stage and e.kind == kind
                                         for e in self.events):
                    continue
                if not self.events or first_nan:
                    self.replays[len(self.events)] = (stage, [w.copy() for w in weights],
                                                      copy.deepcopy(inputs))
                self.events.append(NonFinite(epoch, stage, f"{name}[{i}]" if is_list else name,
                                             kind))
                return

    def record(self, epoch: int, i: int, A: Any, Z: Any, W_before: np.ndarray,
               W_after: np.ndarray, lr: float, hidden: bool) -> None:
        """One layer's row of the history; the step is left out when ``W`` changed shape."""
        h = self.history
        h["max_abs_A"][epoch, i] = _max_abs(A)
        h["max_abs_Z"][epoch, i] = _max_abs(Z)
        h["max_abs_W"][epoch, i] = _max_abs(W_before)
        if W_after.shape == W_before.shape:
            step = float(np.linalg.norm(W_before - W_after))
            h["grad_norm"][epoch, i] = step / lr
            w_norm = float(np.linalg.norm(W_before))
            h["update_ratio"][epoch, i] = step / w_norm if w_norm > 0 else np.nan
        if hidden:
            h["constant"][epoch, i], h["units"][epoch, i] = _constant_units(Z)

    def finish(self) -> _Run:
        """Cut the history to the epochs that ran."""
        self.history = {k: v[: len(self.losses)] for k, v in self.history.items()}
        return self


def _max_abs(a: Any) -> float:
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(a)))


def _constant_units(Z: Any) -> tuple[int, int]:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] < 2:
        return 0, Z.shape[-1] if Z.ndim else 1
    with np.errstate(all="ignore"):
        same = np.all(Z == Z[:1], axis=0)
    return int(np.sum(same)), Z.shape[1]


class _ManualRunner:
    """Trains copies of a hand-written network and watches each of its methods."""

    def __init__(self, net: Any, lr: float | None) -> None:
        compare._check_convention(net)
        self.net = net
        self.lr = float(net.learning_rate if lr is None else lr)
        self.W0 = [np.array(w, dtype=np.float64, copy=True) for w in net.W]
        self.L = len(self.W0)

    def labels(self, refs: list[Any]) -> list[str]:
        return [f"layer {i} ({r.label.split(' ')[0]}, {w.shape[1]})"
                for i, (r, w) in enumerate(zip(refs, self.W0))]

    def twin(self, fix: _Fix, W: Sequence[np.ndarray] | None = None) -> Any:
        twin = compare._clone(self.net, self.W0 if W is None else W)
        twin.learning_rate = self.lr if fix.lr is None else fix.lr
        if fix.fix_update:
            twin.update_weights = types.MethodType(_textbook_update, twin)
        if fix.average:
            twin.loss = _ScaledLoss(twin.loss, 1.0 / fix.average)
        if fix.clip:
            twin.update_weights = _clipped(twin, twin.update_weights, fix.clip)
        return twin

    def run(self, X: np.ndarray, y: Any, epochs: int, fix: _Fix, record: bool = True) -> _Run:
        twin = self.twin(fix)
        lr = float(twin.learning_rate)
        run = _Run(epochs, self.L)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in range(epochs):
                W_before = [np.array(w, dtype=np.float64, copy=True) for w in twin.W]
                stage = "forward_pass"
                try:
                    A_vals, Z_vals = twin.forward_pass(X)
                    run.note(epoch, stage, [("A_vals", A_vals), ("Z_vals", Z_vals)], W_before, (X,))
                    stage = "loss.value"
                    value = float(twin.loss.value(Z_vals[-1], y))
                    run.note(epoch, stage, [("loss", value)], W_before, (Z_vals[-1], y))
                    stage = "loss.derivative"
                    g = twin.loss.derivative(Z_vals[-1], y)
                    run.note(epoch, stage, [("dL/dyhat", g)], W_before, (Z_vals[-1], y))
                    stage = "backward_pass"
                    deltas = twin.backward_pass(A_vals, g)
                    run.note(epoch, stage, [("deltas", list(deltas))], W_before, (A_vals, g))
                    stage = "update_weights"
                    out = twin.update_weights(X, Z_vals, deltas)
                    if isinstance(out, (list, tuple)) and len(out) == self.L:
                        twin.W = list(out)
                    run.note(epoch, stage, [("W", list(twin.W))], W_before, (X, Z_vals, deltas))
                except Exception as exc:
                    run.events.append(NonFinite(epoch, stage, compare._exception_text(exc),
                                                "exception"))
                    run.stopped = f"Stopped at epoch {epoch}: {stage} raised."
                    break
                run.losses.append(value)
                for i in range(self.L if record else 0):
                    run.record(epoch, i, A_vals[i], Z_vals[i], W_before[i],
                               np.asarray(twin.W[i], dtype=np.float64), lr, i < self.L - 1)
                if all(np.all(np.isnan(np.asarray(w, dtype=np.float64))) for w in twin.W):
                    run.stopped = (f"Stopped after epoch {epoch}: its update made every weight "
                                   "NaN (the table shows each epoch's weights before its "
                                   "update), so everything after would be NaN too.")
                    break
        return run.finish()

    def locate(self, run: _Run, fix: _Fix, X: np.ndarray, y: Any) -> None:
        """Replay the calls that made the recorded firsts under the line tracer."""
        for index, (stage, W_before, inputs) in run.replays.items():
            twin = self.twin(fix, W_before)
            method = {
                "forward_pass": twin.forward_pass,
                "loss.value": twin.loss.value,
                "loss.derivative": twin.loss.derivative,
                "backward_pass": twin.backward_pass,
                "update_weights": twin.update_weights,
            }[stage]
            finder = _LineFinder()
            finder.run(lambda method=method, inputs=inputs: method(*inputs))
            run.events[index].line = finder.line
            run.events[index].numpy_message = finder.numpy_message


def _clipped(twin: Any, update: Callable[..., Any], max_norm: float) -> Callable[..., Any]:
    """Wrap ``update`` so the applied gradient (ΔW / lr, all layers) has norm <= max_norm."""

    def clipped_update(X: Any, Z_vals: Any, deltas: Any) -> Any:
        before = [np.array(w, dtype=np.float64, copy=True) for w in twin.W]
        out = update(X, Z_vals, deltas)
        after = list(out) if isinstance(out, (list, tuple)) else list(twin.W)
        steps = [b - np.asarray(a, dtype=np.float64) for b, a in zip(before, after)]
        norm = math.sqrt(sum(float(np.sum(s * s)) for s in steps)) / float(twin.learning_rate)
        if np.isfinite(norm) and norm > max_norm:
            scale = max_norm / norm
            twin.W = [b - s * scale for b, s in zip(before, steps)]
        else:
            twin.W = after
        return twin.W

    return clipped_update


# ---------------------------------------------------------------------------------------------
# Curvature


def _power_iteration(
    hvp: Callable[[list[np.ndarray]], list[np.ndarray]],
    shapes: list[tuple[int, ...]],
    iterations: int,
    seed: int,
    tol: float = 1e-9,
) -> tuple[float, int]:
    """Largest eigenvalue of a symmetric operator given only as ``v -> H v``.

    Repeatedly applying H and normalising turns any start vector towards the eigenvector of
    the eigenvalue largest in magnitude; the Rayleigh quotient ``<v, Hv>`` estimates it. A
    dominant negative eigenvalue (a saddle) is removed by shifting, ``H - λ_neg I``, which
    makes the largest positive one dominant.
    """
    rng = np.random.default_rng(seed)

    def run(shift: float) -> tuple[float, int]:
        v = [rng.standard_normal(s) for s in shapes]
        norm = math.sqrt(sum(float(np.sum(a * a)) for a in v))
        v = [a / norm for a in v]
        estimate = math.nan
        for k in range(1, iterations + 1):
            hv = hvp(v)
            if shift:
                hv = [h - shift * a for h, a in zip(hv, v)]
            rayleigh = sum(float(np.sum(a * h)) for a, h in zip(v, hv))
            norm = math.sqrt(sum(float(np.sum(h * h)) for h in hv))
            if not np.isfinite(norm) or norm == 0.0:
                return (rayleigh if np.isfinite(rayleigh) else math.nan), k
            v = [h / norm for h in hv]
            if abs(rayleigh - estimate) <= tol * abs(rayleigh):
                return rayleigh, k
            estimate = rayleigh
        return estimate, iterations

    lam, used = run(0.0)
    if np.isfinite(lam) and lam < 0:
        shifted, more = run(lam)
        return shifted + lam, used + more
    return lam, used


class _EngineLoss:
    """The hand-written network's loss as an engine graph of its weights.

    Exact (double backward works) when every activation and the loss are ones the engine
    knows; otherwise Hessian-vector products fall back to central differences of
    autograd gradients.
    """

    def __init__(self, net: Any, W: list[np.ndarray], X: np.ndarray, y: Any) -> None:
        self.net = net
        ref = compare._reference(net, W, X, y)
        self.acts = ref.acts
        self.formula = ref.loss_ref.formula
        self.exact = self.formula is not None and all(a.key is not None for a in self.acts)

    def build(self, params: Sequence[Tensor], X: np.ndarray, y: Any) -> Tensor:
        Z = Tensor(X)
        ones = Tensor(np.ones((X.shape[0], 1)))
        for Wt, ref in zip(params, self.acts):
            A = F.cat([ones, Z], axis=1) @ Wt
            Z = compare._ENGINE_ACTIVATIONS[ref.key](A, ref.act)  # type: ignore[index]
        assert self.formula is not None
        return self.formula(Z, y)

    def lambda_max(self, W: list[np.ndarray], X: np.ndarray, y: Any, iterations: int,
                   seed: int) -> tuple[float, str]:
        shapes = [w.shape for w in W]
        if self.exact:
            params = [Tensor(w.copy(), requires_grad=True) for w in W]
            loss = self.build(params, X, y)
            lam, used = _engine_power(loss, params, shapes, iterations, seed)
            return lam, f"power iteration, {used} Hessian-vector products by double backward"

        def gradient(Ws: list[np.ndarray]) -> list[np.ndarray]:
            return compare._reference(self.net, Ws, X, y).grads

        lam, used = _power_iteration(_fd_hvp(gradient, W), shapes, min(iterations, 40), seed,
                                     tol=1e-6)
        return lam, (f"power iteration, {used} Hessian-vector products by differences of "
                     "autograd gradients (a loss or activation the engine does not know)")


def _engine_power(loss: Tensor, params: list[Tensor], shapes: list[tuple[int, ...]],
                  iterations: int, seed: int) -> tuple[float, int]:
    grads = _grad(loss, params, create_graph=True, allow_unused=True)

    def hvp(v: list[np.ndarray]) -> list[np.ndarray]:
        dot = None
        for g, vi in zip(grads, v):
            if g is None:
                continue
            term = (g * Tensor(vi)).sum()
            dot = term if dot is None else dot + term
        if dot is None or not dot.requires_grad:
            return [np.zeros(s) for s in shapes]
        hv = _grad(dot, params, retain_graph=True, allow_unused=True)
        return [np.zeros(s) if h is None else h.numpy() for h, s in zip(hv, shapes)]

    with np.errstate(all="ignore"):
        return _power_iteration(hvp, shapes, iterations, seed)


def _fd_hvp(gradient: Callable[[list[np.ndarray]], list[np.ndarray]],
            W: list[np.ndarray]) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    scale = math.sqrt(sum(float(np.sum(w * w)) for w in W)) or 1.0
    eps = 1e-5 * scale

    def hvp(v: list[np.ndarray]) -> list[np.ndarray]:
        up = gradient([w + eps * a for w, a in zip(W, v)])
        down = gradient([w - eps * a for w, a in zip(W, v)])
        return [(u - d) / (2 * eps) for u, d in zip(up, down)]

    return hvp


def hessian_lambda_max(
    net_or_model: Any,
    X: ArrayLike,
    y: ArrayLike,
    loss: Any = None,
    iterations: int = 200,
    seed: int = 0,
) -> float:
    """Largest eigenvalue of the Hessian of the loss with respect to all weights.

    Power iteration on Hessian-vector products computed by double backward through the
    engine. ``net_or_model`` is a hand-written network (its own ``loss.value`` is used) or
    an ``nn`` model with ``loss`` (an nn loss module, default ``nn.MSELoss()``); the model is
    evaluated in float64 on a copy.

    For a linear model and the mean squared error the Hessian is ``2/n · X̃ᵀX̃`` (X̃ = X with a
    column of ones for the bias):

    >>> import numpy as np
    >>> from tinygrad_mlp import manual
    >>> X = np.random.default_rng(0).normal(size=(30, 3)); y = X @ [[1.0], [2.0], [3.0]]
    >>> net = manual.NeuralNetwork(3, [1], [manual.Identity()], manual.MSE())
    >>> Xb = np.hstack([np.ones((30, 1)), X])
    >>> exact = np.linalg.eigvalsh(2 / 30 * Xb.T @ Xb).max()
    >>> bool(abs(hessian_lambda_max(net, X, y) - exact) < 1e-8 * exact)
    True
    """
    X = np.asarray(X, dtype=np.float64)
    if _is_manual(net_or_model):
        W = [np.array(w, dtype=np.float64, copy=True) for w in net_or_model.W]
        y_arr = np.asarray(y)
        lam, _ = _EngineLoss(net_or_model, W, X, y_arr).lambda_max(W, X, y_arr, iterations, seed)
        return lam
    runner = _ModelRunner(net_or_model, loss, 0.01)
    lam, _ = runner.lambda_max(runner.params0, X, np.asarray(y), iterations, seed)
    return lam


# ---------------------------------------------------------------------------------------------
# Watching an nn model train


class _ModelRunner:
    """Trains float64 copies of an ``nn`` model with plain gradient descent and watches them."""

    def __init__(self, model: Any, loss: Any, lr: float | None) -> None:
        from .. import nn

        self.nn = nn
        self.model = copy.deepcopy(model).double()
        self.loss = nn.MSELoss() if loss is None else loss
        self.lr = 0.01 if lr is None else float(lr)
        self.params0 = [p.numpy().copy() for p in self.model.parameters()]
        self.names = [n for n, _ in self.model.named_parameters()]
        self.steps = list(self.model) if isinstance(self.model, nn.Sequential) else [self.model]
        self.linear_at = [k for k, m in enumerate(self.steps) if isinstance(m, nn.Linear)]
        self.L = max(1, len(self.linear_at))

    @property
    def outputs(self) -> int:
        return self.steps[self.linear_at[-1]].out_features if self.linear_at else 1

    def labels(self) -> list[str]:
        labels = []
        for i, k in enumerate(self.linear_at):
            nxt = self.steps[k + 1] if k + 1 < len(self.steps) else None
            act = type(nxt).__name__.lower() if nxt is not None and not isinstance(
                nxt, self.nn.Linear) else "identity"
            labels.append(f"layer {i} ({act}, {self.steps[k].out_features})")
        return labels or ["model"]

    def fresh(self, params: Sequence[np.ndarray]) -> Any:
        model = copy.deepcopy(self.model)
        for p, value in zip(model.parameters(), params):
            p.data = np.array(value, dtype=np.float64, copy=True)
        return model

    def forward(self, model: Any, X: Tensor) -> tuple[Tensor, list[np.ndarray], list[np.ndarray]]:
        """Run the layers one by one, keeping each Linear output (A) and activation (Z)."""
        steps = list(model) if isinstance(model, self.nn.Sequential) else [model]
        A_vals: list[np.ndarray] = []
        Z_vals: list[np.ndarray] = []
        out = X
        for module in steps:
            out = module(out)
            if isinstance(module, self.nn.Linear):
                A_vals.append(out.numpy())
                Z_vals.append(out.numpy())
            elif A_vals:
                Z_vals[-1] = out.numpy()
        return out, A_vals, Z_vals

    def loss_fn(self, fix: _Fix) -> Callable[[Tensor, Any], Tensor]:
        if fix.average:
            factor = fix.average
            return lambda out, target: self.loss(out, target) / factor
        return self.loss

    def target(self, y: Any, n: int) -> Any:
        y_arr = np.asarray(y)
        if (y_arr.dtype.kind == "f" and y_arr.ndim == 1 and self.outputs == 1
                and isinstance(self.loss, (self.nn.MSELoss, self.nn.BCELoss))):
            y_arr = y_arr.reshape(n, 1)
        return Tensor(y_arr.astype(np.float64)) if y_arr.dtype.kind == "f" else y_arr

    def run(self, X: np.ndarray, y: Any, epochs: int, fix: _Fix, record: bool = True) -> _Run:
        model = self.fresh(self.params0)
        params = list(model.parameters())
        lr = self.lr if fix.lr is None else fix.lr
        loss_fn = self.loss_fn(fix)
        Xt, yt = Tensor(X), self.target(y, X.shape[0])
        linears = [m for m in model.modules() if isinstance(m, self.nn.Linear)][: self.L]
        # Each Linear's weight and bias, as positions in params: one layer of the history.
        layer_params = [[j for j, p in enumerate(params) if p is lin.weight or p is lin.bias]
                        for lin in linears]
        run = _Run(epochs, self.L)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in range(epochs):
                state = [p.numpy().copy() for p in params]
                stage = "forward"
                try:
                    out, A_vals, Z_vals = self.forward(model, Xt)
                    run.note(epoch, stage, [(f"output of layer {i}", a)
                                            for i, a in enumerate(A_vals)]
                             + [("model output", out.numpy())], state)
                    stage = "loss"
                    loss = loss_fn(out, yt)
                    value = float(loss.item())
                    run.note(epoch, stage, [("loss", value)], state)
                    stage = "backward"
                    for p in params:
                        p.grad = None
                    loss.backward()
                    run.note(epoch, stage, [(f"{n}.grad", p.grad.numpy()) for n, p in
                                            zip(self.names, params) if p.grad is not None], state)
                    stage = "update"
                    grads = [np.zeros_like(p.numpy()) if p.grad is None else p.grad.numpy()
                             for p in params]
                    if fix.clip:
                        norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
                        if np.isfinite(norm) and norm > fix.clip:
                            grads = [g * (fix.clip / norm) for g in grads]
                    for p, g in zip(params, grads):
                        p.data = p.numpy() - lr * g
                    run.note(epoch, stage, [(n, p.numpy()) for n, p in zip(self.names, params)],
                             state)
                except Exception as exc:
                    run.events.append(NonFinite(epoch, stage, compare._exception_text(exc),
                                                "exception"))
                    run.stopped = f"Stopped at epoch {epoch}: the {stage} raised."
                    break
                run.losses.append(value)
                for i, idx in enumerate(layer_params if record else []):
                    run.record(epoch, i, A_vals[i] if i < len(A_vals) else np.nan,
                               Z_vals[i] if i < len(Z_vals) else np.nan,
                               np.concatenate([state[j].ravel() for j in idx]),
                               np.concatenate([params[j].numpy().ravel() for j in idx]),
                               lr, i < self.L - 1 and i < len(Z_vals))
                if all(np.all(np.isnan(p.numpy())) for p in params):
                    run.stopped = (f"Stopped after epoch {epoch}: its update made every "
                                   "parameter NaN (the table shows the weights before it).")
                    break
        return run.finish()

    def locate(self, run: _Run, fix: _Fix, X: np.ndarray, y: Any) -> AnomalyError | None:
        """Replay the first bad epoch under ``tg.detect_anomaly()`` to name the operation."""
        if not run.replays:
            return None
        index = min(run.replays)
        _, state, _ = run.replays[index]
        model = self.fresh(state)
        loss_fn = self.loss_fn(fix)
        try:
            with detect_anomaly(), np.errstate(all="ignore"):
                out = model(Tensor(X))
                loss_fn(out, self.target(y, X.shape[0])).backward()
        except AnomalyError as error:
            # The replay runs inside this module, so the engine's "created at" line would
            # point at the caller of diagnose(); the operation and what it did say more.
            run.events[index].line = "the engine: " + str(error).splitlines()[0]
            return error
        return None

    def lambda_max(self, params: Sequence[np.ndarray], X: np.ndarray, y: Any, iterations: int,
                   seed: int) -> tuple[float, str]:
        model = self.fresh(params)
        tensors = list(model.parameters())
        loss = self.loss(model(Tensor(X)), self.target(y, X.shape[0]))
        lam, used = _engine_power(loss, tensors, [t.shape for t in tensors], iterations, seed)
        return lam, f"power iteration, {used} Hessian-vector products by double backward"

    def is_sum(self, X: np.ndarray, y: Any) -> bool:
        model = self.fresh(self.params0)
        out = model(Tensor(X))
        yt = self.target(y, X.shape[0])
        twice_out = F.cat([out, out], axis=0)
        twice_y = (F.cat([yt, yt], axis=0) if isinstance(yt, Tensor)
                   else np.concatenate([yt, yt], axis=0))
        with np.errstate(all="ignore"):
            one = float(self.loss(out, yt).item())
            two = float(self.loss(twice_out, twice_y).item())
        return bool(np.isfinite(one) and one != 0 and abs(two / one - 2) < 1e-6)


# ---------------------------------------------------------------------------------------------
# The diagnosis


def _is_manual(obj: Any) -> bool:
    return all(hasattr(obj, name) for name in ("W", "forward_pass", "backward_pass",
                                                "update_weights"))


def _regression_targets(y: Any, outputs: int) -> bool:
    """Are these targets values to regress on, rather than class labels?

    Labels are integer arrays, 0/1 labels (binary or one-hot), class indices ``0..k-1`` for
    a network of ``k > 1`` outputs, and rows of class probabilities. Standardized, they
    would stop being labels: a cross-entropy of a standardized 0/1 target can go negative.

    >>> _regression_targets(np.array([[0.0], [1.0]]), 1), _regression_targets([[25.0], [346.0]], 1)
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


def _standardize(X: np.ndarray, y: Any, outputs: int) -> tuple[np.ndarray, Any, str]:
    """Standardized inputs, and targets when they are values rather than class labels;
    with the words for what was standardized."""
    from ..data import Standardize

    Xs = Standardize().fit_transform(X)
    if not _regression_targets(y, outputs):
        return Xs, y, "inputs"
    shape = np.shape(y)
    ys = Standardize().fit_transform(np.reshape(y, (shape[0], -1))).reshape(shape)
    return Xs, ys, "inputs and targets"


def _loss_is_sum(loss: Any, yhat: np.ndarray, y: Any) -> bool:
    """Does ``loss.value`` double when every sample appears twice? Then it is a sum."""
    try:
        with np.errstate(all="ignore"):
            one = float(loss.value(yhat, y))
            two = float(loss.value(np.concatenate([yhat, yhat]), np.concatenate([y, y])))
    except Exception:
        return False
    return bool(np.isfinite(one) and one != 0 and abs(two / one - 2) < 1e-6)


def _update_scale(report: compare.BackpropReport) -> tuple[float, str | None]:
    """How many times the true gradient the chained update applies (median over parts)."""
    factors = []
    odd = False
    for r in report.rows:
        if r.location.stage != "end-to-end" or r.location.part == "call":
            continue
        if r.ok:
            factors.append(1.0)
        elif r.factor is not None:
            factors.append(r.factor)
        elif r.norm_ratio == 0:
            continue  # a part that never moves (a zero bias column) says nothing about scale
        else:
            odd = True
    if not factors:
        return 1.0, "the update could not be related to the gradient (see the backprop check)"
    scale = float(np.median(factors))
    note = None
    if odd or any(abs(f / scale - 1) > 1e-3 for f in factors):
        note = ("the update is not one multiple of the gradient in every layer; λmax is scaled "
                f"by the median factor {scale:.4g}")
    return scale, note


def _outcome(losses: list[float], epochs: int, nonnegative: bool) -> str:
    """``"cured"``: all epochs ran, the loss stayed finite and valid (never negative for a
    loss that cannot be), still went down at the end and at least halved. ``"slow"``: all of
    that but less than halved. ``"no"`` otherwise.

    >>> _outcome([4.4e4, 3.5e4, 2.9e4], 3, True), _outcome([0.7, 0.1, -0.1], 3, True)
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


def diagnose(
    net_or_model: Any,
    X: ArrayLike,
    y: ArrayLike,
    epochs: int = 300,
    learning_rate: float | None = None,
    loss: Any = None,
    clip_norm: float = 1.0,
    try_cures: bool = True,
    feature_names: Sequence[str] | None = None,
    power_iterations: int = 100,
    seed: int = 0,
) -> DiagnosisReport:
    """Train a copy of the network while watching it, and explain a blow-up.

    :param net_or_model: a network in the skeleton's convention (``W``, ``activations``,
        ``loss``, ``learning_rate``, ``forward_pass``, ``backward_pass``,
        ``update_weights``; your own class works) or an ``nn`` model.
    :param X, y: the training data; full-batch gradient descent, ``epochs`` steps.
    :param learning_rate: overrides the network's own (required in spirit for a model;
        0.01 when not given).
    :param loss: for an ``nn`` model, the loss module (default ``nn.MSELoss()``); ignored for a
        hand-written network, which has its own.
    :param clip_norm: the gradient-norm bound of the clipping cure.
    :param try_cures: rerun with each candidate fix when the run blows up or diverges.
    :param feature_names: names for the scale table.
    :param power_iterations: at most this many Hessian-vector products per λmax estimate.
    :returns: a :class:`DiagnosisReport`; ``print(report)`` reads as a report.

    >>> net, X, y = posted_setup()
    >>> report = diagnose(net, X, y, epochs=200, try_cures=False)
    >>> report.blew_up, report.first_nonfinite.stage, report.lr_times_lambda_max > 2
    (True, 'loss.value', True)
    """
    X = np.array(X, dtype=np.float64, copy=True)
    y_arr = np.array(y, copy=True)
    if y_arr.dtype.kind == "f":
        y_arr = y_arr.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if _is_manual(net_or_model):
            with compare._untouched(net_or_model):
                return _diagnose_manual(net_or_model, X, y_arr, epochs, learning_rate, clip_norm,
                                        try_cures, feature_names, power_iterations, seed)
        return _diagnose_model(net_or_model, X, y_arr, epochs, learning_rate, loss, clip_norm,
                               try_cures, feature_names, power_iterations, seed)


def _scales(X: np.ndarray, y: Any, names: Sequence[str] | None) -> FeatureScales:
    """The scale table; class labels (not floats) are no scale to report, so zeros."""
    return FeatureScales.of(X, y if np.asarray(y).dtype.kind == "f"
                            else np.zeros((X.shape[0], 1)), names)


def _needs_cure(report: DiagnosisReport) -> bool:
    """Blew up, or ended with a finite loss above where it started."""
    return report.blew_up or bool(np.isfinite(report.losses[-1])
                                  and report.losses[-1] > report.losses[0])


def _candidate_fixes(report: DiagnosisReport, bias_broken: bool, clip_norm: float,
                     base_lr: float, model: bool = False) -> list[_Fix]:
    fixes: list[_Fix] = []
    avg = report.averaging_factor
    can_average = abs(avg - 1.0) > 1e-6
    if bias_broken:
        zero_bias = report.backprop is not None and "zero_bias_column" in report.backprop.causes
        label = "fix the bias column" if zero_bias else "textbook update_weights"
        fixes.append(_Fix("bias", label, "update_weights replaced by the textbook update "
                          "W[i] -= lr * [1, Z_{i-1}].T @ delta_i, whose column multiplying the "
                          "bias row is made of ones", fix_update=True))
    if can_average:
        what = "the loss" if model else "loss.derivative"
        fixes.append(_Fix("average", f"average the gradient (/{_fmt(avg)})",
                          f"{what} divided by {_fmt(avg)}, so each step is the gradient of the "
                          "per-sample mean loss", average=avg))
    what = report.standardized_what
    y_too = "y likewise" if what == "inputs and targets" else "y (class labels) kept as it is"
    fixes.append(_Fix("standardize", f"standardize {what}",
                      f"X -> (X - mean) / std per feature, {y_too} (statistics of this data); "
                      "same initial weights", standardize=True))
    if can_average:
        fixes.append(_Fix("average+standardize", "average + standardize",
                          "both of the above together", average=avg, standardize=True))
    if report.lambda_max > 0 and np.isfinite(report.lambda_max):
        new_lr = 1.0 / report.lambda_max
        fixes.append(_Fix("lower_lr", f"smaller learning rate ({_fmt(new_lr)})",
                          f"learning_rate {_fmt(base_lr)} -> {_fmt(new_lr)} = 1/λmax, half the "
                          "stability limit (lr·λmax = 1)", lr=new_lr))
    fixes.append(_Fix("clip", f"clip the gradient norm at {_fmt(clip_norm)}",
                      f"each step rescaled so that the applied gradient has norm at most "
                      f"{_fmt(clip_norm)} (the step is at most lr × {_fmt(clip_norm)} long)",
                      clip=clip_norm))
    if bias_broken and can_average:
        fixes.append(_Fix("bias+average+standardize", "all code fixes + standardize",
                          f"bias column fixed, gradient averaged, {what} standardized",
                          fix_update=True, average=avg, standardize=True))
    return fixes


def _run_trials(report: DiagnosisReport, runner: Any, fixes: list[_Fix], X: np.ndarray, y: Any,
                epochs: int, data_std: tuple[np.ndarray, Any], nonnegative: bool) -> None:
    for fix in fixes:
        Xf, yf = data_std if fix.standardize else (X, y)
        run = runner.run(Xf, yf, epochs, fix, record=False)
        lam_data = (report.lambda_max_standardized if fix.standardize
                    else report.lambda_max_loss)
        lrl = None
        if fix.clip is None and lam_data is not None:
            # Dividing the derivative by the averaging factor divides the curvature of what
            # the steps descend by the same factor (for a summed loss that leaves the mean's).
            scale = report.update_scale / (fix.average or 1.0)
            lr = fix.lr if fix.lr is not None else report.learning_rate
            lrl = lr * scale * lam_data
        first = run.events[0].epoch if run.events else None
        losses = run.losses
        outcome = _outcome(losses, epochs, nonnegative)
        report.trials.append(CureTrial(
            fix.key, fix.label, fix.change, lrl, first,
            losses[0] if losses else math.nan, losses[-1] if losses else math.nan,
            outcome == "cured", losses, slow=outcome == "slow"))


def _late_check(report: DiagnosisReport, lam_at: Callable[[int], float | None]) -> None:
    """Compare the growth predicted by |1 - lr·λmax| with the growth seen, late in a blow-up."""
    losses = np.asarray(report.losses)
    if not report.blew_up or losses.size < 20:
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
    lrl = report.learning_rate * report.update_scale * lam
    window = losses[e - 5: e + 1]
    if np.any(window <= 0) or not np.all(np.isfinite(window)):
        return
    observed = float(np.exp(np.mean(np.diff(np.log(window)))) ** 0.5)
    report.late_check = {"epoch": float(e), "lr_lambda": lrl, "predicted": abs(1 - lrl),
                         "observed": observed}


def _diagnose_manual(net: Any, X: np.ndarray, y: Any, epochs: int, lr: float | None,
                     clip_norm: float, try_cures: bool, names: Sequence[str] | None,
                     iterations: int, seed: int) -> DiagnosisReport:
    notes: list[str] = []
    runner = _ManualRunner(net, lr)
    backprop = compare.check_backprop(runner.twin(_NO_FIX), X, y)
    scale, scale_note = _update_scale(backprop)
    if scale_note:
        notes.append(scale_note)
    engine = _EngineLoss(net, runner.W0, X, y)
    lam_loss, method = engine.lambda_max(runner.W0, X, y, iterations, seed)
    Xs, ys, standardized = _standardize(X, y, runner.W0[-1].shape[1])
    lam_std, _ = engine.lambda_max(runner.W0, Xs, ys, iterations, seed)
    ref = compare._reference(net, runner.W0, X, y)
    units = _unit_health(ref.acts, ref.Z)
    sizes = " -> ".join([str(X.shape[1])] + [str(w.shape[1]) for w in runner.W0])
    title = (f"Diagnosis: {type(net).__name__} ({sizes}), {X.shape[0]} samples, loss "
             f"{type(net.loss).__name__}, learning_rate {_fmt(runner.lr)}, {epochs} epochs of "
             "full-batch gradient descent on a copy")
    run = runner.run(X, y, epochs, _NO_FIX)
    runner.locate(run, _NO_FIX, X, y)
    report = DiagnosisReport(
        title=title, learning_rate=runner.lr, epochs=epochs, losses=run.losses,
        history=run.history, layer_labels=runner.labels(ref.acts), events=run.events,
        units=units, loss_at_init=ref.loss_value,
        scales=_scales(X, y, names),
        lambda_max_loss=lam_loss, update_scale=scale,
        loss_is_sum=_loss_is_sum(net.loss, ref.Z[-1], y), n_samples=X.shape[0],
        hessian_method=method, lambda_max_standardized=lam_std, backprop=backprop,
        standardized_what=standardized, notes=notes, stopped=run.stopped,
    )
    if run.replays and engine.exact:
        report.anomaly = _manual_anomaly(engine, run, X, y)

    def lam_at(epoch: int) -> float | None:
        W = _weights_at(runner, epoch, X, y)
        if W is None:
            return None
        return engine.lambda_max(W, X, y, iterations, seed)[0]

    if engine.exact:
        _late_check(report, lam_at)
    if try_cures and _needs_cure(report):
        bias_broken = any(r.location.stage == "update" and r.counted and not r.ok
                          for r in backprop.rows)
        fixes = _candidate_fixes(report, bias_broken, clip_norm, runner.lr)
        # Every formula the engine recognises (squared errors, cross-entropies) is >= 0.
        _run_trials(report, runner, fixes, X, y, epochs, (Xs, ys), engine.formula is not None)
    return report


def _weights_at(runner: _ManualRunner, epoch: int, X: np.ndarray, y: Any) -> list | None:
    """The weights at the start of ``epoch``, by replaying the run (cheap for these sizes)."""
    twin = runner.twin(_NO_FIX)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(epoch):
            A_vals, Z_vals = twin.forward_pass(X)
            deltas = twin.backward_pass(A_vals, twin.loss.derivative(Z_vals[-1], y))
            out = twin.update_weights(X, Z_vals, deltas)
            if isinstance(out, (list, tuple)):
                twin.W = list(out)
    W = [np.array(w, dtype=np.float64) for w in twin.W]
    return W if all(np.all(np.isfinite(w)) for w in W) else None


def _manual_anomaly(engine: _EngineLoss, run: _Run, X: np.ndarray, y: Any) -> AnomalyError | None:
    """The first non-finite operation of the same computation in the engine, if it has one."""
    _, W_before, _ = run.replays[min(run.replays)]
    params = [Tensor(w.copy(), requires_grad=True) for w in W_before]
    for i, p in enumerate(params):
        p.name = f"W[{i}]"
    try:
        with detect_anomaly(), np.errstate(all="ignore"):
            engine.build(params, X, y).backward()
    except AnomalyError as error:
        return error
    return None


def _unit_health(acts: list[Any], Z: list[np.ndarray]) -> list[UnitHealth]:
    out = []
    for i, (ref, z) in enumerate(zip(acts, Z)):
        key = ref.key or type(ref.act).__name__
        const, units = _constant_units(z)
        limits = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "softmax": (0.0, 1.0)}.get(key)
        frac = float(np.mean(np.isin(z, limits))) if limits else 0.0
        note = ""
        last = i == len(acts) - 1
        if last:
            const = 0  # a constant output is the prediction, not a dead unit
            if limits and frac > 0:
                note = ("the output is exactly 0 or 1 for some samples: log(ŷ) or log(1 - ŷ) "
                        "is -inf there, so a cross-entropy without clipping is inf before "
                        "any update")
        if key == "relu" and const:
            note = note or "ReLU units dead on every sample get no gradient and never recover"
        out.append(UnitHealth(i, key, units, const, frac, note))
    return out


def _diagnose_model(model: Any, X: np.ndarray, y: Any, epochs: int, lr: float | None, loss: Any,
                    clip_norm: float, try_cures: bool, names: Sequence[str] | None,
                    iterations: int, seed: int) -> DiagnosisReport:
    n = X.shape[0]
    notes: list[str] = []
    runner = _ModelRunner(model, loss, lr)
    if lr is None:
        notes.append("no learning_rate given for the model: 0.01 was used")
    if loss is None:
        notes.append("no loss given for the model: nn.MSELoss() was used")
    lam_loss, method = runner.lambda_max(runner.params0, X, y, iterations, seed)
    Xs, ys, standardized = _standardize(X, y, runner.outputs)
    lam_std, _ = runner.lambda_max(runner.params0, Xs, ys, iterations, seed)
    with np.errstate(all="ignore"):
        start = runner.fresh(runner.params0)
        out, _, Z_vals = runner.forward(start, Tensor(X))
        loss0 = float(runner.loss(out, runner.target(y, n)).item())
    labels = runner.labels()
    units = []
    for i, z in enumerate(Z_vals):
        const, count = _constant_units(z)
        key = labels[i].split("(")[1].split(",")[0] if "(" in labels[i] else "?"
        units.append(UnitHealth(i, key, count, 0 if i == len(Z_vals) - 1 else const, 0.0))
    run = runner.run(X, y, epochs, _NO_FIX)
    anomaly = runner.locate(run, _NO_FIX, X, y)
    title = (f"Diagnosis: {type(model).__name__} {getattr(model, 'sizes', '')}, {n} samples, "
             f"loss {type(runner.loss).__name__}, learning_rate {_fmt(runner.lr)}, {epochs} "
             "epochs of full-batch gradient descent on a float64 copy")
    report = DiagnosisReport(
        title=title, learning_rate=runner.lr, epochs=epochs, losses=run.losses,
        history=run.history, layer_labels=labels, events=run.events, units=units,
        loss_at_init=loss0,
        scales=_scales(X, y, names),
        lambda_max_loss=lam_loss, update_scale=1.0, loss_is_sum=runner.is_sum(X, y),
        n_samples=n, hessian_method=method, lambda_max_standardized=lam_std, anomaly=anomaly,
        standardized_what=standardized, notes=notes, stopped=run.stopped,
    )
    if try_cures and _needs_cure(report):
        fixes = _candidate_fixes(report, False, clip_norm, runner.lr, model=True)
        _run_trials(report, runner, fixes, X, y, epochs, (Xs, ys), True)  # nn losses are >= 0
    return report


@functools.lru_cache(maxsize=1)
def _example_report() -> DiagnosisReport:
    """A tiny diagnosis for the docstring examples: a line fit with too large a step.

    For X = [0, 1, 2, 3] the MSE Hessian is [[2, 3], [3, 7]], whose largest eigenvalue is
    (9 + sqrt(61)) / 2 = 8.405; with lr = 0.5, lr·λmax = 4.2 > 2.
    """
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    net = manual.NeuralNetwork(1, [1], [manual.Identity()], manual.MSE(), learning_rate=0.5,
                               W_init=[[[0.0], [0.0]]])
    return diagnose(net, X, 2 * X + 1, epochs=400)


def demo(
    network: str = "posted",
    epochs: int | None = None,
    learning_rate: float | None = None,
) -> DiagnosisReport:
    """The diagnosis of the posted network on the raw diabetes features (or of the fixed one).

    What the CLI's ``diagnose`` subcommand prints. ``network`` is ``"posted"`` (see
    :func:`posted_setup`) or ``"fixed"`` (see :func:`fixed_setup`); ``epochs`` defaults to
    300, enough to see the posted run reach inf and then NaN.

    >>> demo().cures
    ['average+standardize', 'lower_lr', 'clip', 'bias+average+standardize']
    >>> demo("fixed", epochs=100).blew_up
    False
    """
    net, X, y = _setup(network)
    return diagnose(net, X, y, epochs=300 if epochs is None else epochs,
                    learning_rate=learning_rate, feature_names=diabetes_feature_names())

