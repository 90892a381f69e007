"""The words of a diagnosis: the verdict and the seven sections, written from its data.

Each renderer is a function of a :class:`~.findings.Diagnosis`; :class:`DiagnosisReport`
is that data with the renderers as methods (``str(report)`` is the whole report). Every
section a sentence sends the reader to is one the report prints.

>>> from tinygrad_mlp.diagnose import example_report
>>> print(str(example_report()).splitlines()[0].split(",")[0])
Diagnosis: NeuralNetwork (1 -> 1)
"""

from __future__ import annotations

import numpy as np

from ..engine.numerics import format_number
from ..text import wrap
from .findings import Diagnosis, NonFinite

WIDTH = 96


def _fmt(x: float | None, digits: int = 3) -> str:
    return format_number(x, digits)


class DiagnosisReport(Diagnosis):
    """What :func:`~tinygrad_mlp.diagnose.diagnose` found; ``str(report)`` reads as a report.

    The fields and numbers are those of :class:`~tinygrad_mlp.diagnose.findings.Diagnosis`;
    this class adds the text.

    >>> from tinygrad_mlp.diagnose import example_report
    >>> print(str(example_report()).splitlines()[0].split(",")[0])
    Diagnosis: NeuralNetwork (1 -> 1)
    """

    def verdict(self, width: int = WIDTH) -> str:
        """The first paragraph of the report: what happened and the main reason.

        >>> from tinygrad_mlp.diagnose import example_report
        >>> print(example_report().verdict().splitlines()[0])
        The run blows up: epoch 303, loss.value: loss became inf.
        """
        return verdict(self, width)

    def growth_lines(self) -> list[str]:
        """Per-layer growth factors of max |A| (per epoch, over the last finite stretch).

        >>> from tinygrad_mlp.diagnose import example_report
        >>> example_report().growth_lines()[0].split(" over ")[0]
        'layer 0 (identity, 1): max|A| x3.203 per epoch'
        """
        return growth_lines(self)

    def story_lines(self) -> list[str]:
        """Plain-words milestones: the first large jump, hidden units dying.

        >>> from tinygrad_mlp.diagnose import example_report
        >>> example_report().story_lines()
        []
        """
        return story_lines(self)

    def __str__(self) -> str:
        return render(self)


def render(d: Diagnosis) -> str:
    """The whole report: the title, the verdict, the sections and the notes."""
    out = [d.title, "=" * min(len(d.title), WIDTH), "", verdict(d), ""]
    for section in (section_nonfinite, section_scales, section_units, section_step,
                    section_growth, section_backprop, section_cures):
        out += section(d)
    for note in d.notes:
        out.append(wrap("Note: " + note, ""))
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# The verdict


def verdict(d: Diagnosis, width: int = WIDTH) -> str:
    """What happened, why, and what cured it, in a few sentences."""
    lines = _headline(d) + _step_lines(d) + _cure_lines(d)
    return "\n".join(wrap(line, "", width=width) for line in lines)


def _headline(d: Diagnosis) -> list[str]:
    lines: list[str] = []
    if not np.isfinite(d.loss_at_init):
        lines.append(f"The loss is already {_fmt(d.loss_at_init)} at the initial weights, "
                     "before any update, so no step size can help: see section 3 (an output "
                     "exactly 0 or 1 makes log(ŷ) = -inf) and section 1 for the line.")
    span = f"the loss goes from {_fmt(d.losses[0])} to {_fmt(d.losses[-1])}" if d.losses else ""
    if d.blew_up:
        first = d.first_nonfinite
        assert first is not None
        nan = next((e for e in d.events if e.kind == "nan"), None)
        text = f"The run blows up: {first}"
        if nan is not None and nan is not first:
            text += f"; the first NaN appears at epoch {nan.epoch} ({nan.stage}, {nan.array})"
        lines.append(text + ".")
    elif d.diverged:
        lines.append(f"The run diverges without reaching inf in {d.epochs} epochs: {span}.")
    elif d.gradient_wrong:
        lines.append(
            f"The gradient is wrong: the backprop check parts from autograd first at "
            f"{d.backprop.first_mismatch} (section 6). The run stays finite for {d.epochs} "
            f"epochs and {span}, but every step follows that wrong gradient, so a stable run "
            "says nothing about the backprop being right: mend it first.")
    elif d.losses and not d.losses[-1] < d.losses[0]:
        lines.append(f"The run stays finite for {d.epochs} epochs but does not learn: {span}.")
    else:
        lines.append(f"The run is stable: all values stay finite for {d.epochs} epochs and "
                     f"{span}.")
    return lines


