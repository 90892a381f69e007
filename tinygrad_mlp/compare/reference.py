"""The reference: the exact gradient of *your own* forward pass and cost.

Your forward pass and cost are run on float64 Tensors (NumPy's functions record operations
when given Tensors), and the engine differentiates exactly what your code computed: every
parameter, and every intermediate your convention exposes (Ng's cache entries ``Z1``,
``A1``, ...). Where that is not possible the reference says so and falls back:

- ``"exact"``: the forward pass and the cost ran on Tensors;
- ``"exact forward, cost by finite differences"``: the forward pass ran on Tensors but the
  cost did not return one (``float(...)`` at its end, say); the cost is differenced with
  respect to each entry of the output and the rest is exact;
- ``"finite differences"``: the forward pass itself cannot run on Tensors; central
  differences of your loss at a seeded sample of at most ``FD_ENTRIES`` entries of each
  parameter (the other entries are NaN: not checked), and intermediates are not checked.

A network hands the reference its pieces: :class:`Piece` (one per example for Nielsen's
per-example cost, one for the batch otherwise), each a loss Tensor and the named Tensors
whose gradients are wanted.

>>> import tinygrad_mlp as tg
>>> W = tg.tensor(np.array([[2.0]]), requires_grad=True)
>>> piece = Piece(lambda: (W * 3.0).sum(), {"W": W}, required=("W",))
>>> piece_gradients(piece)[1]["W"].tolist()
[[3.0]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.autograd import grad
from ..engine.backward import inputs_of, topological_order
from ..engine.tensor import Tensor
from .differences import entry_slopes
from .network import NotDifferentiable

EXACT = "exact"
HYBRID = "exact forward, cost by finite differences"
FINITE = "finite differences"

# Entries of one parameter differenced when the forward pass cannot run on Tensors.
FD_ENTRIES = 48
# Output entries differenced one by one when only the cost cannot run on Tensors.
MAX_OUTPUT_ENTRIES = 20_000


@dataclass
class Surrogate:
    """A forward pass that ran on Tensors with a cost that did not: the output Tensor and
    the cost as a function of the output's values (a float)."""

    output: Tensor
    cost: Callable[[np.ndarray], float]
    reason: str


@dataclass
class Piece:
    """One loss to differentiate: ``build()`` runs your forward pass and cost on Tensors and
    returns the loss (a 0-d Tensor) or a :class:`Surrogate`; ``tensors`` names the Tensors
    whose gradients are wanted (the parameters' leaves, and intermediates that ``build``
    fills in)."""

    build: Callable[[], Tensor | Surrogate]
    tensors: dict[str, Tensor]
    # The parameters: a graph that does not reach one of them was cut on the way.
    required: tuple[str, ...] = ()


@dataclass
class Reference:
    """The reference gradients: per piece, name to array (NaN where not computed); the
    loss ``value``; the ``method`` (see the module docstring) and, when not exact, why."""

    value: float
    pieces: list[dict[str, np.ndarray]]
    method: str = EXACT
    reason: str | None = None
    notes: list[str] = field(default_factory=list)

    def total(self, name: str) -> np.ndarray:
        """The gradient of the summed loss with respect to ``name``."""
        return np.sum([p[name] for p in self.pieces], axis=0)

    def stacked(self, name: str, axis: int = -1) -> np.ndarray:
        """Each piece's gradient of ``name`` side by side (Nielsen's per-example deltas as
        the columns of one matrix: ``axis=-1`` joins (n, 1) columns into (n, m))."""
        return np.concatenate([p[name] for p in self.pieces], axis=axis)


def piece_gradients(piece: Piece) -> tuple[float, dict[str, np.ndarray], str | None]:
    """``(loss value, name -> gradient, reason)`` of one piece: exact, or with the cost
    differenced (``reason`` then says why); raises :class:`NotDifferentiable`."""
    built = piece.build()
    reason = None
    if isinstance(built, Surrogate):
        reason = built.reason
        built = surrogate_loss(built)
    names = [k for k, t in piece.tensors.items() if isinstance(t, Tensor) and t.requires_grad]
    found = grad(built, [piece.tensors[k] for k in names], allow_unused=True)
    out = {}
    for name, g in zip(names, found):
        if g is None and name in piece.required:
            raise NotDifferentiable(
                f"the graph of your forward pass does not reach {name}: something on the way "
                "turned a Tensor into a plain number or array (np.array(...), float(...), "
                ".item()) and its gradient would be lost")
        tensor = piece.tensors[name]
        out[name] = np.zeros(tensor.shape) if g is None else np.array(g.numpy(), dtype=np.float64)
    return float(built.item()), out, reason


