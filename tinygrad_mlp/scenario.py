"""The posted network's scenario: its data and its reconstructed loss, set up once for all.

The question that started this project (``/work/shared/seed/question.txt`` in the workshop)
posts a hand-written network whose activations explode to NaN on real data. Its code is
:class:`tinygrad_mlp.manual.PostedNeuralNetwork`; what the question leaves out is set up
here, for every tool that retells it (the backprop checker's and the diagnosis's demos, the
story, the command line, the examples):

* :class:`PostedMSE`, the loss the question does not show, reconstructed from its
  docstring (the derivative is a sum over the examples, without the ``1/n``);
* :func:`posted_setup`, the posted network on scikit-learn's diabetes data with the raw
  features, and :func:`fixed_setup`, the same network with its defects fixed and the
  data standardized, from the same initial weights;
* :func:`setup` (either of them by name) and :func:`diabetes_feature_names`.

>>> net, X, y = posted_setup()
>>> type(net.loss).__name__, X.shape
('PostedMSE', (442, 10))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import manual
from .data import Standardize, load_diabetes

__all__ = ["NETWORKS", "PostedMSE", "diabetes_feature_names", "fixed_setup", "posted_setup",
           "setup"]

# The names ``setup`` (and the command line's ``--network``) accept.
NETWORKS = ("posted", "fixed")


class PostedMSE(manual.MSE):
    """The loss of the posted story: the mean squared error, with a derivative lacking ``1/n``.

    The posted code prints ``loss.value`` (read here as the mean, like ours), and its
    ``update_weights`` docstring asks for "the sum over the training examples of the
    gradient of the loss", i.e. the sum of per-example gradients ``2 (ŷ_i - y_i)``. That is
    ``n`` times the gradient of the printed mean. The question does not show its loss
    class; this is the common way to get that docstring's sum, and it keeps the story
    honest: both of its known problems (this factor ``n`` and the raw features) are real.

    >>> PostedMSE().derivative(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]])).tolist()
    [[2.0], [6.0]]
    """

    def derivative(self, y_hat: ArrayLike, y: ArrayLike) -> np.ndarray:
        """``2 * (ŷ - y)``: the per-example derivative, without the ``1/n`` of the mean.

        >>> PostedMSE().derivative([[2.0]], [[0.0]]).tolist()
        [[4.0]]
        """
        y_hat = np.asarray(y_hat, dtype=np.float64)
        y_arr = np.asarray(y, dtype=np.float64)
        if y_arr.shape != y_hat.shape and y_arr.size == y_hat.size:
            y_arr = y_arr.reshape(y_hat.shape)
        return 2.0 * (y_hat - y_arr)


def posted_setup(
    learning_rate: float = 0.01,
    layer_sizes: Sequence[int] = (16, 8, 1),
    seed: int = 0,
) -> tuple[manual.PostedNeuralNetwork, np.ndarray, np.ndarray]:
    """The posted network on scikit-learn's diabetes data with raw features: ``(net, X, y)``.

    ReLU hidden layers (the question says ReLU did not help), an identity output, the
    :class:`PostedMSE` loss and the skeleton's default learning rate 0.01; ``X`` is
    ``(442, 10)`` (age in years, sex coded 1/2, BMI, blood pressure, six serum
    measurements) and ``y`` ``(442, 1)`` (disease progression, 25 to 346).

    >>> net, X, y = posted_setup()
    >>> type(net).__name__, X.shape, y.shape, net.learning_rate
    ('PostedNeuralNetwork', (442, 10), (442, 1), 0.01)
    """
    ds = load_diabetes(scaled=False)
    sizes = list(layer_sizes)
    acts: list[manual.Activation] = [manual.ReLU() for _ in sizes[:-1]] + [manual.Identity()]
    net = manual.PostedNeuralNetwork(ds.X.shape[1], sizes, acts, PostedMSE(),
                                     learning_rate=learning_rate, seed=seed)
    return net, ds.X.copy(), ds.y.copy()


def fixed_setup(
    learning_rate: float = 0.1,
    layer_sizes: Sequence[int] = (16, 8, 1),
    seed: int = 0,
) -> tuple[manual.NeuralNetwork, np.ndarray, np.ndarray]:
    """The posted network fixed: ``(net, X, y)`` with the same initial weights as
    :func:`posted_setup`.

    The textbook ``update_weights`` (a column of ones for the bias), the ``MSE`` whose
    derivative carries the ``1/n``, and inputs and targets standardized; learning rate 0.1,
    below the stability limit ``2/λmax`` (about 0.4 here).

    >>> net, X, y = fixed_setup()
    >>> type(net).__name__, round(float(X.std()), 6), net.learning_rate
    ('NeuralNetwork', 1.0, 0.1)
    """
    posted, X, y = posted_setup(layer_sizes=layer_sizes, seed=seed)
    net = manual.NeuralNetwork(X.shape[1], list(layer_sizes), posted.activations, manual.MSE(),
                               learning_rate=learning_rate, W_init=posted.W)
    return net, Standardize().fit_transform(X), Standardize().fit_transform(y)


def setup(network: str) -> tuple[Any, np.ndarray, np.ndarray]:
    """:func:`posted_setup` or :func:`fixed_setup` by name (``"posted"`` or ``"fixed"``).

    >>> type(setup("fixed")[0]).__name__
    'NeuralNetwork'
    """
    if network == "posted":
        return posted_setup()
    if network == "fixed":
        return fixed_setup()
    raise ValueError(f"network must be 'posted' or 'fixed', got {network!r}")


def diabetes_feature_names() -> list[str] | None:
    """The diabetes features' names (``age``, ``sex``, ``bmi``, ...), or None when
    scikit-learn is missing (reports then number the features).

    >>> (diabetes_feature_names() or ["age"])[0]
    'age'
    """
    try:
        return list(load_diabetes().feature_names)
    except Exception:  # scikit-learn missing or too old
        return None