def _step_lines(d: Diagnosis) -> list[str]:
    lrl = d.lr_times_lambda_max
    if not np.isfinite(lrl):
        return [f"λmax could not be estimated: {why_no_lambda(d)}."]
    if d.update_scale < 0 < d.lambda_max_loss:
        where = " (section 6)" if d.backprop is not None else ""
        return [f"The update climbs: it is {_fmt(d.update_scale)} times the gradient of the "
                "loss, so every step goes uphill whatever its size; no learning rate makes it "
                f"descend: mend the sign in the backprop{where}."]
    if lrl <= 2:
        if d.blew_up or (d.losses and d.losses[-1] > d.losses[0]):
            where = "the first non-finite line and the units"
            if d.backprop is not None:
                where += " (sections 1 and 3) and the backprop check (section 6)"
            else:
                where += " (sections 1 and 3)"
            return [f"lr · λmax = {_fmt(lrl)} is below the stability limit 2, so the step size "
                    f"is not what breaks it: look at {where}."]
        return [f"lr · λmax = {_fmt(lrl)} is below the stability limit 2."]
    finite = not d.blew_up and not d.diverged
    lines = [("Yet at the initial weights the steps are too large for " if finite
              else "The steps are too large for ") +
             f"the curvature of the loss: lr · λmax = {_fmt(d.learning_rate)} × "
             f"{_fmt(d.lambda_max)} = {_fmt(lrl)}, and gradient descent is only stable below 2; "
             "each step multiplies the error along the steepest direction by about "
             f"|1 - lr·λmax| = {_fmt(abs(1 - lrl))}"
             + (" (until the curvature falls, as saturating units flatten the loss)." if finite
                else ".")]
    causes = []
    if abs(d.averaging_factor - 1) > 1e-6:
        causes.append(f"the update is {_fmt(d.averaging_factor)} times the gradient of the "
                      "mean loss (a sum over the samples where a mean belongs), which "
                      "multiplies λmax by that much")
    std = d.lambda_max_standardized
    if std and std > 0 and d.lambda_max_loss > 10 * std:
        causes.append(f"the raw feature scales make λmax {_fmt(d.lambda_max_loss / std)} "
                      f"times larger than on standardized {d.standardized_what}")
    if causes:
        lines.append("Where that comes from: " + "; ".join(causes) + ".")
    lines.append(f"The largest stable learning rate here is 2/λmax = {_fmt(d.max_stable_lr)}.")
    return lines


def _cure_lines(d: Diagnosis) -> list[str]:
    if not d.trials:
        return []
    cured = [t.label for t in d.trials if t.cured]
    slow = [t.label for t in d.trials if t.slow]
    lines = [("Cured by: " + "; ".join(cured) + ".") if cured else
             "None of the candidate fixes cured it on its own (see the table in section 7)."]
    if slow:
        lines.append("Stable but slow (the loss fell by less than half): " + "; ".join(slow)
                     + ".")
    return lines


def why_no_lambda(d: Diagnosis) -> str:
    """Why λmax is missing: a loss already non-finite, or Hessian-vector products that are."""
    if not np.isfinite(d.loss_at_init):
        return "the loss is not finite at the initial weights"
    return "the Hessian-vector products were not finite"


# ---------------------------------------------------------------------------------------------
# The sections


def section_nonfinite(d: Diagnosis) -> list[str]:
    """1. The first inf/NaN of each stage, with its line and what NumPy said."""
    out = ["1. Where the first inf/NaN appears"]
    if not d.events:
        return [*out, "  Nowhere: every value stayed finite.", ""]
    explained_nan = False
    for e in d.events:
        out.append(f"  - {e}")
        if e.line:
            out.append(f"      at {e.line}")
        elif e.line == "":
            out.append(wrap("no line of your code assigned it: it arose outside your functions "
                            "(in the cost your convention implies, computed from your output, "
                            "for instance)", "      "))
        if e.numpy_message:
            out.append(f"      NumPy: {e.numpy_message}")
        if e.kind == "nan" and not explained_nan:
            explained_nan = True
            out.append(wrap("NaN is what inf - inf, 0 × inf and inf / inf give: once a value "
                            "overflows to inf, the next operation that meets a 0 (a dead "
                            "ReLU's derivative) or another inf makes NaN, and NaN spreads to "
                            "everything it touches.", "      "))
    if d.anomaly is not None:
        name = getattr(getattr(d.anomaly, "node", None), "name", "?")
        out.append(f"  The same computation in the autograd engine first fails at its "
                   f"'{name}' operation (tg.detect_anomaly).")
    if d.stopped:
        out.append(wrap(d.stopped))
    return [*out, ""]


