"""Why the posted network turns into NaN on real data, and how to fix it.

The question that started this project: a hand-written network (forward_pass,
backward_pass, update_weights, train) whose activations explode to NaN on real data, even
with ReLU. This script replays it on scikit-learn's diabetes data with raw features, lets
``diagnose`` explain the blow-up, then trains the fixed network and the autograd ``nn.MLP``
side by side from the same weights.

Run it::

    python -m tinygrad_mlp story            # pictures go to ./out
    python -m tinygrad_mlp story --out DIR

The curves are written as CSV, and as PNG pictures when matplotlib is installed; the graph
picture needs Graphviz's ``dot`` (without it the DOT text is written). The story is printed
all the same.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from . import manual, nn, viz
from .compare import check_backprop
from .convert import to_mlp, train_side_by_side
from .data import Standardize, load_diabetes, train_test_split
from .diagnose import diagnose, posted_setup
from .engine.tensor import Tensor
from .plots import MATPLOTLIB_MISSING, have_matplotlib, write_curves
from .text import wrap

EPOCHS_POSTED = 300  # long enough to see inf (epoch ~150) and then NaN (epoch ~300)
EPOCHS_FIXED = 400
LR_FIXED = 0.1  # below 2/λmax of the standardized problem, which diagnose puts near 0.4


def _say(text: str = "", quiet: bool = False) -> None:
    """Print a paragraph wrapped to 92 columns, keeping its indentation."""
    if not quiet:
        indent = text[: len(text) - len(text.lstrip())]
        print(wrap(text, "", indent + "  ", width=92) if text else "")


def _train_posted(epochs: int) -> list[float]:
    """The posted network exactly as posted, on raw features: its loss per epoch."""
    net, X, y = posted_setup()
    with np.errstate(all="ignore"):
        _, losses = net.train(X, y, epochs)
    return losses


def _plots(out: Path, posted: list[float], fixed: list[float], mlp: list[float],
           history: dict[str, np.ndarray], labels: list[str]) -> list[Path]:
    """Loss curves (posted vs fixed) and per-layer growth: CSV, and PNG with matplotlib."""
    posted_name, fixed_name, mlp_name = (
        "posted (raw features)", "fixed NeuralNetwork", "nn.MLP + SGD (same weights)"
    )
    written = write_curves(
        out / "loss_curves", {posted_name: posted, fixed_name: fixed, mlp_name: mlp},
        title="Posted vs fixed network on raw diabetes data",
        ylabel="training MSE (units of y²)", x_start=0, log=True,
        styles={posted_name: "C3-", fixed_name: "C0-", mlp_name: "C2--"},
    )
    growth = {label: history["max_abs_A"][:, i] for i, label in enumerate(labels)}
    written += write_curves(
        out / "layer_growth", growth, title="Posted network: how each layer grows",
        ylabel="max |A| (pre-activation)", x_start=0, log=True,
    )
    return written


def _graph(out: Path, anomaly: Any) -> list[Path]:
    """The engine's graph around the first non-finite operation, that node marked."""
    if anomaly is None:
        return []
    dot = viz.draw_anomaly(anomaly, title="the first operation to overflow (posted network)")
    written = [out / "first_nonfinite_graph.dot"]
    written[0].write_text(dot.source)
    try:
        written.append(viz.save_graph(dot, out / "first_nonfinite_graph.svg"))
    except viz.DotNotFoundError:  # the DOT text above is still there
        print("   (no SVG of the graph: Graphviz's `dot` program is missing; "
              "apt-get install graphviz, or brew install graphviz)")
    return written


def _posted(quiet: bool) -> tuple[list[float], int | None, int | None]:
    """Part 1: the posted network as posted; its losses and the epochs of the first inf and
    NaN."""
    _say("1. The posted network on raw diabetes features", quiet)
    _say("   10 raw features (age in years, BMI, blood pressure, serum levels in their own "
         "units), ReLU layers of 16 and 8 units, learning rate 0.01, and an update that sums "
         "the per-example gradients.", quiet)
    _say("   The question does not show its loss class: ours (diagnose.PostedMSE) is a "
         "reconstruction, the mean squared error with derivative 2(ŷ - y) and no 1/n, as the "
         "posted docstring's \"sum over the training examples of the gradient\" implies. The "
         f"NaN below depends on it: with the 1/n this run stays finite for {EPOCHS_POSTED} "
         "epochs.", quiet)
    posted = _train_posted(EPOCHS_POSTED)
    for e in (0, 1, 2, 10, 100):
        _say(f"   epoch {e:>3}: loss {posted[e]:.3g}", quiet)
    first_inf = next((e for e, v in enumerate(posted) if not np.isfinite(v)), None)
    first_nan = next((e for e, v in enumerate(posted) if np.isnan(v)), None)
    _say(f"   epoch {first_inf:>3}: loss {posted[first_inf]}   <- overflow", quiet)
    if first_nan is not None:
        _say(f"   epoch {first_nan:>3}: loss {posted[first_nan]}   <- what the student saw",
             quiet)
    return posted, first_inf, first_nan


