"""The checks, in backprop order: each quantity your convention exposes, against the reference.

A convention lists its :class:`Quantity` s output side first (Ng: ``dZ2, dW2, db2, dZ1, ...``;
Nielsen: ``nabla_b[-1], nabla_w[-1], ...`` then the update). :func:`run_checks` judges each:

- **ok** when it equals the reference at one of the scales the convention allows (Ng's
  ``dZ`` may be per example or divided by m);
- **follows** when it is wrong but is exactly what the right rule makes of the quantity it
  is computed from (its ``parent``), as *you* computed that: the mistake was made earlier;
- otherwise **wrong** here: the mistake is made in this quantity, and the guesses of
  :mod:`.causes` and :mod:`.dense` say which one it is likely to be.

The first wrong quantity is the first mismatch; a second one that does not follow from the
first is a second mistake and is reported too.

>>> q = Quantity("dW1", "param", None, np.array([2.0]), np.array([1.0]))
>>> checks = run_checks([q], context=None, m=None)
>>> checks.first.key, checks.findings[0].cause
('dW1', 'factor_2')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .arrays import Comparison, compare_arrays
from .causes import Guess, axis_guesses, explain, factor_guesses, matches
from .dense import (
    Dense,
    delta_guesses,
    forward_guesses,
    input_guesses,
    parameter_guesses,
    right_rule,
)
from .tracing import Assignment, Trace
from .usercode import exception_text

RTOL = 1e-6
FD_RTOL = 1e-4


@dataclass
class Quantity:
    """One thing your backprop computes: ``key`` in your terms, its ``kind`` (``dAL``,
    ``dZ``, ``dA``, ``dW``, ``db``, ``step``, ``param``), the dense ``layer`` it belongs to,
    your value, the reference (NaN where unknown), the ``scales`` at which your value is
    right (reference times scale), the ``parent`` it is computed from, the line that made it
    (``origin``) and how your code names it when that is not the key (``label``).

    ``pe`` turns the reference into a per-example value (the dense guesses work per
    example); ``from_parent`` is what a step is of its parent gradient (1, or 1/m for
    Nielsen's sum over the mini-batch).
    """

    key: str
    kind: str
    layer: int | None
    user: Any
    reference: np.ndarray | None
    scales: tuple[float, ...] = (1.0,)
    parent: str | None = None
    origin: Assignment | None = None
    label: str = ""
    pe: float = 1.0
    from_parent: float = 1.0
    lr: float | None = None
    required: bool = False
    present: tuple[str, ...] = ()
    error: str | None = None
    aliases: tuple[str, ...] = ()
    transform: Callable[[np.ndarray], np.ndarray] | None = None
    trace: Trace | None = None


@dataclass
class Row:
    """The verdict on one quantity: ``status`` is ``ok``, ``wrong``, ``follows`` (from the
    parent), ``unjudged`` (after a mistake, nothing to tell it by) or ``unchecked`` (no
    reference); ``scale`` the scale it agreed at."""

    quantity: Quantity
    status: str
    comparison: Comparison | None = None
    scale: float | None = None
    note: str = ""


@dataclass
class Cause:
    """A mistake made in one quantity: the ``cause`` code, the words, the line, and for a
    factor that should follow the batch size whether a rerun ``confirmed`` it."""

    key: str
    cause: str
    words: str
    origin: Assignment | None
    factor: float | None = None
    confirmed: bool | None = None
    also: list[str] = field(default_factory=list)


@dataclass
class Checks:
    rows: list[Row] = field(default_factory=list)
    findings: list[Cause] = field(default_factory=list)

    @property
    def first(self) -> Quantity | None:
        return next((r.quantity for r in self.rows if r.status == "wrong"), None)

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows if r.quantity.key == key), None)


def judge(user: Any, reference: np.ndarray, scales: tuple[float, ...], rtol: float
          ) -> tuple[Comparison, float | None]:
    """Compare at each allowed scale; the comparison at the first that agrees (or at the
    first scale when none does) and that scale (None when none agrees).

    >>> judge(np.array([4.0]), np.array([1.0]), (4.0, 1.0), 1e-6)[1]
    4.0
    """
    mask = np.isfinite(reference)
    results = []
    for s in scales:
        if mask.all():
            c = compare_arrays(user, reference * s, rtol, 1e-12)
        else:
            c = _compare_masked(user, reference * s, mask, rtol)
        if c.ok:
            return c, s
        results.append(c)
    return results[0], None


def _compare_masked(user: Any, ref: np.ndarray, mask: np.ndarray, rtol: float) -> Comparison:
    u = np.asarray(user, dtype=np.float64) if _numeric(user) else None
    if u is None or u.shape != ref.shape:
        return compare_arrays(user, np.where(mask, ref, 0.0), rtol, 1e-12)
    return compare_arrays(u[mask], ref[mask], rtol, 1e-12)


def _numeric(x: Any) -> bool:
    try:
        np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def run_checks(quantities: list[Quantity], context: Dense | None, m: int | None,
               rtol: float = RTOL) -> Checks:
    """Judge every quantity in order (see the module docstring).

    >>> run_checks([Quantity("dW1", "param", None, np.ones(2), np.ones(2))], None, None).first
    """
    checks = Checks()
    by_key = {q.key: q for q in quantities}
    suspects: set[str] = set()  # parts a finding has already blamed
    for q in quantities:
        if q.error is not None:
            checks.rows.append(Row(q, "wrong", note="raised"))
            checks.findings.append(Cause(q.key, "raised", q.error, None))
            continue
        if q.user is None:
            if q.required and not suspects:
                checks.rows.append(Row(q, "wrong", note="missing"))
                checks.findings.append(_missing(q))
                suspects.add(q.key)
            continue
        if q.reference is None:
            checks.rows.append(Row(q, "unchecked", note="no reference"))
            continue
        parent = _parent_row(checks, q, by_key)
        comparison, scale = judge(q.user, q.reference, _scales(q, parent), rtol)
        if scale is not None:
            checks.rows.append(Row(q, "ok", comparison, scale))
            continue
        expected = _expected(q, parent, by_key, context)
        follows = expected is not None and any(
            matches(q.user, expected * s / q.pe, max(rtol * 10, 1e-7)) for s in q.scales)
        if suspects & (_ancestors(q, by_key) | {"forward"}):
            if follows:
                checks.rows.append(Row(q, "follows", comparison, note=f"follows from {q.parent}"))
            else:
                checks.rows.append(_same_mistake(q, comparison, parent, checks, quantities,
                                                 context, m, rtol))
            continue
        checks.rows.append(Row(q, "wrong", comparison))
        usable = parent if parent is not None and parent.status in ("ok", "unchecked") else None
        cause = _cause(q, comparison, usable, expected, quantities, context, m, rtol)
        if usable is not None and usable.status == "unchecked" and follows:
            cause = _blame_unchecked(q, usable.quantity, cause)
            suspects.add(usable.quantity.key)
        checks.findings.append(cause)
        suspects.add("forward" if q.kind == "forward" else q.key)
    _mark_unjudged(checks)
    checks.findings = _same_line_once(checks.findings)
    return checks


INTERMEDIATE = ("dZ", "dA", "dAL")


def _scales(q: Quantity, parent: Row | None) -> tuple[float, ...]:
    """The scales ``q`` may be right at: one step of the chain rule keeps the scale of the
    intermediate it starts from (per example, or divided by m), so only the first
    intermediate of a chain may choose."""
    if (q.kind in INTERMEDIATE and parent is not None and parent.status == "ok"
            and parent.quantity.kind in INTERMEDIATE and parent.scale in q.scales):
        return (parent.scale,)
    return q.scales


def raised(key: str, exc: BaseException) -> Quantity:
    """A call of yours that raised, as a part of the check (``key`` names the call).

    >>> raised("update", ValueError("no")).error
    'update raised ValueError: no'
    """
    return Quantity(key, "call", None, None, None, error=f"{key} raised {exception_text(exc)}")


def _missing(q: Quantity) -> Cause:
    have = ", ".join(q.present) if q.present else "nothing"
    return Cause(q.key, "missing", f"your gradients have no {q.key} (they have {have}): a key "
                 "spelled or numbered otherwise (an index off by one?), or a layer left out",
                 None)


def _same_mistake(q: Quantity, comparison: Comparison, parent: Row | None, checks: Checks,
                  quantities: list[Quantity], context: Dense | None, m: int | None,
                  rtol: float) -> Row:
    """A part after a mistake that does not simply follow from it: when the same slip in the
    same line explains it (a helper called once per layer), it is that mistake again."""
    if parent is not None and parent.status not in ("ok", "unchecked"):
        # judged on your own parent value, as if it were right
        parent = Row(parent.quantity, "ok", scale=parent.quantity.scales[0])
    expected = _expected(q, parent, {p.key: p for p in quantities}, context)
    cause = _cause(q, comparison, parent, expected, quantities, context, m, rtol)
    for f in checks.findings:
        if f.cause == cause.cause != "unknown" and _same_line(f, cause):
            f.also.append(q.key)
            return Row(q, "follows", comparison, note=f"the same mistake as {f.key}")
    return Row(q, "unjudged", comparison)


def _ancestors(q: Quantity, by_key: dict[str, Quantity]) -> set[str]:
    found: set[str] = set()
    key = q.parent
    while key and key in by_key and key not in found:
        found.add(key)
        key = by_key[key].parent
    return found


def _blame_unchecked(q: Quantity, p: Quantity, cause: Cause) -> Cause:
    """``q`` is exactly what the right rule makes of your ``p``, which has no reference of
    its own (finite differences reach only the parameters): the mistake is in ``p``."""
    where = f" (computed at {p.origin.describe()})" if p.origin is not None else ""
    words = (f"{q.key} is exactly what the right rule makes of your {p.key}{where}, which "
             f"finite differences cannot check: the mistake is in {p.key}")
    if cause.cause != "unknown":
        words += f"; {q.key} is {cause.words}"
    return Cause(q.key, cause.cause if cause.cause != "unknown" else "from_unchecked_part",
                 words, cause.origin, cause.factor)


def _same_line_once(findings: list[Cause]) -> list[Cause]:
    """One mistake reported once: a line that makes several parts wrong, or one constant
    factor that every later part shows too (a cost and a backward pass that disagree by
    1/m make every gradient wrong by the same factor, line after line)."""
    kept: list[Cause] = []
    for f in findings:
        twin = next((k for k in kept if k.cause == f.cause and (_same_line(k, f) or (
            k.cause.startswith("factor") and k.factor is not None and f.factor is not None
            and abs(k.factor / f.factor - 1.0) < 1e-6))), None)
        if twin is None:
            kept.append(f)
        else:
            twin.also.append(f.key)
    return kept


def _same_line(a: Cause, b: Cause) -> bool:
    return (a.origin is not None and b.origin is not None and a.origin.line == b.origin.line
            and a.origin.filename == b.origin.filename)


def _parent_row(checks: Checks, q: Quantity, by_key: dict[str, Quantity]) -> Row | None:
    """The verdict on the quantity ``q`` is computed from; a part your code does not expose
    but the reference has stands in at its right value."""
    if not q.parent:
        return None
    row = checks.row(q.parent)
    if row is not None:
        return row
    p = by_key.get(q.parent)
    if p is None or p.user is not None or p.reference is None:
        return None
    stand_in = Quantity(p.key, p.kind, p.layer, p.reference * p.scales[0], p.reference,
                        p.scales, p.parent, pe=p.pe)
    return Row(stand_in, "ok", scale=p.scales[0])


def _mark_unjudged(checks: Checks) -> None:
    """A wrong quantity whose parent could not be judged may only inherit its mistake."""
    for row in checks.rows:
        if row.status == "unjudged":
            row.note = "after a mistake above; not judged on its own"


def _expected(q: Quantity, parent: Row | None, by_key: dict[str, Quantity],
              context: Dense | None) -> np.ndarray | None:
    """What the right rule makes of your parent value (per example for intermediates)."""
    if parent is None:
        return None
    p = parent.quantity
    up = _per_example(p, parent)
    if up is None:
        return None
    if q.kind == "step":
        if q.reference is not None and up.shape != np.shape(q.reference) and up.ndim == 2:
            up = up.sum(axis=-1, keepdims=True)  # Nielsen's deltas, one column per example
        return up / p.pe * q.from_parent * q.pe
    if context is None or q.layer is None:
        return None
    try:
        expected = right_rule(context, q.kind, q.layer, _relation(q, p), up)
    except (ValueError, IndexError):
        return None
    return expected if expected is None or q.transform is None else q.transform(expected)


def _relation(q: Quantity, p: Quantity) -> str:
    """How ``q`` is computed from ``p``: from the same layer's ``dZ`` or ``dA``, or from the
    next layer's ``dZ`` (``"dZ_next"``)."""
    if p.kind == "dZ" and p.layer is not None and q.layer is not None and p.layer == q.layer + 1 \
            and q.kind in ("dW", "db"):
        return "dZ_next"
    return "dA" if p.kind == "dAL" else p.kind


def _per_example(p: Quantity, row: Row) -> np.ndarray | None:
    """Your value of a parent quantity, per example (divided by the scale it agreed at, or
    the first allowed one)."""
    try:
        user = np.asarray(p.user, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    scale = row.scale if row.scale is not None else p.scales[0]
    return user / scale * p.pe


def _cause(q: Quantity, comparison: Comparison, parent: Row | None, expected: np.ndarray | None,
           quantities: list[Quantity], context: Dense | None, m: int | None,
           rtol: float) -> Cause:
    scale = _scales(q, parent)[0]
    base = expected * scale / q.pe if expected is not None else q.reference * scale
    mask = np.isfinite(q.reference)
    mask = None if mask.all() else mask
    user_shape = tuple(np.shape(q.user)) if _numeric(q.user) else ()
    dense = _scaled(_dense_guesses(q, parent, context, user_shape), q, scale)
    tolerance = max(rtol * 10, 1e-7)
    found = explain(q.user, dense, tolerance, mask) or explain(
        q.user, _generic_guesses(q, base, quantities, m or _whole(comparison.factor)),
        tolerance, mask)
    if found is None:
        return Cause(q.key, "unknown", _unknown_words(q, comparison), q.origin, comparison.factor)
    return Cause(q.key, found.cause, found.words, _localize(q, found, quantities),
                 comparison.factor)


def _localize(q: Quantity, found: Guess, quantities: list[Quantity]) -> Assignment | None:
    """The line where the slip was made: the first of your lines, before the one that made
    ``q``, whose value is the wrong intermediate the guess predicts (a ``dZ`` taken at the
    wrong argument, a delta with its sign flipped); ``q``'s own line when there is none."""
    if q.trace is None:
        return q.origin
    by_key = {p.key: p for p in quantities}
    wrong = []
    if found.via is not None:
        wrong.append(np.asarray(found.via))
    elif found.factor is not None:
        near = {p.key for p in quantities if p.layer == q.layer and p.kind in INTERMEDIATE}
        for key in sorted(_ancestors(q, by_key) | near):
            p = by_key[key]
            if p.reference is not None and found.factor not in p.scales \
                    and np.all(np.isfinite(p.reference)):
                wrong.append(p.reference * p.scales[0] * found.factor)
    stop = q.trace.assignments.index(q.origin) if q.origin in q.trace.assignments else None
    for value in wrong:
        hit = q.trace.find(value, 1e-7)
        if hit is not None and (stop is None or q.trace.assignments.index(hit) < stop):
            return hit
    return q.origin


def _scaled(guesses: Iterator[Guess], q: Quantity, scale: float) -> Iterator[Guess]:
    """Per-example guesses at the scale your value is expected at."""
    for g in guesses:
        if g.predicted is None:
            continue
        factor = scale / q.pe if q.kind in ("dZ", "dA", "dAL") else 1.0
        predicted = np.asarray(g.predicted) * factor
        yield Guess(g.cause, g.words, predicted if q.transform is None else q.transform(predicted),
                    g.via, g.factor)


def _dense_guesses(q: Quantity, parent: Row | None, context: Dense | None,
                   shape: tuple[int, ...]) -> Iterator[Guess]:
    if context is None or q.layer is None:
        return
    up_kind = _relation(q, parent.quantity) if parent is not None else None
    up = _per_example(parent.quantity, parent) if parent is not None else None
    try:
        if q.kind == "dZ":
            yield from delta_guesses(context, q.layer, up_kind, up)
        elif q.kind == "dA" and up is not None:
            yield from input_guesses(context, q.layer, up)
        elif q.kind in ("dW", "db"):
            yield from parameter_guesses(context, q.layer, q.kind, up_kind, up, shape)
        elif q.kind == "forward":
            yield from forward_guesses(context, q.layer, q.key, shape)
    except (ValueError, IndexError):
        return


def _generic_guesses(q: Quantity, base: np.ndarray, quantities: list[Quantity],
                     m: int | None) -> Iterator[Guess]:
    yield Guess("zero", "exactly zero where the gradient is not: it is never computed (or "
                "made of np.zeros where np.ones belongs)", np.zeros_like(base))
    yield from factor_guesses(base, m, q.lr)
    user_shape = tuple(np.shape(q.user)) if _numeric(q.user) else ()
    if user_shape != base.shape:
        yield from axis_guesses(base, user_shape)
    if base.ndim == 2 and base.shape[0] == base.shape[1]:
        yield Guess("transpose", "the right values transposed (it runs because the array is "
                    "square)", base.T)
    elif base.ndim == 2 and user_shape == base.T.shape:
        yield Guess("transpose", f"the right values transposed: shape {user_shape} where "
                    f"{base.shape} belongs (A_prev @ dZ.T for dZ @ A_prev.T, say)", base.T)
    for other in quantities:
        if other is q or other.kind != q.kind or other.reference is None:
            continue
        if np.shape(other.reference) == np.shape(base):
            yield Guess("wrong_layer", f"the gradient of another part: {other.key}'s where "
                        f"{q.key}'s belongs", other.reference * (q.scales[0]))


def _whole(factor: float | None) -> int | None:
    """A factor that is a whole number n > 2 (or 1/n): where the batch size is not known, the
    likely one (2 is more likely the factor of a square)."""
    if factor is None or factor == 0:
        return None
    for value in (abs(factor), 1 / abs(factor)):
        if value > 2.5 and abs(value - round(value)) < 1e-6 * value:
            return round(value)
    return None


def _unknown_words(q: Quantity, c: Comparison) -> str:
    if c.error is not None:
        return f"{q.key} {c.error}."
    return (f"{q.key} differs from the reference (relative error {c.rel:.2g}, norm ratio "
            f"{c.ratio:.3g}) in no way the checker recognises.")


def confirm_batch_factors(checks: Checks, rerun: Callable[[], list[Quantity]] | None,
                          n: int, m: int) -> None:
    """Rerun at another batch size ``m``: a factor that follows the batch size is the 1/m;
    an error in the rerun is reported as such and leaves it unconfirmed."""
    from .arrays import batch_confirmation

    todo = [f for f in checks.findings if f.cause in ("factor_m", "factor_1_over_m")]
    if not todo or rerun is None:
        return
    try:
        again = {q.key: q for q in rerun()}
        failed = None
    except Exception as exc:
        again, failed = {}, f"{type(exc).__name__}: {exc}".split("\n")[0]
    for f in todo:
        exponent = 1 if f.cause == "factor_m" else -1
        big = float(n) ** exponent
        q = again.get(f.key)
        small = None
        if failed is None and q is not None and q.reference is not None:
            small = compare_arrays(q.user, q.reference * q.scales[0], RTOL, 1e-12).factor
        words = batch_confirmation(big, small, failed or (None if q is not None else
                                   f"{f.key} was not computed"), exponent, n, m)
        f.confirmed = words.confirmed
        f.words += ". " + words.words