def section_scales(d: Diagnosis) -> list[str]:
    """2. The scale of every input feature and target."""
    s = d.scales
    out = ["2. Inputs and targets",
           f"  {'feature':<10}{'mean':>10}{'std':>10}{'rms':>10}{'max|x|':>10}"]
    for j, name in enumerate(s.names):
        out.append(f"  {name[:10]:<10}{_fmt(s.mean[j]):>10}{_fmt(s.std[j]):>10}"
                   f"{_fmt(s.rms[j]):>10}{_fmt(s.max_abs[j]):>10}")
    for k in range(len(s.y_mean)):
        label = "y" if len(s.y_mean) == 1 else f"y{k}"
        out.append(f"  {label:<10}{_fmt(s.y_mean[k]):>10}{_fmt(s.y_std[k]):>10}"
                   f"{_fmt(s.y_rms[k]):>10}{'':>10}")
    if s.flagged:
        out.append(wrap(
            f"Feature scales (RMS) range over a factor {_fmt(s.spread)}; not standardized: "
            f"{', '.join(s.flagged)}. The curvature of the loss grows with the square of "
            "the input scale, so one learning rate cannot suit them all; standardize "
            "(subtract the mean, divide by the std, fit on the training set)."))
    elif s.standardized:
        out.append("  Inputs and targets are standardized (mean 0, std 1).")
    return [*out, ""]


def section_units(d: Diagnosis) -> list[str]:
    """3. Dead and saturated units at the initial weights, and the loss there."""
    out = ["3. Units at the initial weights"]
    for u in d.units:
        text = f"layer {u.layer} ({u.activation}, {u.units} unit{'s' * (u.units != 1)}): "
        parts = []
        if u.constant and u.activation == "relu":
            parts.append(f"{u.constant} of {u.units} dead (output 0 on every sample)")
        elif u.constant:
            parts.append(f"{u.constant} of {u.units} give the same output on every sample "
                         "(saturated)")
        if u.saturated_fraction > 0:
            parts.append(f"{100 * u.saturated_fraction:.1f}% of outputs exactly at a limit "
                         "of the activation")
        if u.note:
            parts.append(u.note)
        last = u.layer == len(d.units) - 1
        out.append(wrap(text + ("; ".join(parts) if parts else
                                ("the output" if last else "no dead or saturated units"))))
    if not np.isfinite(d.loss_at_init):
        out.append(wrap(f"The loss is already {_fmt(d.loss_at_init)} at the initial weights, "
                        "before any update."))
    else:
        out.append(f"  Loss at the initial weights: {_fmt(d.loss_at_init, 5)}.")
    return [*out, ""]


