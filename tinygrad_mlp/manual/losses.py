"""The losses of the hand-derived network: ``value(y_hat, y)`` and ``derivative(y_hat, y)``,
in NumPy, each derivative carrying the averaging factor of its value.

>>> MSE().derivative(np.array([[3.0]]), np.array([[1.0]])).tolist()
[[4.0]]
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .arrays import FloatArray, as_float

# Probabilities are clipped to [_EPS, 1 - _EPS] before taking logs or dividing by them.
_EPS = 1e-12


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
    y = as_float(y)
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
        y_hat = as_float(y_hat)
        diff = y_hat - _match_target(y_hat, y)
        return float(np.mean(diff * diff))

    def derivative(self, y_hat: ArrayLike, y: ArrayLike) -> FloatArray:
        """Return ``2 * (y_hat - y) / y_hat.size``.

        >>> MSE().derivative(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]])).tolist()
        [[1.0], [3.0]]
        """
        y_hat = as_float(y_hat)
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
        y_hat = as_float(y_hat)
        y = _match_target(y_hat, y)
        p, _ = _clip_probabilities(y_hat)
        return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))

    def derivative(self, y_hat: ArrayLike, y: ArrayLike) -> FloatArray:
        """Return ``(p - y) / (p * (1 - p)) / y_hat.size``, and 0 where the clip is active.

        >>> BinaryCrossEntropy().derivative(np.array([[0.5]]), np.array([[1.0]])).tolist()
        [[-2.0]]
        """
        y_hat = as_float(y_hat)
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
        y_hat = as_float(y_hat)
        target = self._target_matrix(y_hat, y)
        p, _ = _clip_probabilities(y_hat)
        return float(-np.sum(target * np.log(p)) / y_hat.shape[0])

    def derivative(self, y_hat: ArrayLike, y: ArrayLike) -> FloatArray:
        """Return ``-Y / p / n``, and 0 where the clip is active.

        >>> CrossEntropy().derivative(np.array([[0.5, 0.5]]), np.array([0])).tolist()
        [[-2.0, -0.0]]
        """
        y_hat = as_float(y_hat)
        target = self._target_matrix(y_hat, y)
        p, inside = _clip_probabilities(y_hat)
        return -inside * target / p / y_hat.shape[0]


# The losses by name: each spelling, lower case without punctuation, to its class.
LOSS_NAMES: dict[str, type[Loss]] = {
    "mse": MSE, "meansquarederror": MSE,
    "bce": BinaryCrossEntropy, "binarycrossentropy": BinaryCrossEntropy,
    "crossentropy": CrossEntropy, "categoricalcrossentropy": CrossEntropy,
}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def find_loss(obj: Any) -> type[Loss] | None:
    """The loss class of this package that ``obj`` is, by what its value computes: a name in
    any spelling (``"binary_cross_entropy"``, ``"BCE"``), one of these classes or a subclass,
    or any object whose ``.name`` or class name says it. None when it is none of them.

    >>> find_loss("Binary-Cross-Entropy").__name__, find_loss(MSE()).__name__
    ('BinaryCrossEntropy', 'MSE')
    >>> find_loss("hinge") is None
    True
    """
    if isinstance(obj, str):
        return LOSS_NAMES.get(_key(obj))
    cls = obj if isinstance(obj, type) else type(obj)
    for known in (MSE, BinaryCrossEntropy, CrossEntropy):
        if issubclass(cls, known):
            return known
    name = getattr(obj, "name", None)
    if isinstance(name, str) and _key(name) in LOSS_NAMES:
        return LOSS_NAMES[_key(name)]
    return LOSS_NAMES.get(_key(cls.__name__))
