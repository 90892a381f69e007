"""The diagnosis: watch a copy train, measure the curvature, try the cures, write the report.

>>> report = example_report()
>>> report.blew_up, round(report.lr_times_lambda_max, 2)
(True, 4.2)
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import compare, manual, nn
from ..compare.check import TITLES
from ..compare.conventions import ConventionError, UserNetwork, recognise
from ..compare.skeleton_stages import untouched
from ..engine.numerics import format_number
from ..scenario import diabetes_feature_names, setup
from .conventions import ConventionRunner
from .cures import candidate_fixes, late_check, needs_cure, run_trials, standardize
from .findings import FeatureScales
from .models import ModelRunner
from .report import DiagnosisReport
from .skeleton import SkeletonLoss, SkeletonRunner, is_skeleton
from .watch import NO_FIX


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
    *,
    forward: Callable | None = None,
    backward: Callable | None = None,
    cost: Callable | None = None,
    update: Callable | None = None,
) -> DiagnosisReport:
    """Train a copy of the network while watching it, and explain a blow-up.

    :param net_or_model: a network as you wrote it, in any convention the backprop checker
        knows: the course skeleton (``W``, ``activations``, ``loss``, ``learning_rate``,
        ``forward_pass``, ``backward_pass``, ``update_weights``; your own class works),
        Michael Nielsen's ``network.py``/``network2.py`` ``Network``, or Andrew Ng's
        ``parameters`` dict with ``forward=``, ``backward=``, ``cost=`` and ``update=``
        (as :func:`~tinygrad_mlp.compare.check_backprop` takes them); or an ``nn`` model.
        Your own step trains a copy: the skeleton's methods, Nielsen's
        ``update_mini_batch`` on the whole batch, Ng's forward, backward and ``update``.
    :param X, y: the training data, in the convention's layout (Ng: ``X`` is
        ``(n_features, m)``); full-batch gradient descent, ``epochs`` steps.
    :param learning_rate: overrides the network's own (required in spirit for a model;
        0.01 when not given).
    :param loss: for an ``nn`` model, the loss module (default ``nn.MSELoss()``); ignored for a
        hand-written network, which has its own.
    :param clip_norm: the gradient-norm bound of the clipping cure.
    :param try_cures: rerun with each candidate fix when the run blows up or diverges.
    :param feature_names: names for the scale table.
    :param power_iterations: at most this many Hessian-vector products per λmax estimate.
    :returns: a :class:`DiagnosisReport`; ``print(report)`` reads as a report.

    >>> from tinygrad_mlp.scenario import posted_setup
    >>> net, X, y = posted_setup()
    >>> report = diagnose(net, X, y, epochs=200, try_cures=False)
    >>> report.blew_up, report.first_nonfinite.stage, report.lr_times_lambda_max > 2
    (True, 'loss.value', True)
    """
    X = np.array(X, dtype=np.float64, copy=True)
    y_arr = np.array(y, copy=True)
    if y_arr.dtype.kind == "f":
        y_arr = y_arr.astype(np.float64)
    settings = Settings(epochs, learning_rate, clip_norm, try_cures, feature_names,
                        power_iterations, seed)
    functions = {"forward": forward, "backward": backward, "cost": cost, "update": update}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if isinstance(net_or_model, nn.Module):
            return _diagnose_model(net_or_model, X, y_arr, loss, settings)
        if is_skeleton(net_or_model) and all(f is None for f in functions.values()):
            with untouched(net_or_model):
                return _diagnose_skeleton(net_or_model, X, y_arr, settings)
        try:
            user = recognise(net_or_model, **functions, learning_rate=learning_rate)
        except ConventionError as exc:
            raise ConventionError(f"diagnose takes an nn model (an nn.Module) or a network in "
                                  f"one of the checker's conventions. {exc}") from None
        return _diagnose_convention(user, X, y_arr, settings)


class Settings:
    """What :func:`diagnose` was asked for, passed on to the parts that do the work."""

    def __init__(self, epochs: int, lr: float | None, clip_norm: float, try_cures: bool,
                 names: Sequence[str] | None, iterations: int, seed: int) -> None:
        self.epochs, self.lr, self.clip_norm, self.try_cures = epochs, lr, clip_norm, try_cures
        self.names, self.iterations, self.seed = names, iterations, seed


def scales(X: np.ndarray, y: Any, names: Sequence[str] | None) -> FeatureScales:
    """The scale table; class labels (not floats) are no scale to report, so zeros."""
    return FeatureScales.of(X, y if np.asarray(y).dtype.kind == "f"
                            else np.zeros((X.shape[0], 1)), names)


def loss_is_sum(loss: Any, yhat: np.ndarray, y: Any) -> bool:
    """Does ``loss.value`` double when every sample appears twice? Then it is a sum."""
    try:
        with np.errstate(all="ignore"):
            one = float(loss.value(yhat, y))
            two = float(loss.value(np.concatenate([yhat, yhat]), np.concatenate([y, y])))
    except Exception:
        return False
    return bool(np.isfinite(one) and one != 0 and abs(two / one - 2) < 1e-6)


def update_scale(report: Any) -> tuple[float, str | None]:
    """How many times the true gradient the chained update applies (median over parts), from
    the backprop checker's end-to-end rows, with a note when the layers disagree."""
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
        return 1.0, "the update could not be related to the gradient (see section 6)"
    scale = float(np.median(factors))
    note = None
    if odd or any(abs(f / scale - 1) > 1e-3 for f in factors):
        note = ("the update is not one multiple of the gradient in every layer; λmax is scaled "
                f"by the median factor {scale:.4g}")
    return scale, note