def section_step(d: Diagnosis) -> list[str]:
    """4. The step size against the curvature: λmax, lr · λmax, the stability limit."""
    out = ["4. Step size against curvature", wrap(
        f"λmax of the Hessian of the printed loss at the initial weights: "
        f"{_fmt(d.lambda_max_loss, 4)} ({d.hessian_method}).")]
    factor = abs(d.update_scale - 1) > 1e-6
    if factor:
        out.append(wrap(
            f"The update applies {_fmt(d.update_scale, 5)} times that loss's gradient (one "
            f"step of your code against the exact gradient), so the steps descend a loss whose "
            f"λmax is {_fmt(d.lambda_max, 4)}."))
    if d.loss_is_sum:
        out.append(wrap("The loss value is a SUM over the samples (it doubles when the data "
                        "are repeated), so its curvature grows with n."))
    lrl = d.lr_times_lambda_max
    if not np.isfinite(lrl):
        return [*out, f"  lr · λmax cannot be computed: {why_no_lambda(d)}.", ""]
    stable = "UNSTABLE" if lrl > 2 else "stable" if lrl >= 0 else "negative: the steps climb"
    out.append(f"  lr · λmax = {_fmt(d.learning_rate)} × {_fmt(d.lambda_max, 4)} = "
               f"{_fmt(lrl, 4)}   (stability limit 2: {stable})")
    if d.lambda_max > 0:
        out.append(f"  largest stable learning rate 2/λmax = {_fmt(d.max_stable_lr, 4)}")
    if d.lambda_max_standardized is not None:
        std_lrl = d.learning_rate * d.update_scale * d.lambda_max_standardized
        steps = ", and lr · λmax"
        if factor:
            scale = _fmt(d.update_scale, 5)
            steps = f"; with the update's factor {scale}, lr · {scale} · λmax"
        out.append(wrap(
            f"On standardized {d.standardized_what} (same weights) the printed loss has "
            f"λmax = {_fmt(d.lambda_max_standardized, 4)}{steps} would be {_fmt(std_lrl, 4)}."))
    late = d.late_check
    if late:
        out.append(wrap(
            f"Later, at epoch {int(late['epoch'])}, lr · λmax = {_fmt(late['lr_lambda'], 4)}: "
            f"gradient descent predicts the error to grow by |1 - lr·λmax| = "
            f"{_fmt(late['predicted'], 4)} per epoch; measured (the square root of the "
            f"loss ratio): {_fmt(late['observed'], 4)}."))
    return [*out, ""]


def section_growth(d: Diagnosis) -> list[str]:
    """5. max |A|, max |W|, the gradient norm and the update ratio per layer, some epochs."""
    h = d.history
    if not d.losses:
        return []
    out = ["5. Growth per layer (selected epochs)",
           f"  {'epoch':>5}  {'layer':<22}{'max|A|':>10}{'max|W|':>10}{'|grad|':>10}"
           f"{'|dW|/|W|':>10}{'const':>7}{'loss':>11}"]
    for e in chosen_epochs(len(d.losses), d.first_nonfinite):
        for i, label in enumerate(d.layer_labels):
            loss = _fmt(d.losses[e]) if i == 0 else ""
            const = "" if "constant" not in h or np.isnan(h["constant"][e, i]) else str(
                int(h["constant"][e, i]))
            # "-": a run that does not see the activations (a convention's own step).
            A = _fmt(h["max_abs_A"][e, i]) if "max_abs_A" in h else "-"
            out.append(
                f"  {(str(e) if i == 0 else ''):>5}  {label[:22]:<22}"
                f"{A:>10}{_fmt(h['max_abs_W'][e, i]):>10}"
                f"{_fmt(h['grad_norm'][e, i]):>10}{_fmt(h['update_ratio'][e, i]):>10}"
                f"{const:>7}{loss:>11}")
    out += [wrap(text) for text in growth_lines(d) + story_lines(d)]
    return [*out, ""]


def chosen_epochs(E: int, first: NonFinite | None) -> list[int]:
    """The epochs the growth table shows: the first few, round numbers, the last, and the
    two around the first inf/NaN.

    >>> chosen_epochs(4, None)
    [0, 1, 2, 3]
    """
    picks = {0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, E - 1}
    if first is not None:
        picks |= {first.epoch - 1, first.epoch}
    return sorted(e for e in picks if 0 <= e < E)


def growth_lines(d: Diagnosis) -> list[str]:
    """Per-layer growth factors of max |A| over the last finite stretch of epochs."""
    if "max_abs_A" not in d.history:
        return []
    A = d.history["max_abs_A"]
    finite = np.all(np.isfinite(A), axis=1) & (A.max(axis=1) > 0)
    idx = np.flatnonzero(finite)
    if idx.size < 3:
        return []
    last = int(idx[-1])
    start = max(int(idx[0]), last - 10)
    lines = []
    for i, label in enumerate(d.layer_labels):
        a0, a1 = A[start, i], A[last, i]
        if a0 > 0 and a1 > 0 and last > start:
            per = (a1 / a0) ** (1.0 / (last - start))
            since = f" (x{_fmt(A[last, i] / A[0, i])} since epoch 0)" if A[0, i] > 0 else ""
            if abs(per - 1) < 0.01:
                lines.append(f"{label}: max|A| steady over epochs {start}-{last}{since}.")
            else:
                lines.append(f"{label}: max|A| x{_fmt(per, 4)} per epoch over epochs "
                             f"{start}-{last}{since}.")
    return lines


