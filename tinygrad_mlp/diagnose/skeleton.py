"""Watching a network in the course skeleton's convention train (``tinygrad_mlp.manual``,
or the user's own class with ``W``, ``activations``, ``loss``, ``learning_rate``,
``forward_pass``, ``backward_pass`` and ``update_weights``).

:class:`SkeletonRunner` trains copies, one method call at a time, and notes the first
inf/NaN of each; :class:`SkeletonLoss` is the same network's loss as an engine graph of its
weights, for the curvature.

>>> from tinygrad_mlp import manual
>>> net = manual.NeuralNetwork(1, [1], [manual.Identity()], manual.MSE(), learning_rate=0.1)
>>> run = SkeletonRunner(net, None).run(np.array([[1.0], [2.0]]), np.ones((2, 1)), 5, NO_FIX)
>>> len(run.losses), run.events
(5, [])
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..compare.skeleton_reference import reference_pass
from ..compare.skeleton_stages import check_convention, clone
from ..compare.usercode import exception_text
from ..engine import functions as F
from ..engine.autograd import AnomalyError, detect_anomaly
from ..engine.tensor import Tensor
from .curvature import difference_hvp, lambda_max_of, power_iteration
from .findings import UnitHealth
from .lines import first_non_finite_line, user_modules
from .watch import NO_FIX, Fix, Run, constant_units


def is_skeleton(obj: Any) -> bool:
    """Does ``obj`` look like a network in the skeleton's convention?

    >>> is_skeleton(object())
    False
    """
    return all(hasattr(obj, name) for name in ("W", "forward_pass", "backward_pass",
                                                "update_weights"))


class ScaledLoss:
    """A loss whose derivative is multiplied by ``scale`` (the value is unchanged)."""

    def __init__(self, loss: Any, scale: float) -> None:
        self.loss = loss
        self.scale = scale
        self.name = getattr(loss, "name", type(loss).__name__)

    def value(self, y_hat: Any, y: Any) -> float:
        return self.loss.value(y_hat, y)

    def derivative(self, y_hat: Any, y: Any) -> np.ndarray:
        return np.asarray(self.loss.derivative(y_hat, y), dtype=np.float64) * self.scale


def textbook_update(self: Any, X: Any, Z_vals: Sequence[Any], deltas: Sequence[Any]) -> Any:
    """``W[i] -= lr * [1, Z_{i-1}].T @ delta_i``, the update of the skeleton done right."""
    inputs = [np.asarray(X, dtype=np.float64)] + [np.asarray(z) for z in Z_vals[:-1]]
    for i, (Z, delta) in enumerate(zip(inputs, deltas)):
        ones = np.ones((Z.shape[0], 1))
        self.W[i] -= self.learning_rate * (np.concatenate((ones, Z), axis=1).T @ delta)
    return self.W


def clipped(twin: Any, update: Callable[..., Any], max_norm: float) -> Callable[..., Any]:
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


class SkeletonRunner:
    """Trains copies of a hand-written network and watches each of its methods."""

    def __init__(self, net: Any, lr: float | None) -> None:
        check_convention(net)
        self.net = net
        self.lr = float(net.learning_rate if lr is None else lr)
        self.W0 = [np.array(w, dtype=np.float64, copy=True) for w in net.W]
        self.L = len(self.W0)

    def labels(self, refs: list[Any]) -> list[str]:
        """``layer i (activation, units)`` for the growth table."""
        return [f"layer {i} ({r.label.split(' ')[0]}, {w.shape[1]})"
                for i, (r, w) in enumerate(zip(refs, self.W0))]

    def twin(self, fix: Fix, W: Sequence[np.ndarray] | None = None) -> Any:
        """A copy of the network with ``fix`` applied (and weights ``W``, default the first)."""
        twin = clone(self.net, self.W0 if W is None else W)
        twin.learning_rate = self.lr if fix.lr is None else fix.lr
        if fix.fix_update:
            twin.update_weights = types.MethodType(textbook_update, twin)
        if fix.average:
            twin.loss = ScaledLoss(twin.loss, 1.0 / fix.average)
        if fix.clip:
            twin.update_weights = clipped(twin, twin.update_weights, fix.clip)
        return twin

    def run(self, X: np.ndarray, y: Any, epochs: int, fix: Fix, record: bool = True) -> Run:
        """``epochs`` steps of the copy's own methods, each stage's output looked at."""
        twin = self.twin(fix)
        lr = float(twin.learning_rate)
        run = Run(epochs, self.L)
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
                    run.raised(epoch, stage, exception_text(exc))
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

    def locate(self, run: Run, fix: Fix) -> None:
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
            modules = user_modules(self.net, self.net.loss, *self.net.activations)
            line, said = first_non_finite_line(lambda m=method, i=inputs: m(*i), modules)
            # "": looked for, and no line of the user's made it
            run.events[index].line, run.events[index].numpy_message = line or "", said

    def weights_at(self, epoch: int, X: np.ndarray, y: Any) -> list[np.ndarray] | None:
        """The weights at the start of ``epoch``, by replaying the run (cheap at these sizes);
        None when they are not all finite."""
        twin = self.twin(NO_FIX)
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


class SkeletonLoss:
    """The hand-written network's loss as an engine graph of its weights.

    Exact (double backward works) when every activation and the loss are ones the engine
    knows; otherwise Hessian-vector products fall back to central differences of
    autograd gradients.
    """

    def __init__(self, net: Any, W: list[np.ndarray], X: np.ndarray, y: Any) -> None:
        self.net = net
        self.reference = reference_pass(net, W, X, y)
        self.acts = self.reference.acts
        self.formula = self.reference.loss_ref.formula
        self.exact = self.formula is not None and all(a.key is not None for a in self.acts)

    def build(self, params: Sequence[Tensor], X: np.ndarray, y: Any) -> Tensor:
        """The loss at weights ``params`` (Tensors), through the engine's own rules."""
        Z = Tensor(X)
        ones = Tensor(np.ones((X.shape[0], 1)))
        for Wt, ref in zip(params, self.acts):
            Z = ref.apply(F.cat([ones, Z], axis=1) @ Wt)
        assert self.formula is not None
        return self.formula(Z, y)

    def lambda_max(self, W: list[np.ndarray], X: np.ndarray, y: Any, iterations: int,
                   seed: int) -> tuple[float, str]:
        """λmax at ``W`` on ``(X, y)``, and how it was found."""
        if self.exact:
            params = [Tensor(w.copy(), requires_grad=True) for w in W]
            with np.errstate(all="ignore"):
                loss = self.build(params, X, y)
            return lambda_max_of(loss, params, iterations, seed)

        def gradient(Ws: list[np.ndarray]) -> list[np.ndarray]:
            return reference_pass(self.net, Ws, X, y).grads

        lam, used = power_iteration(difference_hvp(gradient, W), [w.shape for w in W],
                                    min(iterations, 40), seed, tol=1e-6)
        return lam, (f"power iteration, {used} Hessian-vector products by differences of "
                     "autograd gradients (a loss or activation the engine does not know)")

    def anomaly(self, W: list[np.ndarray], X: np.ndarray, y: Any) -> AnomalyError | None:
        """The first non-finite operation of the same computation in the engine, if any."""
        params = [Tensor(w.copy(), requires_grad=True) for w in W]
        for i, p in enumerate(params):
            p.name = f"W[{i}]"
        try:
            with detect_anomaly(), np.errstate(all="ignore"):
                self.build(params, X, y).backward()
        except AnomalyError as error:
            return error
        return None

    def unit_health(self) -> list[UnitHealth]:
        """Dead and saturated units of every layer at the reference's weights."""
        out = []
        for i, (ref, z) in enumerate(zip(self.acts, self.reference.Z)):
            key = ref.key or type(ref.act).__name__
            const, units = constant_units(z)
            limits = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "softmax": (0.0, 1.0)}.get(key)
            frac = float(np.mean(np.isin(z, limits))) if limits else 0.0
            note = ""
            if i == len(self.acts) - 1:
                const = 0  # a constant output is the prediction, not a dead unit
                if limits and frac > 0:
                    note = ("the output is exactly 0 or 1 for some samples: log(ŷ) or "
                            "log(1 - ŷ) is -inf there, so a cross-entropy without clipping is "
                            "inf before any update")
            if key == "relu" and const:
                note = note or "ReLU units dead on every sample get no gradient and never recover"
            out.append(UnitHealth(i, key, units, const, frac, note))
        return out
