"""Hand-derived multilayer perceptron in pure NumPy, following a common course skeleton.

The skeleton is the one behind a frequently asked question: a student writes
``forward_pass``, ``backward_pass``, ``update_weights`` and ``train`` by hand, and on
real data the pre-activations explode to ``inf`` and then ``NaN``. This package holds
a correct version of that skeleton (:class:`NeuralNetwork`, in ``network``), the network
exactly as it was posted (:class:`PostedNeuralNetwork`, in ``posted``), and the activation
and loss objects both use (``activations``, ``losses``); ``arrays`` has the two array
helpers they share. It is NumPy only and deliberately imports nothing else from the
package, so that the autograd side can be checked against it as an independent reference.

Shapes and conventions
----------------------
* ``X`` has shape ``(n, n_features)``: one example per row.
* ``W[i]`` has shape ``(n_in + 1, n_out)``; row 0 is the bias, rows ``1:`` the weights.
  ``n_in`` is ``n_features`` for layer 0 and ``layer_sizes[i - 1]`` afterwards.
* Forward pass, with ``Z_{-1} = X``::

      A_i = [1, Z_{i-1}] @ W[i]      # pre-activation, shape (n, layer_sizes[i])
      Z_i = g_i(A_i)                 # activation,     shape (n, layer_sizes[i])

  ``forward_pass`` returns the lists ``A_vals`` and ``Z_vals``; the prediction is
  ``Z_vals[-1]``.
* Backward pass: ``delta_i = dL/dA_i`` with shape ``(n, layer_sizes[i])``, starting from
  ``dL/dyhat`` given by the loss and going back through
  ``dL/dZ_{i-1} = delta_i @ W[i][1:].T``.
* Update: ``W[i] -= learning_rate * [1, Z_{i-1}].T @ delta_i``.
* An activation has ``value(A)`` and ``derivative(A)`` (the elementwise derivative with
  respect to the pre-activation ``A``), plus ``backward(A, upstream)`` giving ``dL/dA``
  from ``dL/dZ``. A loss has ``value(y_hat, y) -> float`` and
  ``derivative(y_hat, y) -> dL/dy_hat`` with the shape of ``y_hat``.

Example
-------
>>> import numpy as np
>>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
>>> y = np.array([[1.0], [-1.0], [0.0]])
>>> net = NeuralNetwork(2, [4, 1], [Tanh(), Identity()], MSE(), learning_rate=0.1)
>>> A_vals, Z_vals = net.forward_pass(X)
>>> [A.shape for A in A_vals], Z_vals[-1].shape
([(3, 4), (3, 1)], (3, 1))
>>> W, losses = net.train(X, y, epochs=100)
>>> losses[-1] < losses[0]
True
"""

from __future__ import annotations

from .activations import Activation, Identity, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from .losses import LOSS_NAMES, MSE, BinaryCrossEntropy, CrossEntropy, Loss, find_loss
from .network import NeuralNetwork
from .posted import PostedNeuralNetwork

__all__ = [
    "LOSS_NAMES",
    "MSE",
    "Activation",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "Identity",
    "LeakyReLU",
    "Linear",
    "Loss",
    "NeuralNetwork",
    "PostedNeuralNetwork",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "find_loss",
]
