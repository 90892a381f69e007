"""Curvature: λmax, the largest eigenvalue of the Hessian of a loss, by power iteration.

Gradient descent on a loss with curvature ``λ`` along some direction multiplies the error
along it by ``|1 - lr·λ|`` per step, so it is stable only when ``lr · λmax < 2``. Power
iteration needs only Hessian-vector products: by double backward through the engine
(:func:`engine_hvp`: ``tg.grad(loss, params, create_graph=True)``, then the gradient of
``<g, v>``), or, where the loss is not a graph, by central differences of gradients
(:func:`difference_hvp`, with ``numerics.central_difference``).

>>> import tinygrad_mlp as tg
>>> w = tg.tensor(np.array([1.0, 1.0]), requires_grad=True)
>>> loss = (tg.tensor(np.array([3.0, 1.0])) * w * w).sum()  # Hessian diag(6, 2)
>>> round(power_iteration(engine_hvp(loss, [w]), [(2,)], 100, seed=0)[0], 6)
6.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..engine.autograd import grad
from ..engine.numerics import central_difference
from ..engine.tensor import Tensor

HVP = Callable[[list[np.ndarray]], list[np.ndarray]]


def power_iteration(
    hvp: HVP,
    shapes: Sequence[tuple[int, ...]],
    iterations: int,
    seed: int,
    tol: float = 1e-9,
) -> tuple[float, int]:
    """Largest eigenvalue of a symmetric operator given only as ``v -> H v``, and how many
    products it took.

    Repeatedly applying H and normalising turns any start vector towards the eigenvector of
    the eigenvalue largest in magnitude; the Rayleigh quotient ``<v, Hv>`` estimates it. When
    that is negative (a saddle), has not settled, or is smaller than ``|Hv|`` (eigenvalues of
    both signs and about equal size: ``v`` stays a mix of them), the iteration is run again
    on ``H + μ I``,
    ``μ`` the size of the largest eigenvalue: every eigenvalue of that is >= 0, and the
    largest is the largest positive one of ``H``, plus ``μ``.

    >>> H = np.diag([-5.0, 3.0, 1.0])
    >>> round(power_iteration(lambda v: [H @ v[0]], [(3,)], 500, seed=0)[0], 6)
    3.0
    >>> H = np.diag([-2.0, 2.0, 1.0])  # the plain iteration never settles here
    >>> round(power_iteration(lambda v: [H @ v[0]], [(3,)], 500, seed=0)[0], 6)
    2.0
    """
    rng = np.random.default_rng(seed)

    def run(shift: float) -> tuple[float, int, float, bool]:
        """The estimate for ``H - shift I``, the products used, the size of the last
        product and whether the estimate settled."""
        v = [rng.standard_normal(s) for s in shapes]
        norm = math.sqrt(sum(float(np.sum(a * a)) for a in v))
        v = [a / norm for a in v]
        estimate = math.nan
        for k in range(1, iterations + 1):
            hv = hvp(v)
            if shift:
                hv = [h - shift * a for h, a in zip(hv, v)]
            rayleigh = sum(float(np.sum(a * h)) for a, h in zip(v, hv))
            norm = math.sqrt(sum(float(np.sum(h * h)) for h in hv))
            if not np.isfinite(norm) or norm == 0.0:
                return (rayleigh if np.isfinite(rayleigh) else math.nan), k, norm, True
            v = [h / norm for h in hv]
            if abs(rayleigh - estimate) <= tol * abs(rayleigh):
                return rayleigh, k, norm, True
            estimate = rayleigh
        return estimate, iterations, norm, False

    with np.errstate(all="ignore"):
        lam, used, size, settled = run(0.0)
        # |<v, Hv>| below |Hv|: v is no eigenvector but a mix of eigenvalues of both signs.
        mixed = abs(lam) < (1 - 1e-3) * size
        if np.isfinite(lam) and np.isfinite(size) and (lam < 0 or not settled or mixed):
            shift = -max(size, abs(lam))
            shifted, more, _, _ = run(shift)
            return shifted + shift, used + more
    return lam, used


def engine_hvp(loss: Tensor, params: Sequence[Tensor]) -> HVP:
    """``v -> H v`` for the Hessian of ``loss`` (a graph of ``params``) by double backward.

    The gradient graph is built once (``create_graph=True``); each product is one more
    backward pass through it, of ``<g, v>``.
    """
    params = list(params)
    shapes = [p.shape for p in params]
    with np.errstate(all="ignore"):
        grads = grad(loss, params, create_graph=True, allow_unused=True)

    def hvp(v: list[np.ndarray]) -> list[np.ndarray]:
        dot = None
        for g, vi in zip(grads, v):
            if g is None:
                continue
            term = (g * Tensor(vi)).sum()
            dot = term if dot is None else dot + term
        if dot is None or not dot.requires_grad:
            return [np.zeros(s) for s in shapes]
        with np.errstate(all="ignore"):
            hv = grad(dot, params, retain_graph=True, allow_unused=True)
        return [np.zeros(s) if h is None else h.numpy() for h, s in zip(hv, shapes)]

    return hvp


def difference_hvp(gradient: Callable[[list[np.ndarray]], list[np.ndarray]],
                   W: Sequence[np.ndarray]) -> HVP:
    """``v -> H v`` by central differences of ``gradient`` (a function of all the weights)
    along ``v``, at ``W``.

    >>> hvp = difference_hvp(lambda w: [np.array([6.0, 2.0]) * w[0]], [np.ones(2)])
    >>> np.round(hvp([np.array([1.0, 0.0])])[0], 6).tolist()
    [6.0, 0.0]
    """
    point = [np.asarray(w, dtype=np.float64) for w in W]
    return lambda v: central_difference(gradient, point, direction=v)


def lambda_max_of(loss: Tensor, params: Sequence[Tensor], iterations: int,
                  seed: int) -> tuple[float, str]:
    """λmax of ``loss`` by double backward, and how it was found (for the report)."""
    lam, used = power_iteration(engine_hvp(loss, params), [p.shape for p in params],
                                iterations, seed)
    return lam, f"power iteration, {used} Hessian-vector products by double backward"
