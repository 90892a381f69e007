"""What a diagnosis found, as data: the report's pieces and the numbers derived from them.

No text is made here (:mod:`.report` writes it); the fields and properties are what tests
and tools read. ``Diagnosis`` is the data of a :class:`~.report.DiagnosisReport`.

>>> str(NonFinite(3, "loss.value", "loss", "inf"))
'epoch 3, loss.value: loss became inf'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.autograd import AnomalyError


@dataclass
class NonFinite:
    """The first inf or NaN of one kind: ``epoch``, ``stage`` (method or operation), the
    ``array`` that held it, ``kind`` (``"inf"``, ``"nan"``, or ``"exception"``), the source
    ``line`` where it was made (None when not looked for, ``""`` when no line of the user's
    code made it), what NumPy said (``numpy_message``) and, in the
    words every report uses (``"NaN"``, ``"inf and -inf"``), what the array held (``what``).

    >>> str(NonFinite(0, "forward_pass", "A_vals[1]", "nan", what="NaN"))
    'epoch 0, forward_pass: A_vals[1] became NaN'
    """

    epoch: int
    stage: str
    array: str
    kind: str
    line: str | None = None
    numpy_message: str | None = None
    what: str | None = None

    def __str__(self) -> str:
        if self.kind == "exception":
            return f"epoch {self.epoch}, {self.stage} raised {self.array}"
        what = self.what or ("NaN" if self.kind == "nan" else self.kind)
        return f"epoch {self.epoch}, {self.stage}: {self.array} became {what}"


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


@dataclass
class Diagnosis:
    """The data of a diagnosis, and the numbers that follow from it (no text: see
    :class:`~tinygrad_mlp.diagnose.DiagnosisReport`, which adds the words).

    Fields for tests and tools: ``blew_up`` (an inf or NaN appeared), ``first_nonfinite``
    (a :class:`NonFinite` or None), ``events`` (the first inf/NaN of each stage, in order),
    ``lambda_max`` (largest Hessian eigenvalue of the loss the update actually descends),
    ``lambda_max_loss`` (of the printed ``loss.value``), ``update_scale`` (the update is
    that many times the gradient of the printed loss), ``lr_times_lambda_max``,
    ``max_stable_lr`` (``2 / lambda_max``), ``losses`` and per-epoch ``history``, ``units``,
    ``scales``, ``standardized_what`` (``"inputs and targets"``, or ``"inputs"`` when the
    targets are class labels), ``trials`` and ``cures`` (keys of the trials that cured the run),
    ``backprop`` (the backprop checker's report, hand-written networks only), ``anomaly``
    (the engine's :class:`~tinygrad_mlp.AnomalyError` for the first non-finite operation,
    for ``tinygrad_mlp.viz.draw_anomaly``) and ``notes``.

    >>> from tinygrad_mlp.diagnose import example_report
    >>> round(example_report().lr_times_lambda_max, 2)
    4.2
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
    backprop: Any = None
    anomaly: AnomalyError | None = None
    notes: list[str] = field(default_factory=list)
    stopped: str | None = None

    @property
    def blew_up(self) -> bool:
        """True when an inf or NaN appeared (or a stage raised) during training.

        >>> from tinygrad_mlp.diagnose import example_report
        >>> example_report().blew_up
        True
        """
        return bool(self.events)

    @property
    def first_nonfinite(self) -> NonFinite | None:
        """The first inf or NaN: epoch, stage, array and source line.

        >>> from tinygrad_mlp.diagnose import example_report
        >>> str(example_report().first_nonfinite)
        'epoch 303, loss.value: loss became inf'
        """
        return self.events[0] if self.events else None

    @property
    def lambda_max(self) -> float:
        """λmax of the loss whose gradient the update follows (``update_scale`` × λmax of
        the printed loss).

        >>> from tinygrad_mlp.diagnose import example_report
        >>> round(example_report().lambda_max, 4)  # (9 + sqrt(61)) / 2 for this data
        8.4051
        """
        return self.update_scale * self.lambda_max_loss

    @property
    def lr_times_lambda_max(self) -> float:
        """``learning_rate · λmax``: gradient descent is stable only below 2.

        >>> from tinygrad_mlp.diagnose import example_report
        >>> round(example_report().lr_times_lambda_max, 2)
        4.2
        """
        return self.learning_rate * self.lambda_max

    @property
    def max_stable_lr(self) -> float:
        """``2 / λmax``: the largest learning rate that does not diverge near the start.

        >>> from tinygrad_mlp.diagnose import example_report
        >>> round(example_report().max_stable_lr, 3)
        0.238
        """
        return 2.0 / self.lambda_max if self.lambda_max > 0 else math.inf

    @property
    def averaging_factor(self) -> float:
        """How many times the gradient of the per-sample MEAN loss the update is.

        >>> from tinygrad_mlp.diagnose import example_report
        >>> example_report().averaging_factor
        1.0
        """
        return self.update_scale * (self.n_samples if self.loss_is_sum else 1.0)

    @property
    def cures(self) -> list[str]:
        """Keys of the fixes that cured the run (empty when it did not need curing).

        >>> from tinygrad_mlp.diagnose import example_report
        >>> example_report().cures
        ['standardize', 'lower_lr', 'clip']
        """
        return [t.key for t in self.trials if t.cured]

    @property
    def gradient_wrong(self) -> bool:
        """True when the backprop check found the hand-written gradient wrong.

        >>> from tinygrad_mlp.diagnose import example_report
        >>> example_report().gradient_wrong
        False
        """
        return self.backprop is not None and not self.backprop.ok

    @property
    def diverged(self) -> bool:
        """True when every value stayed finite but the loss grew more than tenfold.

        >>> from tinygrad_mlp.diagnose import example_report
        >>> example_report().diverged
        False
        """
        return (not self.blew_up and bool(self.losses) and bool(np.isfinite(self.losses[-1]))
                and self.losses[-1] > 10 * self.losses[0])