def surrogate_loss(s: Surrogate) -> Tensor:
    """A Tensor whose value is the cost and whose gradient with respect to the output is the
    cost's finite-difference gradient (first order: ``out - out.detach()`` is zero)."""
    values = np.array(s.output.numpy(), dtype=np.float64)
    if values.size > MAX_OUTPUT_ENTRIES:
        raise NotDifferentiable(f"{s.reason}, and the output has {values.size} entries: too "
                                "many to difference one by one")
    slopes = entry_slopes(s.cost, values, np.arange(values.size)).reshape(values.shape)
    if not np.all(np.isfinite(slopes)):
        raise NotDifferentiable(f"{s.reason}, and the cost has no finite slope at some output "
                                "entries")
    value = float(s.cost(values))
    return Tensor(np.asarray(value)) + ((s.output - s.output.detach()) * slopes).sum()


def exact_reference(pieces: Sequence[Piece]) -> Reference:
    """The reference of every piece, exact or with the cost differenced; raises
    :class:`NotDifferentiable` when a forward pass cannot run on Tensors."""
    value, grads, reasons = 0.0, [], []
    for piece in pieces:
        try:
            v, g, reason = piece_gradients(piece)
        except NotDifferentiable:
            raise
        except Exception as exc:  # a NumPy call with no gradient rule, an in-place write...
            raise NotDifferentiable(f"{type(exc).__name__}: {exc}".split("\n")[0]) from exc
        value += v
        grads.append(g)
        if reason:
            reasons.append(reason)
    if reasons:
        return Reference(value, grads, HYBRID, reasons[0])
    return Reference(value, grads)


def finite_reference(losses: Sequence[Callable[[dict[str, np.ndarray]], float]],
                     params: dict[str, np.ndarray], reason: str, seed: int = 0) -> Reference:
    """Central differences of each piece's loss (a function of the parameters' arrays) at a
    seeded sample of at most ``FD_ENTRIES`` entries of each parameter, NaN elsewhere."""
    rng = np.random.default_rng(seed)
    chosen = {name: _sample(rng, array.size) for name, array in params.items()}
    work = {name: np.array(a, dtype=np.float64, copy=True) for name, a in params.items()}
    pieces = []
    value = 0.0
    for loss in losses:
        value += float(loss(work))
        pieces.append({name: _entry_slopes(loss, work, name, chosen[name]) for name in work})
    note = (f"finite differences at {min(FD_ENTRIES, max(a.size for a in params.values()))} "
            "seeded entries of each parameter at most")
    return Reference(value, pieces, FINITE, reason, [note])


def _entry_slopes(loss: Callable[[dict[str, np.ndarray]], float], work: dict[str, np.ndarray],
                  name: str, entries: np.ndarray) -> np.ndarray:
    """The slopes of ``loss`` at some entries of one parameter, NaN at the others."""
    out = np.full(work[name].shape, np.nan)
    out.flat[entries] = entry_slopes(lambda array: loss({**work, name: array}), work[name],
                                     entries)
    return out


def _sample(rng: np.random.Generator, size: int) -> np.ndarray:
    if size <= FD_ENTRIES:
        return np.arange(size)
    return np.sort(rng.choice(size, FD_ENTRIES, replace=False))


def made_from(root: Tensor, leaf: Tensor, op: str | None = None) -> Tensor | None:
    """The first Tensor of ``root``'s graph computed directly from ``leaf`` (by the operation
    named ``op``, when given): the ``Z = W @ A + b`` that adds a bias ``b``, say.

    >>> import tinygrad_mlp as tg
    >>> b = tg.tensor([1.0], requires_grad=True)
    >>> z = b + 2.0
    >>> made_from((z * 3.0).sum(), b) is z
    True
    """
    for t in topological_order([root]):
        if any(p is leaf for p in inputs_of(t)) and (op is None or t.grad_fn.name == op):
            return t
    return None


def run_on_tensors(call: Callable[[], Any], what: str) -> Any:
    """Run a piece of your code on Tensors; what cannot run (an error inside, a NumPy call
    without a gradient rule) becomes :class:`NotDifferentiable` naming ``what``."""
    try:
        with np.errstate(all="ignore"):
            return call()
    except NotDifferentiable:
        raise
    except Exception as exc:
        first = str(exc).split("\n")[0]
        raise NotDifferentiable(f"{what} cannot run on Tensors ({type(exc).__name__}: "
                                f"{first})") from exc
