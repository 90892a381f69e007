"""The course skeleton behind the :class:`~.network.UserNetwork` interface.

:func:`~tinygrad_mlp.compare.check_backprop` checks a skeleton network stage by stage
(:mod:`.skeleton`); this gives the diagnosis and the command line the same interface as
every other convention: parameters ``W[0]``, ``W[1]``, ...; your ``forward_pass`` and
``loss.value`` as the loss; your ``forward_pass``, ``loss.derivative``, ``backward_pass`` and
``update_weights`` as the gradients (``deltas[i]``, and ``dW[i]``, the step of
``update_weights`` divided by ``-learning_rate``) and the training step.

>>> from tinygrad_mlp import manual
>>> net = SkeletonNetwork(manual.NeuralNetwork(2, [3, 1], [manual.Tanh(), manual.Identity()],
...                                            manual.MSE()))
>>> net.convention, sorted(net.parameters())
('skeleton', ['W[0]', 'W[1]'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from ..nn.activations import find_activation
from .network import UserNetwork, deep_copy, float_array, tensor_result
from .reference import run_on_tensors
from .skeleton_stages import REQUIRED, check_convention

EXPECTED = """The course skeleton (tinygrad_mlp.manual): check_backprop(net, X, y)
  net.W                  a list, W[i] of shape (n_in + 1, n_out), row 0 the bias
  net.activations        one per layer, each with value(A) and derivative(A)
  net.loss               with value(y_hat, y) and derivative(y_hat, y)
  net.learning_rate      a number
  net.forward_pass(X)                    -> (A_vals, Z_vals)
  net.backward_pass(A_vals, dLdyhat)     -> deltas
  net.update_weights(X, Z_vals, deltas)  -> W
  X is (n, n_features): one example per row"""


def is_skeleton(obj: Any) -> bool:
    """Does ``obj`` have everything the skeleton's convention needs?

    >>> is_skeleton(object())
    False
    """
    return not isinstance(obj, type) and all(hasattr(obj, name) for name in REQUIRED)


class SkeletonNetwork(UserNetwork):
    """A network in the course skeleton's convention (see the module docstring).

    >>> SkeletonNetwork.convention
    'skeleton'
    """

    convention = "skeleton"
    expected = EXPECTED

    def __init__(self, net: Any) -> None:
        super().__init__()
        check_convention(net)
        self.net = net  # yours, for check_backprop's stage-by-stage check (never changed)
        self._net = deep_copy(net)
        self._params = {f"W[{i}]": float_array(w, f"W[{i}]") for i, w in enumerate(net.W)}
        self.learning_rate = float(net.learning_rate)
        self._guarded = (net,)

    @property
    def _W(self) -> list[np.ndarray]:
        return [self._params[f"W[{i}]"] for i in range(len(self._params))]

    def functions(self) -> list[Callable[..., Any]]:
        net = self._net
        found = [net.forward_pass, net.backward_pass, net.update_weights, net.loss.value,
                 net.loss.derivative]
        for act in net.activations:
            found += [getattr(act, n) for n in ("value", "derivative") if hasattr(act, n)]
        return found

    def _twin(self, W: list[Any]) -> Any:
        twin = deep_copy(self._net)
        twin.W = list(W)
        return twin

    def loss_value(self, params: dict[str, Any], X: Any, Y: Any) -> float:
        twin = self._twin([np.array(params[f"W[{i}]"], dtype=np.float64)
                           for i in range(len(self._W))])
        with self.guard(X, Y), np.errstate(all="ignore"):
            _, Z_vals = twin.forward_pass(np.array(X, dtype=np.float64))
            return float(twin.loss.value(Z_vals[-1], Y))

    def loss(self, params: dict[str, Any], X: Any, Y: Any) -> Tensor:
        W = [params[f"W[{i}]"] for i in range(len(self._W))]
        twin = self._twin([w if isinstance(w, Tensor) else Tensor(float_array(w, "W")) for w in W])
        with self.guard(X, Y):
            _, Z_vals = run_on_tensors(lambda: twin.forward_pass(np.array(X, dtype=np.float64)),
                                       "forward_pass")
            value = run_on_tensors(lambda: twin.loss.value(Z_vals[-1], Y), "loss.value")
        return tensor_result(value, "loss.value()")

    def _step(self, X: Any, Y: Any, lr: float) -> tuple[Any, list[Any], list[np.ndarray]]:
        twin = self._twin([w.copy() for w in self._W])
        twin.learning_rate = lr
        X = np.array(X, dtype=np.float64)
        with self.guard(X, Y), np.errstate(all="ignore"):
            A_vals, Z_vals = twin.forward_pass(X)
            deltas = twin.backward_pass(A_vals, twin.loss.derivative(Z_vals[-1], Y))
            out = twin.update_weights(X, Z_vals, deltas)
        after = list(out) if isinstance(out, (list, tuple)) and len(out) == len(self._W) else twin.W
        return twin, list(deltas), [float_array(w, "W") for w in after]

    def gradients(self, X: Any, Y: Any) -> dict[str, np.ndarray]:
        _, deltas, after = self._step(X, Y, self.learning_rate)
        out = {f"deltas[{i}]": float_array(d, f"deltas[{i}]") for i, d in enumerate(deltas)}
        for i, (before, now) in enumerate(zip(self._W, after)):
            out[f"dW[{i}]"] = (before - now) / self.learning_rate
        return out

    def train_step(self, X: Any, Y: Any, learning_rate: float | None = None) -> None:
        _, _, after = self._step(X, Y, self.learning_rate if learning_rate is None
                                 else learning_rate)
        self._params = {f"W[{i}]": w for i, w in enumerate(after)}

    def example_batch(self, n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        n_in, n_out = self._W[0].shape[0] - 1, self._W[-1].shape[1]
        X = rng.standard_normal((n, n_in))
        spec = find_activation(self._net.activations[-1])
        if spec is not None and spec.name == "softmax":
            return X, rng.integers(0, n_out, n).astype(np.float64)
        if spec is not None and spec.name == "sigmoid":
            return X, (rng.random((n, n_out)) < 0.5).astype(np.float64)
        return X, rng.standard_normal((n, n_out))
