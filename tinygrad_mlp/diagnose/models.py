"""Watching an ``nn`` model train: float64 copies, plain gradient descent, every stage looked at.

>>> from tinygrad_mlp import nn
>>> from tinygrad_mlp.diagnose.watch import NO_FIX
>>> runner = ModelRunner(nn.MLP([1, 1]), None, 0.1)
>>> run = runner.run(np.array([[1.0], [2.0]]), np.ones((2, 1)), 5, NO_FIX)
>>> len(run.losses), run.events
(5, [])
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import nn
from ..compare.usercode import exception_text
from ..engine import functions as F
from ..engine.autograd import AnomalyError, detect_anomaly
from ..engine.tensor import Tensor
from .curvature import lambda_max_of
from .findings import UnitHealth
from .watch import Fix, Run, constant_units


class ModelRunner:
    """Trains float64 copies of an ``nn`` model with plain gradient descent and watches them."""

    def __init__(self, model: Any, loss: Any, lr: float | None) -> None:
        self.model = copy.deepcopy(model).double()
        self.loss = nn.MSELoss() if loss is None else loss
        self.lr = 0.01 if lr is None else float(lr)
        self.params0 = [p.numpy().copy() for p in self.model.parameters()]
        self.names = [n for n, _ in self.model.named_parameters()]
        self.steps = list(self.model) if isinstance(self.model, nn.Sequential) else [self.model]
        self.linear_at = [k for k, m in enumerate(self.steps) if isinstance(m, nn.Linear)]
        self.L = max(1, len(self.linear_at))
        self.stage = "forward"

    @property
    def outputs(self) -> int:
        """How many outputs the model has (its last Linear's)."""
        return self.steps[self.linear_at[-1]].out_features if self.linear_at else 1

    def labels(self) -> list[str]:
        """``layer i (activation, units)`` for the growth table."""
        labels = []
        for i, k in enumerate(self.linear_at):
            nxt = self.steps[k + 1] if k + 1 < len(self.steps) else None
            act = type(nxt).__name__.lower() if nxt is not None and not isinstance(
                nxt, nn.Linear) else "identity"
            labels.append(f"layer {i} ({act}, {self.steps[k].out_features})")
        return labels or ["model"]

    def fresh(self, params: Sequence[np.ndarray]) -> Any:
        """A copy of the model holding ``params``."""
        model = copy.deepcopy(self.model)
        for p, value in zip(model.parameters(), params):
            p.data = np.array(value, dtype=np.float64, copy=True)
        return model

    def forward(self, model: Any, X: Tensor) -> tuple[Tensor, list[np.ndarray], list[np.ndarray]]:
        """Run the layers one by one, keeping each Linear output (A) and activation (Z)."""
        steps = list(model) if isinstance(model, nn.Sequential) else [model]
        A_vals: list[np.ndarray] = []
        Z_vals: list[np.ndarray] = []
        out = X
        for module in steps:
            out = module(out)
            if isinstance(module, nn.Linear):
                A_vals.append(out.numpy())
                Z_vals.append(out.numpy())
            elif A_vals:
                Z_vals[-1] = out.numpy()
        return out, A_vals, Z_vals

    def loss_fn(self, fix: Fix) -> Callable[[Tensor, Any], Tensor]:
        """The loss, divided by the averaging factor when ``fix`` averages."""
        if fix.average:
            factor = fix.average
            return lambda out, target: self.loss(out, target) / factor
        return self.loss

    def target(self, y: Any, n: int) -> Any:
        """``y`` as the loss takes it: a float Tensor (a column for one output), or labels."""
        y_arr = np.asarray(y)
        if (y_arr.dtype.kind == "f" and y_arr.ndim == 1 and self.outputs == 1
                and isinstance(self.loss, (nn.MSELoss, nn.BCELoss))):
            y_arr = y_arr.reshape(n, 1)
        return Tensor(y_arr.astype(np.float64)) if y_arr.dtype.kind == "f" else y_arr

    def step(self, run: Run, epoch: int, model: Any, X: Tensor, y: Any, fix: Fix,
             lr: float) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        """One epoch: forward, loss, backward, update, each stage's output noted (the stage
        under way is ``self.stage``, for a report of one that raises)."""
        params = list(model.parameters())
        state = [p.numpy().copy() for p in params]
        self.stage = "forward"
        out, A_vals, Z_vals = self.forward(model, X)
        run.note(epoch, "forward", [(f"output of layer {i}", a) for i, a in enumerate(A_vals)]
                 + [("model output", out.numpy())], state)
        self.stage = "loss"
        loss = self.loss_fn(fix)(out, y)
        value = float(loss.item())
        run.note(epoch, "loss", [("loss", value)], state)
        self.stage = "backward"
        for p in params:
            p.grad = None
        loss.backward()
        run.note(epoch, "backward", [(f"{n}.grad", p.grad.numpy()) for n, p in
                                     zip(self.names, params) if p.grad is not None], state)
        self.stage = "update"
        grads = [np.zeros_like(p.numpy()) if p.grad is None else p.grad.numpy() for p in params]
        if fix.clip:
            norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
            if np.isfinite(norm) and norm > fix.clip:
                grads = [g * (fix.clip / norm) for g in grads]
        for p, g in zip(params, grads):
            p.data = p.numpy() - lr * g
        run.note(epoch, "update", [(n, p.numpy()) for n, p in zip(self.names, params)], state)
        return value, A_vals, Z_vals

    def run(self, X: np.ndarray, y: Any, epochs: int, fix: Fix, record: bool = True) -> Run:
        """``epochs`` steps of full-batch gradient descent on a fresh copy."""
        model = self.fresh(self.params0)
        params = list(model.parameters())
        lr = self.lr if fix.lr is None else fix.lr
        Xt, yt = Tensor(X), self.target(y, X.shape[0])
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)][: self.L]
        # Each Linear's weight and bias, as positions in params: one layer of the history.
        layer_params = [[j for j, p in enumerate(params) if p is lin.weight or p is lin.bias]
                        for lin in linears]
        run = Run(epochs, self.L)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in range(epochs):
                state = [p.numpy().copy() for p in params]
                try:
                    value, A_vals, Z_vals = self.step(run, epoch, model, Xt, yt, fix, lr)
                except Exception as exc:
                    run.raised(epoch, self.stage, exception_text(exc))
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

    def locate(self, run: Run, fix: Fix, X: np.ndarray, y: Any) -> AnomalyError | None:
        """Replay the first bad epoch under ``tg.detect_anomaly()`` to name the operation."""
        if not run.replays:
            return None
        index = min(run.replays)
        _, state, _ = run.replays[index]
        model = self.fresh(state)
        try:
            with detect_anomaly(), np.errstate(all="ignore"):
                out = model(Tensor(X))
                self.loss_fn(fix)(out, self.target(y, X.shape[0])).backward()
        except AnomalyError as error:
            # The replay runs inside this module, so the engine's "created at" line would
            # point at the caller of diagnose(); the operation and what it did say more.
            run.events[index].line = "the engine: " + str(error).splitlines()[0]
            return error
        return None

    def lambda_max(self, params: Sequence[np.ndarray], X: np.ndarray, y: Any, iterations: int,
                   seed: int) -> tuple[float, str]:
        """λmax of the loss at ``params`` on ``(X, y)``, by double backward."""
        model = self.fresh(params)
        tensors = list(model.parameters())
        with np.errstate(all="ignore"):
            loss = self.loss(model(Tensor(X)), self.target(y, X.shape[0]))
        return lambda_max_of(loss, tensors, iterations, seed)

    def is_sum(self, X: np.ndarray, y: Any) -> bool:
        """Does the loss double when every sample appears twice? Then it is a sum."""
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

    def start(self, X: np.ndarray, y: Any) -> tuple[float, list[UnitHealth]]:
        """The loss at the initial weights, and the units' health there."""
        with np.errstate(all="ignore"):
            out, _, Z_vals = self.forward(self.fresh(self.params0), Tensor(X))
            loss0 = float(self.loss(out, self.target(y, X.shape[0])).item())
        labels = self.labels()
        units = []
        for i, z in enumerate(Z_vals):
            const, count = constant_units(z)
            key = labels[i].split("(")[1].split(",")[0] if "(" in labels[i] else "?"
            units.append(UnitHealth(i, key, count, 0 if i == len(Z_vals) - 1 else const, 0.0))
        return loss0, units
