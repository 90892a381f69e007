"""The activations of the hand-derived network: ``value(A)``, ``derivative(A)`` and
``backward(A, upstream)``, in NumPy.

>>> ReLU().value(np.array([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .arrays import FloatArray, as_float


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
        return self.derivative(A) * as_float(upstream)

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
        return np.ones_like(as_float(A))


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
        return np.maximum(as_float(A), 0.0)

    def derivative(self, A: ArrayLike) -> FloatArray:
        """Return 1 where ``A > 0`` and 0 elsewhere.

        At ``A == 0`` the function has no derivative; 0 is used there, as PyTorch does.

        >>> ReLU().derivative(np.array([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 1.0]
        """
        return (as_float(A) > 0.0).astype(np.float64)


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
        A = as_float(A)
        return np.where(A > 0.0, A, self.negative_slope * A)

    def derivative(self, A: ArrayLike) -> FloatArray:
        """Return 1 where ``A > 0`` and ``negative_slope`` elsewhere (also at 0).

        >>> LeakyReLU(0.1).derivative(np.array([-2.0, 3.0])).tolist()
        [0.1, 1.0]
        """
        A = as_float(A)
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
        A = as_float(A)
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
        A = as_float(A)
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
        return np.tanh(as_float(A))

    def derivative(self, A: ArrayLike) -> FloatArray:
        """Return ``1 - tanh(A)**2``.

        >>> Tanh().derivative(np.array([0.0])).tolist()
        [1.0]
        """
        t = np.tanh(as_float(A))
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
        A = as_float(A)
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
        g = as_float(upstream)
        with np.errstate(under="ignore"):
            return s * (g - np.sum(g * s, axis=-1, keepdims=True))
