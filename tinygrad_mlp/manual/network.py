"""The hand-derived network, done right: :class:`NeuralNetwork` (see the package's
docstring for its shapes and conventions).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .activations import Activation
from .arrays import FloatArray, as_float, prepend_ones
from .losses import Loss


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)



class NeuralNetwork:
    """Fully connected network trained by full-batch gradient descent, derived by hand.

    :param n_features: number of input features ``f`` (columns of ``X``).
    :param layer_sizes: output size of each layer, e.g. ``[16, 16, 1]``.
    :param activations: one activation object per layer (``value``/``derivative``, and
        optionally ``backward`` for non-elementwise activations such as softmax).
    :param loss: loss object with ``value(y_hat, y)`` and ``derivative(y_hat, y)``.
    :param learning_rate: gradient-descent step size.
    :param W_init: ``None`` for random initialisation, or one array per layer of shape
        ``(n_in + 1, n_out)`` (copied). The random rule is PyTorch's ``nn.Linear``: every
        entry, biases included, uniform in ``[-1/sqrt(n_in), 1/sqrt(n_in)]``.
    :param seed: seed for ``np.random.default_rng`` when ``W_init`` is ``None``.

    >>> from tinygrad_mlp.manual import MSE, Identity, ReLU
    >>> net = NeuralNetwork(3, [5, 2], [ReLU(), Identity()], MSE())
    >>> [w.shape for w in net.W]
    [(4, 5), (6, 2)]
    """

    def __init__(
        self,
        n_features: int,
        layer_sizes: Sequence[int],
        activations: Sequence[Activation],
        loss: Loss,
        learning_rate: float = 0.01,
        W_init: Sequence[ArrayLike] | None = None,
        seed: int = 0,
    ) -> None:
        self.n_features = _positive_int(n_features, "n_features")
        if len(layer_sizes) == 0:
            raise ValueError("layer_sizes must name at least one layer")
        self.layer_sizes = [
            _positive_int(size, f"layer_sizes[{i}]") for i, size in enumerate(layer_sizes)
        ]
        self.n_layers = len(self.layer_sizes)
        if len(activations) != self.n_layers:
            raise ValueError(
                f"got {len(activations)} activations for {self.n_layers} layers; "
                "give exactly one activation per layer"
            )
        self.activations = list(activations)
        self.loss = loss
        learning_rate = float(learning_rate)
        if not np.isfinite(learning_rate) or learning_rate <= 0.0:
            raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate}")
        self.learning_rate = learning_rate

        fan_in = [self.n_features, *self.layer_sizes[:-1]]
        shapes = [(n_in + 1, n_out) for n_in, n_out in zip(fan_in, self.layer_sizes)]
        if W_init is None:
            rng = np.random.default_rng(seed)
            self.W = [
                rng.uniform(-1.0 / np.sqrt(n_in), 1.0 / np.sqrt(n_in), size=shape)
                for n_in, shape in zip(fan_in, shapes)
            ]
        else:
            if len(W_init) != self.n_layers:
                raise ValueError(
                    f"W_init has {len(W_init)} arrays but the network has {self.n_layers} layers"
                )
            self.W = []
            for i, (w, shape) in enumerate(zip(W_init, shapes)):
                w = np.array(w, dtype=np.float64, copy=True)
                if w.shape != shape:
                    raise ValueError(
                        f"W_init[{i}] (layer {i}) has shape {w.shape}; expected {shape} "
                        f"= (n_in + 1, n_out) with n_in={shape[0] - 1}, n_out={shape[1]} "
                        "(row 0 is the bias)"
                    )
                self.W.append(w)

    def _check_input(self, X: ArrayLike) -> FloatArray:
        X = as_float(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D with shape (n, n_features), got shape {X.shape}")
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features (columns) but the network was built with "
                f"n_features={self.n_features}"
            )
        return X

    def forward_pass(self, X: ArrayLike) -> tuple[list[FloatArray], list[FloatArray]]:
        """Run the network on ``X`` of shape ``(n, n_features)``.

        Returns ``(A_vals, Z_vals)``, each a list with one ``(n, layer_sizes[i])`` array per
        layer: ``A_i = [1, Z_{i-1}] @ W[i]`` and ``Z_i = g_i(A_i)``, with ``Z_{-1} = X``.

        >>> from tinygrad_mlp.manual import MSE, Identity
        >>> net = NeuralNetwork(1, [1], [Identity()], MSE(), W_init=[[[1.0], [2.0]]])
        >>> A_vals, Z_vals = net.forward_pass([[3.0]])
        >>> Z_vals[-1].tolist()  # 1 + 2 * 3
        [[7.0]]
        """
        Z = self._check_input(X)
        A_vals: list[FloatArray] = []
        Z_vals: list[FloatArray] = []
        for W, act in zip(self.W, self.activations):
            A = prepend_ones(Z) @ W
            Z = as_float(act.value(A))
            A_vals.append(A)
            Z_vals.append(Z)
        return A_vals, Z_vals

    def backward_pass(self, A_vals: Sequence[FloatArray], dLdyhat: ArrayLike) -> list[FloatArray]:
        """Return ``deltas[i] = dL/dA_i`` for every layer, front to back.

        ``dLdyhat`` is ``loss.derivative(y_hat, y)``, shape ``(n, layer_sizes[-1])``. An
        activation with a ``backward`` method (softmax needs one: its Jacobian is not
        diagonal) is asked for the vector-Jacobian product directly; otherwise the
        elementwise ``derivative(A) * upstream`` is used.

        >>> from tinygrad_mlp.manual import MSE, Identity
        >>> net = NeuralNetwork(1, [1], [Identity()], MSE(), W_init=[[[0.0], [1.0]]])
        >>> A_vals, _ = net.forward_pass([[2.0]])
        >>> [d.tolist() for d in net.backward_pass(A_vals, [[0.5]])]
        [[[0.5]]]
        """
        deltas: list[FloatArray] = [np.empty(0)] * self.n_layers
        upstream = as_float(dLdyhat)
        for i in range(self.n_layers - 1, -1, -1):
            act = self.activations[i]
            backward = getattr(act, "backward", None)
            if callable(backward):
                delta = as_float(backward(A_vals[i], upstream))
            else:
                delta = as_float(act.derivative(A_vals[i])) * upstream
            deltas[i] = delta
            if i > 0:
                # Row 0 of W[i] is the bias: it does not depend on Z_{i-1}, so it carries
                # no gradient backwards.
                upstream = delta @ self.W[i][1:].T
        return deltas

    def update_weights(
        self, X: ArrayLike, Z_vals: Sequence[FloatArray], deltas: Sequence[FloatArray]
    ) -> list[FloatArray]:
        """Take one gradient step in place and return ``self.W``.

        ``W[i] -= learning_rate * [1, Z_{i-1}].T @ deltas[i]`` with ``Z_{-1} = X``. The
        matrix product sums over the examples; since ``dLdyhat`` already carries the
        ``1/n`` of a mean loss, that sum is exactly the gradient of the loss.

        >>> from tinygrad_mlp.manual import MSE, Identity
        >>> net = NeuralNetwork(1, [1], [Identity()], MSE(), learning_rate=0.5,
        ...                     W_init=[[[0.0], [1.0]]])
        >>> X, y = [[2.0]], [[1.0]]
        >>> A_vals, Z_vals = net.forward_pass(X)  # y_hat = 0 + 1 * 2
        >>> deltas = net.backward_pass(A_vals, net.loss.derivative(Z_vals[-1], y))
        >>> [w.tolist() for w in net.update_weights(X, Z_vals, deltas)]  # grad [2, 4]
        [[[-1.0], [-1.0]]]
        """
        inputs = [self._check_input(X)] + [Z_vals[i] for i in range(self.n_layers - 1)]
        for i in range(self.n_layers):
            grad = prepend_ones(as_float(inputs[i])).T @ as_float(deltas[i])
            self.W[i] -= self.learning_rate * grad
        return self.W

    def train(
        self, X: ArrayLike, y: ArrayLike, epochs: int
    ) -> tuple[list[FloatArray], list[float]]:
        """Run ``epochs`` steps of full-batch gradient descent; return ``(W, epoch_losses)``.

        ``epoch_losses[e]`` is the loss at the start of epoch ``e``, before its update.

        >>> from tinygrad_mlp.manual import MSE, Identity
        >>> net = NeuralNetwork(1, [1], [Identity()], MSE(), learning_rate=0.1)
        >>> _, losses = net.train([[0.0], [1.0]], [[1.0], [3.0]], epochs=200)
        >>> losses[-1] < 1e-3 < losses[0]
        True
        """
        X = self._check_input(X)
        epoch_losses: list[float] = []
        for _ in range(int(epochs)):
            A_vals, Z_vals = self.forward_pass(X)
            y_hat = Z_vals[-1]
            epoch_losses.append(float(self.loss.value(y_hat, y)))
            dLdyhat = self.loss.derivative(y_hat, y)
            deltas = self.backward_pass(A_vals, dLdyhat)
            self.W = self.update_weights(X, Z_vals, deltas)
        return self.W, epoch_losses

    def predict(self, X: ArrayLike) -> FloatArray:
        """Return the network output ``Z_vals[-1]`` for ``X``.

        >>> from tinygrad_mlp.manual import MSE, Identity
        >>> net = NeuralNetwork(1, [1], [Identity()], MSE(), W_init=[[[1.0], [2.0]]])
        >>> net.predict([[0.0], [1.0]]).tolist()
        [[1.0], [3.0]]
        """
        return self.forward_pass(X)[1][-1]

    def evaluate(self, X: ArrayLike, y: ArrayLike) -> float:
        """Return the loss of the current weights on ``(X, y)``.

        >>> from tinygrad_mlp.manual import MSE, Identity
        >>> net = NeuralNetwork(1, [1], [Identity()], MSE(), W_init=[[[1.0], [2.0]]])
        >>> net.evaluate([[0.0], [1.0]], [[1.0], [5.0]])  # errors 0 and -2
        2.0
        """
        return float(self.loss.value(self.predict(X), y))