def _diagnose_skeleton(net: Any, X: np.ndarray, y: Any, s: Settings) -> DiagnosisReport:
    runner = SkeletonRunner(net, s.lr)
    backprop = compare.check_backprop(runner.twin(NO_FIX), X, y)
    scale, scale_note = update_scale(backprop)
    engine = SkeletonLoss(net, runner.W0, X, y)
    lam_loss, method = engine.lambda_max(runner.W0, X, y, s.iterations, s.seed)
    Xs, ys, standardized = standardize(X, y, runner.W0[-1].shape[1])
    lam_std, _ = engine.lambda_max(runner.W0, Xs, ys, s.iterations, s.seed)
    ref = engine.reference
    sizes = " -> ".join([str(X.shape[1])] + [str(w.shape[1]) for w in runner.W0])
    title = (f"Diagnosis: {type(net).__name__} ({sizes}), {X.shape[0]} samples, loss "
             f"{type(net.loss).__name__}, learning_rate {format_number(runner.lr)}, "
             f"{s.epochs} epochs of full-batch gradient descent on a copy")
    run = runner.run(X, y, s.epochs, NO_FIX)
    runner.locate(run, NO_FIX)
    report = DiagnosisReport(
        title=title, learning_rate=runner.lr, epochs=s.epochs, losses=run.losses,
        history=run.history, layer_labels=runner.labels(ref.acts), events=run.events,
        units=engine.unit_health(), loss_at_init=ref.loss_value, scales=scales(X, y, s.names),
        lambda_max_loss=lam_loss, update_scale=scale,
        loss_is_sum=loss_is_sum(net.loss, ref.Z[-1], y), n_samples=X.shape[0],
        hessian_method=method, lambda_max_standardized=lam_std, backprop=backprop,
        standardized_what=standardized, notes=[scale_note] if scale_note else [],
        stopped=run.stopped,
    )
    if engine.exact:
        if run.replays:
            report.anomaly = engine.anomaly(run.replays[min(run.replays)][1], X, y)

        def lam_at(epoch: int) -> float | None:
            W = runner.weights_at(epoch, X, y)
            return None if W is None else engine.lambda_max(W, X, y, s.iterations, s.seed)[0]

        late_check(report, lam_at)
    if s.try_cures and needs_cure(report):
        bias_broken = any(r.location.stage == "update" and r.counted and not r.ok
                          for r in backprop.rows)
        fixes = candidate_fixes(report, bias_broken, s.clip_norm, runner.lr,
                                averaged="loss.derivative")
        # Every formula the engine recognises (squared errors, cross-entropies) is >= 0.
        run_trials(report, runner, fixes, X, y, s.epochs, (Xs, ys), engine.formula is not None)
    return report


def _diagnose_model(model: Any, X: np.ndarray, y: Any, loss: Any,
                    s: Settings) -> DiagnosisReport:
    notes: list[str] = []
    runner = ModelRunner(model, loss, s.lr)
    if s.lr is None:
        notes.append("no learning_rate given for the model: 0.01 was used")
    if loss is None:
        notes.append("no loss given for the model: nn.MSELoss() was used")
    lam_loss, method = runner.lambda_max(runner.params0, X, y, s.iterations, s.seed)
    Xs, ys, standardized = standardize(X, y, runner.outputs)
    lam_std, _ = runner.lambda_max(runner.params0, Xs, ys, s.iterations, s.seed)
    loss0, units = runner.start(X, y)
    run = runner.run(X, y, s.epochs, NO_FIX)
    anomaly = runner.locate(run, NO_FIX, X, y)
    title = (f"Diagnosis: {type(model).__name__} {getattr(model, 'sizes', '')}, {X.shape[0]} "
             f"samples, loss {type(runner.loss).__name__}, learning_rate "
             f"{format_number(runner.lr)}, {s.epochs} epochs of full-batch gradient descent "
             "on a float64 copy")
    report = DiagnosisReport(
        title=title, learning_rate=runner.lr, epochs=s.epochs, losses=run.losses,
        history=run.history, layer_labels=runner.labels(), events=run.events, units=units,
        loss_at_init=loss0, scales=scales(X, y, s.names),
        lambda_max_loss=lam_loss, update_scale=1.0, loss_is_sum=runner.is_sum(X, y),
        n_samples=X.shape[0], hessian_method=method, lambda_max_standardized=lam_std,
        anomaly=anomaly, standardized_what=standardized, notes=notes, stopped=run.stopped,
    )
    if s.try_cures and needs_cure(report):
        fixes = candidate_fixes(report, False, s.clip_norm, runner.lr, averaged="the loss")
        run_trials(report, runner, fixes, X, y, s.epochs, (Xs, ys), True)  # nn losses are >= 0
    return report


