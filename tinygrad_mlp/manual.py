"""Hand-derived multilayer perceptron in pure NumPy, following a common course skeleton.

The skeleton is the one behind a frequently asked question: a student writes
``forward_pass``, ``backward_pass``, ``update_weights`` and ``train`` by hand, and on
real data the pre-activations explode to ``inf`` and then ``NaN``. This module holds
a correct version of that skeleton (:class:`NeuralNetwork`), the network exactly as it
was posted (:class:`PostedNeuralNetwork`), and the activation and loss objects both use.
It deliberately imports nothing else from the package, so that the autograd side can be
checked against it as an independent reference.

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

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
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
]

FloatArray = NDArray[np.float64]

# Probabilities are clipped to [_EPS, 1 - _EPS] before taking logs or dividing by them.
_EPS = 1e-12


def _as_float(a: ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


class Activation:
    """Base class of the activations: ``Z = value(A)`` applied to a pre-activation ``A``.

    Subclasses provide ``value`` and ``derivative``. ``backward`` turns ``dL/dZ`` into
    ``dL/dA``; for an elementwise activation that is ``derivative(A) * upstream``.

    >>> Tanh().backward(np.array([0.0]), np.array([3.0])).tolist()
    [3.0]
    """

    name: str = "activation"

    def value(self, A: ArrayLike) -> FloatArray:
        """Return ``g(A)``; implemented by subclasses.

        >>> Identity().value([1.0]).tolist()
        [1.0]
        """
        raise NotImplementedError

    def derivative(self, A: ArrayLike) -> FloatArray:
        """Return ``g'(A)`` elementwise; implemented by subclasses.

        >>> Identity().derivative([5.0]).tolist()
        [1.0]
        """
        raise NotImplementedError

    def backward(self, A: ArrayLike, upstream: ArrayLike) -> FloatArray:
        """Return ``dL/dA`` given ``upstream = dL/dZ`` (vector-Jacobian product).

        >>> ReLU().backward(np.array([-1.0, 2.0]), np.array([5.0, 5.0])).tolist()
        [0.0, 5.0]
        """
        return self.derivative(A) * _as_float(upstream)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(Activation):
    """``g(A) = A`` (also exported as ``Linear``), the usual output of a regression net.

    >>> Identity().value(np.array([-2.0, 3.0])).tolist()
    [-2.0, 3.0]
    """

    name = "identity"

    def value(self, A: ArrayLike) -> FloatArray:
        """Return ``A`` as a float array (a copy, so callers may modify it).

        >>> Identity().value([1, 2]).tolist()
        [1.0, 2.0]
        """
        return np.array(A, dtype=np.float64)

    def derivative(self, A: ArrayLike) -> FloatArray:
        """Return ones shaped like ``A``.

        >>> Identity().derivative(np.array([-2.0, 3.0])).tolist()
        [1.0, 1.0]
        """
        return np.ones_like(_as_float(A))


Linear = Identity


class ReLU(Activation):
    """``g(A) = max(A, 0)``.

    >>> ReLU().value(np.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    name = "relu"

    def value(self, A: ArrayLike) -> FloatArray:
        """Return ``max(A, 0)`` elementwise.

        >>> ReLU().value([-3.0, 0.5]).tolist()
        [0.0, 0.5]
        """
        return np.maximum(_as_float(A), 0.0)

    def derivative(self, A: ArrayLike) -> FloatArray:
        """Return 1 where ``A > 0`` and 0 elsewhere.

        At ``A == 0`` the function has no derivative; 0 is used there, as PyTorch does.

        >>> ReLU().derivative(np.array([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 1.0]
        """
        return (_as_float(A) > 0.0).astype(np.float64)


class LeakyReLU(Activation):
    """``g(A) = A`` for ``A > 0`` and ``negative_slope * A`` otherwise.

    >>> LeakyReLU(0.1).value(np.array([-2.0, 3.0])).tolist()
    [-0.2, 3.0]
    """

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)

    def value(self, A: ArrayLike) -> FloatArray:
        """Return ``A`` where positive, ``negative_slope * A`` elsewhere.

        >>> LeakyReLU(0.5).value([-4.0, 4.0]).tolist()
        [-2.0, 4.0]
        """
        A = _as_float(A)
        return np.where(A > 0.0, A, self.negative_slope * A)

    def derivative(self, A: ArrayLike) -> FloatArray:
        """Return 1 where ``A > 0`` and ``negative_slope`` elsewhere (also at 0).

        >>> LeakyReLU(0.1).derivative(np.array([-2.0, 3.0])).tolist()
        [0.1, 1.0]
        """
        A = _as_float(A)
        return np.where(A > 0.0, 1.0, self.negative_slope)

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope!r})"


