"""The network exactly as the question posted it: :class:`PostedNeuralNetwork`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .activations import Activation
from .arrays import FloatArray, as_float, prepend_ones
from .losses import Loss
from .network import NeuralNetwork


class PostedNeuralNetwork(NeuralNetwork):
    """The network exactly as posted in the question, defects included, for comparison.

    Same constructor as :class:`NeuralNetwork` plus ``verbose``: the posted ``train``
    printed every activation, delta and weight array each epoch; that happens only when
    ``verbose=True``.

    What is wrong, and what is not:

    * ``update_weights`` builds the first layer's bias column with ``np.zeros`` instead of
      ``np.ones``. The bias row of ``W[0]`` therefore gets a zero update every step and
      never moves from its initial value, although the loss does depend on it.
    * ``backward_pass`` multiplies by ``derivative(A)`` for every activation. That is
      correct for elementwise activations, and wrong for a softmax, whose ``derivative``
      is only the Jacobian's diagonal.
    * Everything else (the forward pass, the deltas for elementwise activations, the
      update of every other layer) is correct. The posted docstring asks for the *sum*
      over examples of the per-example gradients; that is the gradient of a mean loss
      only if ``loss.derivative`` carries the ``1/n``, as this module's losses do. A loss
      whose derivative omitted it would make every step ``n`` times too large.

    The explosion the student saw on raw features is not the activation's fault (ReLU
    does not help): with unscaled inputs the curvature of the loss grows with the
    square of the feature scale, and gradient descent diverges once the learning rate is
    above the stability limit of about ``2 / (largest Hessian eigenvalue)``; each step
    then overshoots by more than the last until ``A_vals`` reach ``inf`` and
    ``inf - inf`` gives ``NaN``. The frozen first-layer bias comes on top of that: the
    network cannot fit an offset in its first layer, and the remaining weights have to
    compensate. How much each contributes is measured in the diagnosis module.

    >>> from tinygrad_mlp.manual import MSE, Identity, ReLU
    >>> net = PostedNeuralNetwork(2, [3, 1], [ReLU(), Identity()], MSE())
    >>> bias_before = net.W[0][0].copy()
    >>> _ = net.train([[1.0, 2.0], [3.0, 4.0]], [[1.0], [0.0]], epochs=5)
    >>> bool(np.array_equal(net.W[0][0], bias_before))
    True
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
        verbose: bool = False,
    ) -> None:
        super().__init__(n_features, layer_sizes, activations, loss, learning_rate, W_init, seed)
        self.verbose = bool(verbose)

    def backward_pass(self, A_vals: Sequence[FloatArray], dLdyhat: ArrayLike) -> list[FloatArray]:
        """Posted backward pass: ``derivative(A) * upstream`` for every activation.

        >>> from tinygrad_mlp.manual import MSE, Identity
        >>> net = PostedNeuralNetwork(1, [1], [Identity()], MSE(), W_init=[[[0.0], [1.0]]])
        >>> A_vals, _ = net.forward_pass([[2.0]])
        >>> [d.tolist() for d in net.backward_pass(A_vals, [[0.5]])]
        [[[0.5]]]
        """
        # DEFECT (softmax only): the posted code never asks an activation for its
        # vector-Jacobian product. For a softmax, derivative(A) is only the diagonal of
        # the Jacobian, so these deltas drop the -s_j * s_k cross terms and are wrong.
        # For elementwise activations this is the correct backward pass.
        deltas = [as_float(dLdyhat) * self.activations[-1].derivative(A_vals[-1])]
        for layer in range(self.n_layers - 2, -1, -1):
            upstream = deltas[-1] @ self.W[layer + 1][1:].T
            deltas.append(self.activations[layer].derivative(A_vals[layer]) * upstream)
        return deltas[::-1]

    def update_weights(
        self, X: ArrayLike, Z_vals: Sequence[FloatArray], deltas: Sequence[FloatArray]
    ) -> list[FloatArray]:
        """Posted update: like :meth:`NeuralNetwork.update_weights` but with a zero bias
        column for the first layer, so ``W[0][0]`` (the first layer's bias) never changes.

        >>> from tinygrad_mlp.manual import MSE, Identity
        >>> net = PostedNeuralNetwork(1, [1], [Identity()], MSE(), learning_rate=0.5,
        ...                           W_init=[[[0.0], [1.0]]])
        >>> X, y = [[2.0]], [[1.0]]
        >>> A_vals, Z_vals = net.forward_pass(X)
        >>> deltas = net.backward_pass(A_vals, net.loss.derivative(Z_vals[-1], y))
        >>> [w.tolist() for w in net.update_weights(X, Z_vals, deltas)]  # bias stays 0
        [[[0.0], [-1.0]]]
        """
        X = self._check_input(X)
        # DEFECT: np.zeros where np.ones belongs. The bias row of W[0] multiplies this
        # column, so its gradient is computed as 0 @ delta = 0 and the first layer's
        # biases are frozen at their initial values, whatever the data.
        zeros = np.zeros((X.shape[0], 1))
        X_with_bias = np.concatenate((zeros, X), axis=1)
        self.W[0] -= self.learning_rate * (X_with_bias.T @ as_float(deltas[0]))
        for layer in range(1, self.n_layers):
            Z_prev = prepend_ones(as_float(Z_vals[layer - 1]))
            self.W[layer] -= self.learning_rate * (Z_prev.T @ as_float(deltas[layer]))
        return self.W

    def train(
        self, X: ArrayLike, y: ArrayLike, epochs: int
    ) -> tuple[list[FloatArray], list[float]]:
        """Posted training loop; prints what the posted code printed when ``verbose``.

        >>> from tinygrad_mlp.manual import MSE, Identity
        >>> net = PostedNeuralNetwork(1, [1], [Identity()], MSE(), learning_rate=0.1)
        >>> _, losses = net.train([[0.0], [1.0]], [[1.0], [3.0]], epochs=3)
        >>> len(losses)
        3
        """
        X = self._check_input(X)
        epoch_losses: list[float] = []
        for epoch in range(int(epochs)):
            A_vals, Z_vals = self.forward_pass(X)
            if self.verbose:
                # Whole arrays every epoch: unreadable on real data, but it is how the
                # student watched A_vals explode, so it is kept on request.
                print("after calling forward pass:")
                print("A_vals:")
                print(A_vals)
                print("Z_vals:")
                print(Z_vals)
            y_hat = Z_vals[-1]
            L = self.loss.value(y_hat, y)
            if self.verbose:
                print(f"Epoch {epoch}/{epochs}: Loss={L}")
            epoch_losses.append(float(L))
            dLdyhat = self.loss.derivative(y_hat, y)
            deltas = self.backward_pass(A_vals, dLdyhat)
            if self.verbose:
                print("deltas after the backward pass:")
                print(deltas)
            self.W = self.update_weights(X, Z_vals, deltas)
            if self.verbose:
                print("weights after the update:")
                print(self.W)
        return self.W, epoch_losses