def story_lines(d: Diagnosis) -> list[str]:
    """Plain-words milestones: the first large jump, hidden units dying."""
    h = d.history
    lines = []
    W = h["max_abs_W"]
    if (W.shape[0] > 1 and np.all(np.isfinite(W[:2])) and np.max(W[0]) > 0
            and np.max(W[1]) > 1e3 * np.max(W[0])):
        lines.append(f"The very first update multiplied the largest weight by "
                     f"{_fmt(np.max(W[1]) / np.max(W[0]))}: the first step already overshoots.")
    if "constant" not in h:
        return lines + _frozen_layers(d)
    const, units = h["constant"], h["units"]
    hidden = [i for i in range(len(d.layer_labels) - 1) if not np.isnan(const[0, i])]
    if hidden:
        all_dead = np.all(const[:, hidden] >= units[:, hidden], axis=1)
        if np.any(all_dead):
            e = int(np.argmax(all_dead))
            lines.append(
                f"From epoch {e} every hidden unit gives the same output on every sample "
                "(ReLUs dead): the network predicts one constant, and only the output "
                "layer's bias still learns.")
    return lines


def _frozen_layers(d: Diagnosis) -> list[str]:
    """Layers whose step is exactly zero from some epoch on (where the units are not seen)."""
    g = d.history["grad_norm"]
    lines = []
    for i, label in enumerate(d.layer_labels):
        moving = np.flatnonzero(~(g[:, i] == 0))
        start = 0 if moving.size == 0 else int(moving[-1]) + 1
        if g.shape[0] >= 3 and start < g.shape[0] - 1:
            lines.append(f"From epoch {start} the step leaves {label} exactly as they are: their "
                         "gradient is zero (units that are dead or saturated on every sample "
                         "pass no gradient back).")
    return lines


def section_backprop(d: Diagnosis) -> list[str]:
    """6. The backprop checker's summary, and its notes."""
    if d.backprop is None:
        return []
    # The skeleton's check holds each stage against autograd; the conventions' check holds
    # every part against the gradient of the user's own forward pass and cost.
    against = "autograd" if getattr(d.backprop, "method", None) is None else "the reference"
    out = [f"6. Backprop against {against} (check_backprop at the initial weights)"]
    out += [wrap(line) for line in d.backprop.summary().splitlines()]
    if not d.backprop.ok:  # an agreeing summary carries its notes itself
        out += [wrap("Note: " + note, "  ", "    ") for note in d.backprop.notes]
    return [*out, ""]


def section_cures(d: Diagnosis) -> list[str]:
    """7. Each candidate fix rerun from the same weights: lr · λmax, first inf/NaN, loss."""
    if not d.trials:
        if d.blew_up:
            return []
        if d.gradient_wrong:
            return [wrap("7. Candidate fixes: none tried; the run is stable, but its gradient "
                         "is wrong: mend the backprop (section 6) first.", "", "   "), ""]
        if d.diverged or (d.losses and d.losses[-1] > d.losses[0]):
            return []
        return ["7. Candidate fixes: not needed, the run is stable.", ""]
    out = [f"7. Candidate fixes (each rerun from the same initial weights, {d.epochs} epochs)",
           f"  {'fix':<34}{'lr·λmax':>9}  {'first inf/NaN':<14}{'loss start -> end':>24}"
           "  cured?"]
    for t in d.trials:
        bad = "-" if t.first_nonfinite_epoch is None else f"epoch {t.first_nonfinite_epoch}"
        losses = f"{_fmt(t.initial_loss)} -> {_fmt(t.final_loss)}"
        lrl = t.lr_times_lambda_max
        lrl_text = _fmt(lrl) if lrl is not None and np.isfinite(lrl) else "-"
        cured = "YES" if t.cured else "slow" if t.slow else "no"
        out.append(f"  {t.label[:34]:<34}{lrl_text:>9}  {bad:<14}{losses:>24}  {cured}")
    out.append("  What each fix changed:")
    out += [wrap(f"- {t.label}: {t.change}", "    ") for t in d.trials]
    return [*out, ""]