def _diagnosis(out: Path | None, quiet: bool) -> Any:
    """Part 2: what diagnose and check_backprop say; returns the diagnosis report."""
    _say("", quiet)
    _say("2. What went wrong (tinygrad_mlp.diagnose)", quiet)
    net, X, y = posted_setup()
    names = load_diabetes().feature_names
    report = diagnose(net, X, y, epochs=EPOCHS_POSTED, feature_names=names)
    if not quiet:
        print(textwrap.indent(report.verdict(width=88), "   "))
    first = report.first_nonfinite
    if first is not None and first.line:
        _say(f"   The first inf was made at {first.line}", quiet)
    for line in report.story_lines():
        _say("   " + line, quiet)
    _say("   check_backprop holds the code against autograd and finds two defects, the first "
         "in the reconstructed loss, the second in the posted update_weights:", quiet)
    for finding in check_backprop(net, X, y).findings:
        # The first clause of each explanation names the defect; the report has the rest.
        _say(f"   - [{finding.location}] {finding.message.split(': ')[0]}.", quiet)
    if out is not None:
        (out / "diagnosis.txt").write_text(str(report))
        _say(f"   (full report: {out / 'diagnosis.txt'})", quiet)
    return report


def _fixed(quiet: bool) -> dict[str, Any]:
    """Part 3: the fixed network and the autograd MLP from the posted weights, side by side;
    returns the run, the RMSEs and var(y) (the MSE's unit back to the original one)."""
    _say("", quiet)
    _say("3. The fixed network and the autograd MLP, side by side", quiet)
    net, X, y = posted_setup()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    x_scaler, y_scaler = Standardize().fit(X_train), Standardize().fit(y_train)
    Xs, ys = x_scaler.transform(X_train), y_scaler.transform(y_train)
    # Same initial weights as the posted run; ones in the bias column; MSE whose derivative
    # carries the 1/n, so the step is the gradient of the mean.
    fixed = manual.NeuralNetwork(10, [16, 8, 1], [manual.ReLU(), manual.ReLU(),
                                                  manual.Identity()], manual.MSE(),
                                 learning_rate=LR_FIXED, W_init=net.W)
    run = train_side_by_side(fixed, Xs, ys, EPOCHS_FIXED)
    var_y = float(y_scaler.std_[0] ** 2)  # MSE in standardized units times var(y): original units
    for e in (0, 10, 100, EPOCHS_FIXED - 1):
        _say(f"   epoch {e:>3}: manual {run.manual_losses[e] * var_y:10.2f}   nn.MLP "
             f"{run.mlp_losses[e] * var_y:10.2f}   weights apart {run.max_weight_diff[e]:.1e}",
             quiet)
    predict = run.net.predict(x_scaler.transform(X_test))
    test_rmse = float(np.sqrt(np.mean((y_scaler.inverse_transform(predict) - y_test) ** 2)))
    train_rmse = float(np.sqrt(run.manual_losses[-1] * var_y))
    _say(f"   After {EPOCHS_FIXED} steps the two agree to {max(run.max_weight_diff):.1e} "
         f"(relative); RMSE train {train_rmse:.1f}, test {test_rmse:.1f} "
         f"(y ranges 25-346, std {np.sqrt(var_y):.0f}).", quiet)
    return {"side_by_side": run, "train_rmse": train_rmse, "test_rmse": test_rmse,
            "var_y": var_y}


def _pictures(out: Path, posted: list[float], fixed: dict[str, Any], report: Any,
              first_inf: int | None, quiet: bool) -> list[Path]:
    """Part 4: the curves, the graph of the first non-finite operation and the stepper of the
    first non-finite step."""
    run, var_y = fixed["side_by_side"], fixed["var_y"]
    posted_curve = [float(v) for v in posted]
    fixed_curve = [v * var_y for v in run.manual_losses]
    mlp_curve = [v * var_y for v in run.mlp_losses]
    written = _plots(out, posted_curve, fixed_curve, mlp_curve, report.history,
                     report.layer_labels)
    if not have_matplotlib():
        _say("   (" + MATPLOTLIB_MISSING + ")", quiet)
    written += _graph(out, report.anomaly)
    written += _stepper(out, first_inf)
    if written:
        _say("", quiet)
        _say("4. Pictures: " + ", ".join(str(p) for p in written), quiet)
    return written


def _stepper(out: Path, first_inf: int | None) -> list[Path]:
    """The stepper of the posted network's first step whose loss is not finite: its weights
    after ``first_inf`` epochs, in the engine (the same forward pass, and the loss
    Σ (ŷ - y)² whose gradient is the per-example sum that the posted update takes)."""
    if first_inf is None:
        return []
    net, X, y = posted_setup()
    with np.errstate(all="ignore"):
        net.W, _ = net.train(X, y, first_inf)
        model = to_mlp(net)
        loss = nn.MSELoss(reduction="sum")(model(Tensor(X)), Tensor(y))
        page = viz.stepper(loss, params=model, title=f"the posted network's step {first_inf}, "
                           "the first whose loss is not finite")
    return [page.save(out / "first_nonfinite_stepper.html")]


def run(out_dir: str | Path | None = "out", quiet: bool = False) -> dict[str, Any]:
    """Tell the story; return the numbers (for tests) and write pictures to ``out_dir``.

    >>> result = run(None, quiet=True)  # doctest: +SKIP
    >>> result["first_nan_epoch"] is not None  # doctest: +SKIP
    True
    """
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    posted, first_inf, first_nan = _posted(quiet)
    report = _diagnosis(out, quiet)
    fixed = _fixed(quiet)
    written = [] if out is None else _pictures(out, posted, fixed, report, first_inf, quiet)
    return {
        "posted_losses": posted,
        "first_inf_epoch": first_inf,
        "first_nan_epoch": first_nan,
        "report": report,
        "side_by_side": fixed["side_by_side"],
        "train_rmse": fixed["train_rmse"],
        "test_rmse": fixed["test_rmse"],
        "written": written,
    }
