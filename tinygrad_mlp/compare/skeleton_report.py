"""The skeleton checker's report: where each comparison was made, its table row, the findings.

:class:`BackpropReport` is what :func:`~tinygrad_mlp.compare.check_backprop` returns for a
network in the course skeleton's convention (``forward_pass`` / ``backward_pass`` /
``update_weights``); ``str(report)`` is the table by stage and layer and the recognised
causes.

>>> str(Location("backward", 1, "delta"))
'backward, layer 1, delta'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..engine.numerics import format_number
from ..text import wrap
from .arrays import Comparison


@dataclass(frozen=True)
class Location:
    """Where in the network a comparison was made: ``stage``, ``layer`` (or None) and ``part``.

    >>> str(Location("update", 0, "bias row"))
    'update, layer 0, bias row'
    """

    stage: str
    layer: int | None
    part: str

    def __str__(self) -> str:
        layer = "" if self.layer is None else f", layer {self.layer}"
        return f"{self.stage}{layer}, {self.part}"


@dataclass
class Row:
    """One line of the comparison table: your array against autograd's at one location.

    ``norm_ratio`` is ``||yours|| / ||autograd's||``; ``factor`` is set when yours is a
    constant multiple of autograd's; ``error`` holds an exception or shape problem.

    >>> Row(Location("loss", None, "dL/dyhat"), 0.0, 0.0, 1.0, True).ok
    True
    """

    location: Location
    max_abs_error: float
    rel_error: float
    norm_ratio: float
    ok: bool
    error: str | None = None
    factor: float | None = None
    counted: bool = True
    inherited: bool = False
    reference: str = "autograd"
    verdict: str = ""


@dataclass
class Finding:
    """A recognised problem: where, a short machine-readable ``cause`` and the words.

    >>> Finding(Location("update", 0, "bias row"), "zero_bias_column", "...").cause
    'zero_bias_column'
    """

    location: Location
    cause: str
    message: str
    confirmed: bool | None = None


@dataclass
class BackpropReport:
    """Result of :func:`check_backprop`; ``str(report)`` is the readable table and findings.

    ``ok`` is True when every stage agrees with autograd; ``first_mismatch`` is the
    :class:`Location` where your network and autograd first part (None when they agree);
    ``findings`` explain what was recognised; ``causes`` is the set of their cause codes.

    >>> BackpropReport(rows=[], findings=[], notes=[], title="empty").ok
    True
    """

    rows: list[Row]
    findings: list[Finding]
    notes: list[str]
    title: str
    n_samples: int = 0
    first_mismatch: Location | None = None
    reference_notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no counted stage disagrees with autograd.

        >>> BackpropReport([], [], [], "t").ok
        True
        """
        return self.first_mismatch is None

    @property
    def causes(self) -> set[str]:
        """The cause codes of all findings (e.g. ``{"zero_bias_column", "factor_n"}``).

        >>> BackpropReport([], [], [], "t").causes
        set()
        """
        return {f.cause for f in self.findings}

    def finding(self, cause: str) -> Finding | None:
        """The first finding with this cause code, or None.

        >>> BackpropReport([], [], [], "t").finding("factor_n") is None
        True
        """
        return next((f for f in self.findings if f.cause == cause), None)

    def row(self, stage: str, layer: int | None, part: str) -> Row | None:
        """The table row at this location, or None.

        >>> BackpropReport([], [], [], "t").row("loss", None, "dL/dyhat") is None
        True
        """
        wanted = Location(stage, layer, part)
        return next((r for r in self.rows if r.location == wanted), None)

    def summary(self) -> str:
        """One paragraph: agrees, or where it first parts and the recognised causes.

        >>> BackpropReport([], [], [], "t").summary().startswith("Agrees")
        True
        """
        if self.ok:
            counted = [r for r in self.rows if r.error is None and r.counted]
            worst = format_number(max((r.rel_error for r in counted), default=0.0), 2)
            notes = "".join(f" Note: {note}" for note in self.notes)
            if len(counted) == len(self.rows):
                return ("Agrees with autograd at every stage (forward values, dL/dyhat, deltas "
                        f"and the updates of every layer); largest relative error {worst}."
                        + notes)
            return ("Agrees with autograd where it counts: a training step does exactly what "
                    f"autograd says (largest relative error {worst})." + notes)
        lines = [f"First mismatch: {self.first_mismatch}."]
        for f in self.findings:
            lines.append(f"- [{f.location}] {f.message}")
        return "\n".join(lines)

    def table(self) -> str:
        """The comparison table as text (stage, layer, part, errors, norm ratio, verdict).

        >>> print(BackpropReport([], [], [], "t").table().splitlines()[0].split()[0])
        stage
        """
        header = (
            f"{'stage':<11}{'layer':>5}  {'part':<12}{'max abs err':>12}{'rel err':>10}"
            f"{'norm ratio':>12}  verdict"
        )
        lines = [header, "-" * (len(header) + 10)]
        for r in self.rows:
            layer = "-" if r.location.layer is None else str(r.location.layer)
            if r.error is not None and not np.isfinite(r.max_abs_error):
                numbers = f"{'-':>12}{'-':>10}{'-':>12}"
            else:
                numbers = (
                    f"{format_number(r.max_abs_error):>12}{format_number(r.rel_error):>10}"
                    f"{format_number(r.norm_ratio, 6):>12}"
                )
            lines.append(
                f"{r.location.stage:<11}{layer:>5}  {r.location.part:<12}{numbers}  {r.verdict}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        parts = [self.title]
        if self.reference_notes:
            parts.append("Reference: " + "; ".join(self.reference_notes) + ".")
        parts.append("")
        parts.append(self.table())
        parts.append(
            "rel err = |yours - autograd's| / |autograd's|; norm ratio = |yours| / |autograd's|"
            "\n(1 when they agree, n when a 1/n is missing, 0 when yours is zero). Each stage is"
            "\ngiven autograd's inputs, so an error shows where it is made; end-to-end chains "
            "yours."
        )
        parts.append("")
        if self.ok:
            parts.append(wrap(self.summary(), "", ""))  # the notes are in the summary
            return "\n".join(parts)
        parts.append(f"FIRST MISMATCH: {self.first_mismatch}")
        parts.append("")
        parts.append("What was recognised:")
        for i, f in enumerate(self.findings, 1):
            parts.append(wrap(f"{i}. [{f.location}] {f.message}", "  ", "      "))
        if not self.findings:
            parts.append(
                "  Nothing familiar: compare your formula for that stage with the "
                "reference formula in the table of python -m pydoc "
                "tinygrad_mlp.compare.skeleton."
            )
        for note in self.notes:
            parts.append(wrap(f"Note: {note}", "  ", "     "))
        return "\n".join(parts)


def make_row(location: Location, cmp: Comparison, reference: str, counted: bool = True) -> Row:
    """The table row of one comparison, its verdict in words.

    >>> from tinygrad_mlp.compare.arrays import compare_arrays
    >>> make_row(Location("loss", None, "dL/dyhat"),
    ...          compare_arrays(np.ones(1), np.ones(1), 1e-9, 0.0), "autograd").verdict
    'ok'
    """
    verdict = "ok" if cmp.ok else "MISMATCH"
    if cmp.error is not None:
        verdict = f"FAILED: {cmp.error}"
    elif cmp.zero:
        verdict = "MISMATCH: exactly zero"
    elif cmp.factor is not None:
        verdict = f"MISMATCH: {format_number(cmp.factor, 6)} x autograd"
    return Row(location, cmp.max_abs, cmp.rel, cmp.ratio, cmp.ok, cmp.error, cmp.factor,
               counted, False, reference, verdict)


def error_row(location: Location, message: str) -> Row:
    """The row of a stage that raised (or could not be compared): ``message`` says why.

    >>> error_row(Location("forward", None, "call"), "RuntimeError: no").verdict
    'FAILED: RuntimeError: no'
    """
    # The table keeps the first words; the finding below it carries the whole message.
    short = message if len(message) <= 48 else message.split(":")[0] + " (see below)"
    return Row(location, np.inf, np.inf, np.nan, False, message, verdict=f"FAILED: {short}")