class Sigmoid(Activation):
    """``g(A) = 1 / (1 + exp(-A))``, computed without overflow for any finite ``A``.

    >>> Sigmoid().value(np.array([0.0, -1000.0, 1000.0])).tolist()
    [0.5, 0.0, 1.0]
    """

    name = "sigmoid"

    def value(self, A: ArrayLike) -> FloatArray:
        """Return the logistic sigmoid of ``A``.

        >>> Sigmoid().value([0.0]).tolist()
        [0.5]
        """
        A = _as_float(A)
        # exp(-|A|) never overflows. It may underflow to 0 for |A| > ~745, which is the
        # correctly rounded answer, so that is silenced even under errstate(all="raise").
        with np.errstate(under="ignore"):
            e = np.exp(-np.abs(A))
            return np.where(A >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))

    def derivative(self, A: ArrayLike) -> FloatArray:
        """Return ``s * (1 - s)`` with ``s = sigmoid(A)``.

        Computed as ``e / (1 + e)**2`` with ``e = exp(-|A|)``, which is the same quantity
        but keeps full relative precision when ``s`` is close to 1 (where ``1 - s``
        would cancel).

        >>> Sigmoid().derivative(np.array([0.0])).tolist()
        [0.25]
        """
        A = _as_float(A)
        with np.errstate(under="ignore"):
            e = np.exp(-np.abs(A))
            return e / (1.0 + e) ** 2


class Tanh(Activation):
    """``g(A) = tanh(A)``.

    >>> Tanh().value(np.array([0.0])).tolist()
    [0.0]
    """

    name = "tanh"

    def value(self, A: ArrayLike) -> FloatArray:
        """Return ``tanh(A)``.

        >>> Tanh().value([0.0]).tolist()
        [0.0]
        """
        return np.tanh(_as_float(A))

    def derivative(self, A: ArrayLike) -> FloatArray:
        """Return ``1 - tanh(A)**2``.

        >>> Tanh().derivative(np.array([0.0])).tolist()
        [1.0]
        """
        t = np.tanh(_as_float(A))
        return 1.0 - t * t


class Softmax(Activation):
    """Row-wise softmax over the last axis, stable for large logits.

    Unlike the other activations each output depends on the whole row, so the Jacobian
    is not diagonal: use :meth:`backward` for gradients. :meth:`derivative` only gives the
    diagonal of the Jacobian.

    >>> Softmax().value(np.array([[0.0, 0.0], [1000.0, 1000.0]])).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """

    name = "softmax"

    def value(self, A: ArrayLike) -> FloatArray:
        """Return ``exp(A) / sum(exp(A))`` along the last axis.

        >>> Softmax().value(np.log([[1.0, 3.0]])).round(6).tolist()
        [[0.25, 0.75]]
        """
        A = _as_float(A)
        # Softmax is unchanged by subtracting a constant per row; subtracting the row max
        # makes every exponent <= 0, so exp cannot overflow. Very negative exponents
        # underflow to 0 (and a row spread beyond the float range gives -inf, whose exp is
        # 0): both are the correctly rounded result, so neither should raise.
        with np.errstate(under="ignore", over="ignore"):
            e = np.exp(A - np.max(A, axis=-1, keepdims=True))
            return e / np.sum(e, axis=-1, keepdims=True)

    def derivative(self, A: ArrayLike) -> FloatArray:
        """Return ONLY the diagonal of the Jacobian, ``dZ_j/dA_j = s_j * (1 - s_j)``.

        This is not enough for backpropagation through a softmax (the off-diagonal
        terms ``-s_j * s_k`` matter); use :meth:`backward` for that.

        >>> Softmax().derivative(np.array([[0.0, 0.0]])).tolist()
        [[0.25, 0.25]]
        """
        s = self.value(A)
        with np.errstate(under="ignore"):
            return s * (1.0 - s)

    def backward(self, A: ArrayLike, upstream: ArrayLike) -> FloatArray:
        """Return ``dL/dA`` from ``upstream = dL/dZ`` through the full row-wise Jacobian.

        With ``J = diag(s) - s s^T`` per row, ``dL/dA = s * (g - sum(g * s))``
        where ``g = dL/dZ``; the Jacobian is symmetric, so this is also ``J @ g``.

        >>> Softmax().backward(np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]])).tolist()
        [[0.0, 0.0]]
        """
        s = self.value(A)
        g = _as_float(upstream)
        with np.errstate(under="ignore"):
            return s * (g - np.sum(g * s, axis=-1, keepdims=True))


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------


