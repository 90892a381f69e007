"""The report of a check in your convention: ``.ok``, ``.first_mismatch``, and ``str()``.

``first_mismatch`` is None when every part agrees, else the first wrong part in backprop
order, output side first, in your terms (``db2``, ``nabla_w[0]``, ``weights[1]``, a key of
your ``params``), or the name of your function that raised. ``str(report)`` is the title,
which reference was used, a table of every part, and for each mistake the line of your
file that computed it and the likely cause.

>>> GradientReport("check", "ng", [], [], "exact").ok
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.numerics import format_number
from ..text import wrap
from .stages import Cause, Row

REFERENCE_WORDS = {
    "exact": "the exact gradient of your own forward pass and cost (run on float64 Tensors)",
    "exact forward, cost by finite differences": (
        "the exact gradient of your own forward pass (run on float64 Tensors), your cost by "
        "finite differences"),
    "finite differences": "central finite differences of your own forward pass and cost",
}


class PartName(str):
    """A part's name that also equals the other names your code has for it.

    >>> name = PartName("nabla_b[1]", ("nabla_b[-1]",))
    >>> name == "nabla_b[1]", name == "nabla_b[-1]", str(name)
    (True, True, 'nabla_b[1]')
    """

    aliases: tuple[str, ...]

    def __new__(cls, key: str, aliases: tuple[str, ...] = ()) -> PartName:
        self = super().__new__(cls, key)
        self.aliases = tuple(aliases)
        return self

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other) or other in self.aliases

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


@dataclass
class GradientReport:
    """What :func:`~tinygrad_mlp.compare.check_backprop` returns for Nielsen's and Ng's
    conventions, and :func:`~tinygrad_mlp.compare.check_gradients` for any other.

    >>> GradientReport("title", "ng", [], [], "exact").summary()
    'All 0 parts agree with the reference (largest relative error 0).'
    """

    title: str
    convention: str
    rows: list[Row]
    findings: list[Cause]
    method: str
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    error_part: str | None = None

    @property
    def ok(self) -> bool:
        """True when every part agrees with the reference and nothing raised."""
        return self.first_mismatch is None

    @property
    def first_mismatch(self) -> str | None:
        """The first wrong part, in your terms (None when all agree): a :class:`PartName`,
        equal to each of the names your code may use for it (``nabla_b[1]`` is also
        ``nabla_b[-1]`` in Nielsen's backprop)."""
        if self.error is not None:
            return self.error_part
        for status in ("wrong", "follows", "unjudged"):
            for r in self.rows:
                if r.status == status:
                    return PartName(r.quantity.key, r.quantity.aliases)
        return None

    @property
    def causes(self) -> set[str]:
        """The cause codes of the mistakes found (``{"factor_m", "transpose"}``)."""
        return {f.cause for f in self.findings}

    def finding(self, cause: str) -> Cause | None:
        """The first mistake with this cause code, or None."""
        return next((f for f in self.findings if f.cause == cause), None)

    def row(self, key: str) -> Row | None:
        """The table row of one part, by your name of it."""
        return next((r for r in self.rows if r.quantity.key == key), None)

    def summary(self) -> str:
        """One paragraph: agrees, or the first mismatch, its line and its likely cause."""
        if self.error is not None:
            return f"Your {self.error_part} raised {self.error}"
        if self.ok:
            checked = [r for r in self.rows if r.status == "ok"]
            worst = max((r.comparison.rel for r in checked if r.comparison), default=0.0)
            return (f"All {len(checked)} parts agree with the reference (largest relative "
                    f"error {format_number(worst, 2)}).")
        first = self.findings[0]
        return f"First mismatch: {first.key}. " + _finding_words(first)

    def table(self) -> str:
        """Every part in backprop order: verdict, max abs error, rel error, norm ratio."""
        width = max([len(r.quantity.key) for r in self.rows] + [4]) + 2
        lines = [f"{'part':<{width}}{'verdict':<34}{'max abs err':>12}{'rel err':>10}"
                 f"{'norm ratio':>12}"]
        for r in self.rows:
            c = r.comparison
            numbers = "" if c is None or c.error is not None or (
                r.status == "ok" and c.max_abs == 0) else (
                f"{format_number(c.max_abs, 2):>12}{format_number(c.rel, 2):>10}"
                f"{format_number(c.ratio, 4):>12}")
            lines.append(f"{r.quantity.key:<{width}}{_verdict(r):<34}{numbers}".rstrip())
        return "\n".join(lines)

    def __str__(self) -> str:
        parts = [self.title, wrap(f"Reference: {REFERENCE_WORDS.get(self.method, self.method)}"
                                  + (f", because {self.reason}" if self.reason else "") + ".",
                                  "", "  ")]
        if self.error is not None:
            parts += ["", f"FAILED: your {self.error_part} raised", wrap(self.error, "  ", "  ")]
            return "\n".join(parts + self._notes())
        parts += ["", self.table(), wrap(
            "Parts in backprop order, output side first. rel err = |yours - reference| / "
            "|reference|, norm ratio = |yours| / |reference|; 'follows' = the right rule "
            "applied to your own value of the part it is computed from.", "", "")]
        if self.ok:
            parts += ["", self.summary()]
        else:
            first, *others = self.findings
            parts += ["", f"FIRST MISMATCH: {self._named(first.key)}", _finding_text(first)]
            for k, other in enumerate(others, 2):
                parts += ["", f"MISTAKE {k}: {self._named(other.key)} (wrong on its own, not "
                          "because of the first)", _finding_text(other)]
        return "\n".join(parts + self._notes())

    def _named(self, key: str) -> str:
        """The part's key, and how your code calls it when that is not the key."""
        row = self.row(key)
        label = row.quantity.label if row is not None else ""
        return f"{key} ({label})" if label else key

    def _notes(self) -> list[str]:
        return [wrap(f"Note: {note}", "", "  ") for note in self.notes]


def _verdict(r: Row) -> str:
    q = r.quantity
    if r.status == "ok":
        if q.pe != 1.0 and r.scale is not None:
            return "ok (per example)" if r.scale == q.pe else "ok (divided by m)"
        return "ok"
    if r.status == "wrong":
        c = r.comparison
        if c is None:
            return f"WRONG: {r.note}"
        if c is not None and c.error is not None:
            return "WRONG: " + c.error.replace(" where ", ", not ").replace(" was expected", "")
        if c is not None and c.factor is not None:
            return f"WRONG: {format_number(c.factor, 4)} x the right value"
        return "WRONG"
    if r.status == "follows":
        return f"wrong, {r.note or 'follows from ' + str(q.parent)}"
    if r.status == "unjudged":
        return "wrong (after a mistake above)"
    return "not checked (no reference)"


def _finding_words(f: Cause) -> str:
    if f.cause in ("unknown", "raised"):
        return f.words
    return f"Likely cause: {f.words.rstrip('.')}."


def _finding_text(f: Cause) -> str:
    lines = []
    if f.also:
        same = "line" if f.origin is not None and not f.cause.startswith("factor") else "factor"
        lines.append(f"  (the same {same} makes {', '.join(f.also)} wrong too)")
    if f.origin is not None:
        lines.append(f"  computed at {f.origin.describe()}")
    lines.append(wrap(_finding_words(f), "  ", "  "))
    return "\n".join(lines)
