"""Watching a network in Nielsen's or Ng's convention train: the user's own step, on a copy.

The backprop checker's :class:`~tinygrad_mlp.compare.conventions.UserNetwork` runs the
user's code as it is (Ng: forward, cost, backward, ``update_parameters``; Nielsen:
``update_mini_batch`` on the whole batch); :class:`ConventionRunner` trains a copy with it,
epoch after epoch, notes the first inf/NaN of the cost and of the step, and replays the call
that made it under the line tracer. The curvature comes from the user's own forward pass
and cost run on Tensors (``UserNetwork.loss``, double backward); where that code cannot run
on Tensors, from central differences of the cost, when the network is small enough.

>>> from tinygrad_mlp.compare.conventions import recognise
>>> from tinygrad_mlp.diagnose.watch import NO_FIX
>>> def forward(X, p): return p["W1"] @ X + p["b1"], None
>>> def backward(p, cache, X, Y):
...     dZ = (p["W1"] @ X + p["b1"] - Y) / X.shape[1]
...     return {"dW1": dZ @ X.T, "db1": dZ.sum(axis=1, keepdims=True)}
>>> def cost(AL, Y): return ((AL - Y) ** 2).sum() / (2 * Y.shape[1])
>>> user = recognise({"W1": np.zeros((1, 2)), "b1": np.zeros((1, 1))}, forward=forward,
...                  backward=backward, cost=cost, learning_rate=0.1)
>>> runner = ConventionRunner(user, None)
>>> X, Y = runner.prepare(np.ones((2, 4)), np.ones((1, 4)))
>>> run = runner.run(X, Y, 5, NO_FIX)
>>> len(run.losses), run.events, runner.labels
(5, [], ['W1, b1'])
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..compare.conventions import NotDifferentiable, UserNetwork
from ..compare.nielsen import DEFAULT_ETA
from ..compare.usercode import exception_text
from ..engine.autograd import AnomalyError, detect_anomaly, grad
from ..engine.numerics import partial_derivatives
from ..engine.tensor import Tensor
from .curvature import difference_hvp, lambda_max_of, power_iteration
from .lines import first_non_finite_line
from .watch import Fix, Run

# Finite differences of the cost cost this many evaluations at the most per λmax estimate;
# a network too large for that gets no λmax when its code cannot run on Tensors.
FD_BUDGET = 200_000
Params = dict[str, np.ndarray]


def layer_groups(names: list[str]) -> list[list[str]]:
    """The parameters of each layer together, by the number in their names.

    >>> layer_groups(["W1", "b1", "W2", "b2"]), layer_groups(["weights[0]", "biases[0]"])
    ([['W1', 'b1'], ['W2', 'b2']], [['weights[0]', 'biases[0]']])
    """
    groups: dict[str, list[str]] = {}
    for name in names:
        digits = re.findall(r"\d+", name)
        groups.setdefault(digits[-1] if digits else name, []).append(name)
    return list(groups.values())


def _flat(params: Params, names: list[str]) -> np.ndarray:
    return np.concatenate([np.asarray(params[k], dtype=np.float64).ravel() for k in names])


def _unflat(x: np.ndarray, like: Params, names: list[str]) -> Params:
    out, start = {}, 0
    for k in names:
        size = like[k].size
        out[k] = x[start:start + size].reshape(like[k].shape)
        start += size
    return out


class ConventionRunner:
    """Trains copies of a :class:`UserNetwork` with the user's own step and watches them."""

    def __init__(self, user: UserNetwork, lr: float | None) -> None:
        self.user = user
        self.notes: list[str] = []
        if lr is None and user.learning_rate is None:
            lr = DEFAULT_ETA.get(user.convention, 0.01)
            self.notes.append(f"no learning_rate given and the network keeps none: {lr:g} "
                              "was used (pass learning_rate= to diagnose your own)")
        self.lr = float(lr if lr is not None else user.learning_rate)
        self.params0 = user.parameters()
        self.names = list(self.params0)
        self.groups = layer_groups(self.names)
        self.labels = [", ".join(g) for g in self.groups]
        self.samples_axis = 1 if user.convention.startswith("ng") else 0

    def prepare(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
        """``X`` and ``Y`` as the convention takes them (float64 copies; Ng: one example per
        column)."""
        prepare = getattr(self.user, "prepare", None)
        if prepare is None:
            return np.array(X, dtype=np.float64), np.array(Y, dtype=np.float64)
        return prepare(X, Y)

    def outputs(self, Y: np.ndarray) -> int:
        """How many outputs the network has."""
        return int(Y.shape[1 - self.samples_axis]) if Y.ndim == 2 else 1

    def step_lr(self, fix: Fix) -> float:
        """The learning rate a fixed run steps with (averaging divides the step)."""
        lr = self.lr if fix.lr is None else fix.lr
        return lr / fix.average if fix.average else lr

    def epoch(self, run: Run, epoch: int, twin: UserNetwork, X: np.ndarray, Y: np.ndarray,
              fix: Fix) -> tuple[UserNetwork, float, Params, Params]:
        """One epoch: the cost, then the user's own step, each looked at."""
        before = twin.parameters()
        self.stage = "cost"
        value = twin.loss_value(before, X, Y)
        run.note(epoch, "cost", [("cost", value)], before)
        self.stage = "training step"
        lr = self.step_lr(fix)
        twin.train_step(X, Y, lr)
        after = twin.parameters()
        if fix.clip:
            norm = math.sqrt(sum(float(np.sum((before[k] - after[k]) ** 2))
                                 for k in self.names)) / lr
            if np.isfinite(norm) and norm > fix.clip:
                scale = fix.clip / norm
                after = {k: before[k] - (before[k] - after[k]) * scale for k in self.names}
                twin = twin.with_parameters(after)
        run.note(epoch, "training step", list(after.items()), before)
        return twin, value, before, after

    def run(self, X: np.ndarray, Y: np.ndarray, epochs: int, fix: Fix,
            record: bool = True) -> Run:
        """``epochs`` of the user's own step on a copy, from the first parameters."""
        twin = self.user.with_parameters(self.params0)
        run = Run(epochs, len(self.groups), activations=False)
        self.stage = "cost"
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in range(epochs):
                try:
                    twin, value, before, after = self.epoch(run, e, twin, X, Y, fix)
                except Exception as exc:
                    run.raised(e, self.stage, exception_text(exc))
                    break
                run.losses.append(value)
                for i, group in enumerate(self.groups if record else []):
                    run.record(e, i, None, None, _flat(before, group), _flat(after, group),
                               self.step_lr(fix), False)
                if all(np.all(np.isnan(v)) for v in after.values()):
                    run.stopped = (f"Stopped after epoch {e}: its step made every parameter "
                                   "NaN (the table shows each epoch's parameters before it).")
                    break
        return run.finish()

    def locate(self, run: Run, fix: Fix, X: np.ndarray, Y: np.ndarray) -> None:
        """Replay the calls that made the recorded firsts under the line tracer."""
        for index, (stage, before, _) in run.replays.items():
            twin = self.user.with_parameters(before)
            if stage == "cost":
                def call(t: UserNetwork = twin, p: Params = before) -> Any:
                    return t.loss_value(p, X, Y)
            else:
                def call(t: UserNetwork = twin) -> Any:
                    return t.train_step(X, Y, self.step_lr(fix))
            line, said = first_non_finite_line(call, self.user.modules())
            # "": looked for, and no line of the user's made it
            run.events[index].line, run.events[index].numpy_message = line or "", said

    # -- the curvature -------------------------------------------------------------------------

    def tensors(self, params: Params) -> dict[str, Tensor]:
        """Float64 leaves that require grad, one per parameter."""
        return {k: Tensor(np.array(v, dtype=np.float64), requires_grad=True)
                for k, v in params.items()}

    def fd_gradient(self, params: Params, X: np.ndarray, Y: np.ndarray
                    ) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
        """The gradient of the user's cost by central differences, as a function of the flat
        parameter vector (one list entry)."""

        def gradient(x: list[np.ndarray]) -> list[np.ndarray]:
            point = np.array(x[0], dtype=np.float64)
            value = lambda v: self.user.loss_value(_unflat(v, params, self.names), X, Y)  # noqa: E731
            with np.errstate(all="ignore"):
                return [partial_derivatives(value, point)]

        return gradient

    def lambda_max(self, params: Params, X: np.ndarray, Y: np.ndarray, iterations: int,
                   seed: int) -> tuple[float, str]:
        """λmax of the user's cost at ``params``, and how it was found."""
        try:
            tensors = self.tensors(params)
            with np.errstate(all="ignore"):
                loss = self.user.loss(tensors, X, Y)
            return lambda_max_of(loss, list(tensors.values()), iterations, seed)
        except NotDifferentiable as exc:
            reason = exc.reason
        size = sum(v.size for v in params.values())
        rounds = min(iterations, 15, FD_BUDGET // (8 * size + 1))
        if rounds < 5:
            return math.nan, (f"your code cannot run on Tensors ({reason}) and {size} "
                              "parameters are too many for finite differences")
        lam, used = power_iteration(difference_hvp(self.fd_gradient(params, X, Y),
                                                   [_flat(params, self.names)]),
                                    [(size,)], rounds, seed, tol=1e-3)
        return lam, (f"power iteration, {used} Hessian-vector products by differences of "
                     f"finite-difference gradients of your cost, which cannot run on Tensors: "
                     f"{reason}")

    def gradient(self, params: Params, X: np.ndarray, Y: np.ndarray) -> Params:
        """The exact gradient of the user's cost (finite differences where it cannot run on
        Tensors)."""
        try:
            tensors = self.tensors(params)
            with np.errstate(all="ignore"):
                got = grad(self.user.loss(tensors, X, Y), list(tensors.values()),
                           allow_unused=True)
            return {k: np.zeros_like(params[k]) if g is None else g.numpy()
                    for k, g in zip(tensors, got)}
        except NotDifferentiable:
            flat = self.fd_gradient(params, X, Y)([_flat(params, self.names)])[0]
            return _unflat(flat, params, self.names)

    def update_scale(self, X: np.ndarray, Y: np.ndarray) -> tuple[float, str | None]:
        """How many times the gradient of the cost one step of the user's own code applies
        (the median over the parameters), with a note when they disagree."""
        twin = self.user.with_parameters(self.params0)
        with np.errstate(all="ignore"):
            twin.train_step(X, Y, self.lr)
            g = self.gradient(self.params0, X, Y)
        after = twin.parameters()
        factors, odd = [], False
        for k in self.names:
            step = (self.params0[k] - after[k]) / self.lr
            norm = float(np.sum(g[k] * g[k]))
            if norm == 0 or not np.isfinite(norm):
                continue
            c = float(np.sum(step * g[k])) / norm
            factors.append(c)
            odd |= bool(np.linalg.norm(step - c * g[k]) > 1e-4 * max(np.linalg.norm(step), 1e-300))
        if not factors:
            return 1.0, "the step could not be related to the gradient of the cost"
        scale = float(np.median(factors))
        if odd or any(abs(f / scale - 1) > 1e-3 for f in factors if scale):
            return scale, ("the step is not one multiple of the gradient of the cost in every "
                           f"parameter; λmax is scaled by the median factor {scale:.4g}")
        return scale, None

    def anomaly(self, params: Params, X: np.ndarray, Y: np.ndarray) -> AnomalyError | None:
        """The first non-finite operation of the user's cost run on Tensors, if it runs."""
        tensors = self.tensors(params)
        for k, t in tensors.items():
            t.name = k
        try:
            with detect_anomaly(), np.errstate(all="ignore"):
                self.user.loss(tensors, X, Y).backward()
        except AnomalyError as error:
            return error
        except NotDifferentiable:
            return None
        return None

    def is_sum(self, X: np.ndarray, Y: np.ndarray) -> bool:
        """Does the cost double when every example appears twice? Then it is a sum."""
        axis = self.samples_axis
        try:
            with np.errstate(all="ignore"):
                one = self.user.loss_value(self.params0, X, Y)
                two = self.user.loss_value(self.params0, np.concatenate([X, X], axis=axis),
                                           np.concatenate([Y, Y], axis=axis))
        except Exception:
            return False
        return bool(np.isfinite(one) and one != 0 and abs(two / one - 2) < 1e-6)