class Loss:
    """Base class of the losses: ``value(y_hat, y) -> float`` and its derivative.

    ``derivative`` returns ``dL/dy_hat`` with the shape of ``y_hat`` and includes the
    averaging factor of ``value``, so summing per-example gradients gives the true
    gradient of the mean loss.

    >>> MSE().value(np.array([[1.0]]), np.array([[0.0]]))
    1.0
    """

    name: str = "loss"

    def value(self, y_hat: ArrayLike, y: ArrayLike) -> float:
        """Return the loss as a float; implemented by subclasses.

        >>> MSE().value([[2.0]], [[0.0]])
        4.0
        """
        raise NotImplementedError

    def derivative(self, y_hat: ArrayLike, y: ArrayLike) -> FloatArray:
        """Return ``dL/dy_hat``; implemented by subclasses.

        >>> MSE().derivative([[2.0]], [[0.0]]).tolist()
        [[4.0]]
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _match_target(y_hat: FloatArray, y: ArrayLike) -> FloatArray:
    """Return ``y`` as a float array shaped like ``y_hat``, or raise ``ValueError``.

    A target of shape ``(n,)`` is accepted for a prediction of shape ``(n, 1)``: left
    alone, NumPy broadcasting would silently turn ``y_hat - y`` into an ``(n, n)`` array.
    """
    y = _as_float(y)
    if y.shape == y_hat.shape:
        return y
    if y_hat.ndim == 2 and y_hat.shape[1] == 1 and y.shape == (y_hat.shape[0],):
        return y.reshape(y_hat.shape)
    raise ValueError(
        f"target y has shape {y.shape} but predictions y_hat have shape {y_hat.shape}; "
        "they must match (a 1-D y is accepted only for a single-output network)"
    )


def _clip_probabilities(p: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Clip ``p`` to ``[eps, 1 - eps]``; also return where the clip was inactive (1.0/0.0).

    Clipping keeps ``log(p)``, ``log(1 - p)`` and the divisions by them finite when a
    saturated sigmoid or softmax returns exactly 0 or 1. Outside the interval the clipped
    loss is flat, so its exact derivative there is 0; the mask applies that.
    """
    inside = ((p >= _EPS) & (p <= 1.0 - _EPS)).astype(np.float64)
    return np.clip(p, _EPS, 1.0 - _EPS), inside