def _diagnose_convention(user: UserNetwork, X: Any, y: Any, s: Settings) -> DiagnosisReport:
    runner = ConventionRunner(user, s.lr)
    X, Y = runner.prepare(X, y)
    samples = X.shape[runner.samples_axis]
    backprop = compare.check_backprop(user, X, Y)
    scale, scale_note = runner.update_scale(X, Y)
    lam_loss, method = runner.lambda_max(runner.params0, X, Y, s.iterations, s.seed)
    Xs, Ys, standardized = standardize(X, Y, runner.outputs(Y), runner.samples_axis)
    lam_std, _ = runner.lambda_max(runner.params0, Xs, Ys, s.iterations, s.seed)
    rows = (X.T, Y.T) if runner.samples_axis == 1 else (X, Y)
    run = runner.run(X, Y, s.epochs, NO_FIX)
    runner.locate(run, NO_FIX, X, Y)
    loss0 = run.losses[0] if run.losses else float("nan")
    shapes = ", ".join(f"{k} {v.shape}" for k, v in runner.params0.items())
    steps = ", ".join(getattr(f, "__name__", "?") for f in user.functions())
    report = DiagnosisReport(
        title=(f"Diagnosis: {TITLES.get(user.convention, user.convention)} ({shapes}), "
               f"{samples} examples, learning_rate {format_number(runner.lr)}, {s.epochs} "
               f"epochs of your own training step ({steps}) on a copy"),
        learning_rate=runner.lr, epochs=s.epochs, losses=run.losses, history=run.history,
        layer_labels=runner.labels, events=run.events, units=[], loss_at_init=loss0,
        scales=scales(*rows, s.names), lambda_max_loss=lam_loss, update_scale=scale,
        loss_is_sum=runner.is_sum(X, Y), n_samples=samples, hessian_method=method,
        lambda_max_standardized=lam_std if np.isfinite(lam_std) else None, backprop=backprop,
        standardized_what=standardized, stopped=run.stopped,
        notes=runner.notes + ([scale_note] if scale_note else []),
    )
    if run.replays:
        report.anomaly = runner.anomaly(run.replays[min(run.replays)][1], X, Y)
    if s.try_cures and needs_cure(report):
        fixes = candidate_fixes(report, False, s.clip_norm, runner.lr, averaged="the step")
        run_trials(report, runner, fixes, X, Y, s.epochs, (Xs, Ys), bool(loss0 >= 0))
    return report


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
    if is_skeleton(net_or_model):
        W = [np.array(w, dtype=np.float64, copy=True) for w in net_or_model.W]
        y_arr = np.asarray(y)
        return SkeletonLoss(net_or_model, W, X, y_arr).lambda_max(W, X, y_arr, iterations,
                                                                  seed)[0]
    runner = ModelRunner(net_or_model, loss, 0.01)
    return runner.lambda_max(runner.params0, X, np.asarray(y), iterations, seed)[0]


@functools.lru_cache(maxsize=1)
def example_report() -> DiagnosisReport:
    """A tiny diagnosis for the docstring examples: a line fit with too large a step.

    For X = [0, 1, 2, 3] the MSE Hessian is [[2, 3], [3, 7]], whose largest eigenvalue is
    (9 + sqrt(61)) / 2 = 8.405; with lr = 0.5, lr·λmax = 4.2 > 2.

    >>> example_report().max_stable_lr < 0.5
    True
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
    :func:`~tinygrad_mlp.scenario.posted_setup`) or ``"fixed"`` (see
    :func:`~tinygrad_mlp.scenario.fixed_setup`); ``epochs`` defaults to 300, enough to see the
    posted run reach inf and then NaN.

    >>> demo().cures
    ['average+standardize', 'lower_lr', 'clip', 'bias+average+standardize']
    >>> demo("fixed", epochs=100).blew_up
    False
    """
    net, X, y = setup(network)
    return diagnose(net, X, y, epochs=300 if epochs is None else epochs,
                    learning_rate=learning_rate, feature_names=diabetes_feature_names())