class MSE(Loss):
    """Mean squared error: the MEAN over all elements of ``(y_hat - y)**2``.

    With ``y_hat`` of shape ``(n, k)`` this divides by ``n * k``, and the derivative is
    ``2 * (y_hat - y) / y_hat.size``.

    >>> MSE().value(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]]))
    5.0
    """

    name = "mse"

    def value(self, y_hat: ArrayLike, y: ArrayLike) -> float:
        """Return ``mean((y_hat - y)**2)`` over every element.

        >>> MSE().value([[1.0, 1.0]], [[0.0, 2.0]])
        1.0
        """
        y_hat = _as_float(y_hat)
        diff = y_hat - _match_target(y_hat, y)
        return float(np.mean(diff * diff))

    def derivative(self, y_hat: ArrayLike, y: ArrayLike) -> FloatArray:
        """Return ``2 * (y_hat - y) / y_hat.size``.

        >>> MSE().derivative(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]])).tolist()
        [[1.0], [3.0]]
        """
        y_hat = _as_float(y_hat)
        return 2.0 * (y_hat - _match_target(y_hat, y)) / y_hat.size


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy on probabilities, the mean over all elements of
    ``-(y * log(p) + (1 - y) * log(1 - p))`` with ``p = clip(y_hat, eps, 1 - eps)``.

    ``y_hat`` must already be a probability (e.g. from :class:`Sigmoid`), not a logit.
    ``eps = 1e-12``: a sigmoid saturates to exactly 0.0 or 1.0 for large ``|A|``, and
    without the clip the loss would be ``inf`` and its derivative a division by zero.

    >>> round(BinaryCrossEntropy().value(np.array([[0.5]]), np.array([[1.0]])), 6)
    0.693147
    """

    name = "binary_cross_entropy"

    def value(self, y_hat: ArrayLike, y: ArrayLike) -> float:
        """Return the mean binary cross-entropy.

        >>> round(BinaryCrossEntropy().value([[0.0]], [[1.0]]), 3)  # -log(1e-12)
        27.631
        """
        y_hat = _as_float(y_hat)
        y = _match_target(y_hat, y)
        p, _ = _clip_probabilities(y_hat)
        return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))

    def derivative(self, y_hat: ArrayLike, y: ArrayLike) -> FloatArray:
        """Return ``(p - y) / (p * (1 - p)) / y_hat.size``, and 0 where the clip is active.

        >>> BinaryCrossEntropy().derivative(np.array([[0.5]]), np.array([[1.0]])).tolist()
        [[-2.0]]
        """
        y_hat = _as_float(y_hat)
        y = _match_target(y_hat, y)
        p, inside = _clip_probabilities(y_hat)
        return inside * (p - y) / (p * (1.0 - p)) / y_hat.size


class CrossEntropy(Loss):
    """Categorical cross-entropy on probabilities (e.g. from :class:`Softmax`).

    ``value = -sum(Y * log(p)) / n`` with ``p = clip(y_hat, eps, 1 - eps)``, ``y_hat`` of
    shape ``(n, k)`` and ``n`` the number of samples (the mean over samples, not over all
    elements). The target is either integer class indices of shape ``(n,)`` or one-hot /
    probability rows of shape ``(n, k)``. The clip (``eps = 1e-12``) keeps ``log`` finite
    when a saturated softmax returns an exact 0.

    >>> p = np.array([[0.25, 0.75]])
    >>> round(CrossEntropy().value(p, np.array([1])), 6)  # -log(0.75)
    0.287682
    """

    name = "cross_entropy"

    @staticmethod
    def _target_matrix(y_hat: FloatArray, y: ArrayLike) -> FloatArray:
        if y_hat.ndim != 2:
            raise ValueError(f"CrossEntropy needs y_hat of shape (n, k), got {y_hat.shape}")
        n, k = y_hat.shape
        y_arr = np.asarray(y)
        if y_arr.shape == (n,):
            if not np.issubdtype(y_arr.dtype, np.integer):
                as_float = y_arr.astype(np.float64)
                if not np.all(np.isfinite(as_float) & (as_float == np.round(as_float))):
                    raise ValueError("1-D CrossEntropy targets must be integer class indices")
            labels = y_arr.astype(np.int64)
            if labels.size and (labels.min() < 0 or labels.max() >= k):
                raise ValueError(f"class indices must lie in [0, {k - 1}] for {k} classes")
            onehot = np.zeros((n, k))
            onehot[np.arange(n), labels] = 1.0
            return onehot
        if y_arr.shape == (n, k):
            return y_arr.astype(np.float64)
        raise ValueError(
            f"target y has shape {y_arr.shape}; expected class indices of shape ({n},) "
            f"or one-hot/probability rows of shape ({n}, {k})"
        )

    def value(self, y_hat: ArrayLike, y: ArrayLike) -> float:
        """Return the mean over samples of ``-sum_k y_k * log(p_k)``.

        >>> round(CrossEntropy().value([[0.5, 0.5]], [[1.0, 0.0]]), 6)
        0.693147
        """
        y_hat = _as_float(y_hat)
        target = self._target_matrix(y_hat, y)
        p, _ = _clip_probabilities(y_hat)
        return float(-np.sum(target * np.log(p)) / y_hat.shape[0])

    def derivative(self, y_hat: ArrayLike, y: ArrayLike) -> FloatArray:
        """Return ``-Y / p / n``, and 0 where the clip is active.

        >>> CrossEntropy().derivative(np.array([[0.5, 0.5]]), np.array([0])).tolist()
        [[-2.0, -0.0]]
        """
        y_hat = _as_float(y_hat)
        target = self._target_matrix(y_hat, y)
        p, inside = _clip_probabilities(y_hat)
        return -inside * target / p / y_hat.shape[0]


# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------


def _prepend_ones(Z: FloatArray) -> FloatArray:
    # The constant column multiplies row 0 of W[i], which is how the bias enters.
    return np.concatenate((np.ones((Z.shape[0], 1)), Z), axis=1)


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
        X = _as_float(X)
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

        >>> net = NeuralNetwork(1, [1], [Identity()], MSE(), W_init=[[[1.0], [2.0]]])
        >>> A_vals, Z_vals = net.forward_pass([[3.0]])
        >>> Z_vals[-1].tolist()  # 1 + 2 * 3
        [[7.0]]
        """
        Z = self._check_input(X)
        A_vals: list[FloatArray] = []
        Z_vals: list[FloatArray] = []
        for W, act in zip(self.W, self.activations):
            A = _prepend_ones(Z) @ W
            Z = _as_float(act.value(A))
            A_vals.append(A)
            Z_vals.append(Z)
        return A_vals, Z_vals

    def backward_pass(self, A_vals: Sequence[FloatArray], dLdyhat: ArrayLike) -> list[FloatArray]:
        """Return ``deltas[i] = dL/dA_i`` for every layer, front to back.

        ``dLdyhat`` is ``loss.derivative(y_hat, y)``, shape ``(n, layer_sizes[-1])``. An
        activation with a ``backward`` method (softmax needs one: its Jacobian is not
        diagonal) is asked for the vector-Jacobian product directly; otherwise the
        elementwise ``derivative(A) * upstream`` is used.

        >>> net = NeuralNetwork(1, [1], [Identity()], MSE(), W_init=[[[0.0], [1.0]]])
        >>> A_vals, _ = net.forward_pass([[2.0]])
        >>> [d.tolist() for d in net.backward_pass(A_vals, [[0.5]])]
        [[[0.5]]]
        """
        deltas: list[FloatArray] = [np.empty(0)] * self.n_layers
        upstream = _as_float(dLdyhat)
        for i in range(self.n_layers - 1, -1, -1):
            act = self.activations[i]
            backward = getattr(act, "backward", None)
            if callable(backward):
                delta = _as_float(backward(A_vals[i], upstream))
            else:
                delta = _as_float(act.derivative(A_vals[i])) * upstream
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
            grad = _prepend_ones(_as_float(inputs[i])).T @ _as_float(deltas[i])
            self.W[i] -= self.learning_rate * grad
        return self.W

    def train(
        self, X: ArrayLike, y: ArrayLike, epochs: int
    ) -> tuple[list[FloatArray], list[float]]:
        """Run ``epochs`` steps of full-batch gradient descent; return ``(W, epoch_losses)``.

        ``epoch_losses[e]`` is the loss at the start of epoch ``e``, before its update.

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

        >>> net = NeuralNetwork(1, [1], [Identity()], MSE(), W_init=[[[1.0], [2.0]]])
        >>> net.predict([[0.0], [1.0]]).tolist()
        [[1.0], [3.0]]
        """
        return self.forward_pass(X)[1][-1]

    def evaluate(self, X: ArrayLike, y: ArrayLike) -> float:
        """Return the loss of the current weights on ``(X, y)``.

        >>> net = NeuralNetwork(1, [1], [Identity()], MSE(), W_init=[[[1.0], [2.0]]])
        >>> net.evaluate([[0.0], [1.0]], [[1.0], [5.0]])  # errors 0 and -2
        2.0
        """
        return float(self.loss.value(self.predict(X), y))


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

        >>> net = PostedNeuralNetwork(1, [1], [Identity()], MSE(), W_init=[[[0.0], [1.0]]])
        >>> A_vals, _ = net.forward_pass([[2.0]])
        >>> [d.tolist() for d in net.backward_pass(A_vals, [[0.5]])]
        [[[0.5]]]
        """
        # DEFECT (softmax only): the posted code never asks an activation for its
        # vector-Jacobian product. For a softmax, derivative(A) is only the diagonal of
        # the Jacobian, so these deltas drop the -s_j * s_k cross terms and are wrong.
        # For elementwise activations this is the correct backward pass.
        deltas = [_as_float(dLdyhat) * self.activations[-1].derivative(A_vals[-1])]
        for layer in range(self.n_layers - 2, -1, -1):
            upstream = deltas[-1] @ self.W[layer + 1][1:].T
            deltas.append(self.activations[layer].derivative(A_vals[layer]) * upstream)
        return deltas[::-1]

    def update_weights(
        self, X: ArrayLike, Z_vals: Sequence[FloatArray], deltas: Sequence[FloatArray]
    ) -> list[FloatArray]:
        """Posted update: like :meth:`NeuralNetwork.update_weights` but with a zero bias
        column for the first layer, so ``W[0][0]`` (the first layer's bias) never changes.

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
        self.W[0] -= self.learning_rate * (X_with_bias.T @ _as_float(deltas[0]))
        for layer in range(1, self.n_layers):
            Z_prev = _prepend_ones(_as_float(Z_vals[layer - 1]))
            self.W[layer] -= self.learning_rate * (Z_prev.T @ _as_float(deltas[layer]))
        return self.W

    def train(
        self, X: ArrayLike, y: ArrayLike, epochs: int
    ) -> tuple[list[FloatArray], list[float]]:
        """Posted training loop; prints what the posted code printed when ``verbose``.

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
