"""The NaN story: the posted network blows up on real data, diagnose explains, the fix trains.

    python examples/nan_story.py                 # the full report goes to out/nan_story/
    python examples/nan_story.py --epochs 200 --fixed-epochs 100 --out DIR

The question behind this project: a hand-written network (``forward_pass``,
``backward_pass``, ``update_weights``) whose activations explode to NaN on real data, even
with ReLU. Three steps:

1. The network as posted (``manual.PostedNeuralNetwork``, 10 -> 16 -> 8 -> 1, ReLU, learning
   rate 0.01) on scikit-learn's diabetes data with raw features (ages in years, blood
   pressures in mmHg...). Its loss overflows to inf, and a while later turns into NaN.
2. ``diagnose`` trains a copy while watching every stage, and says why: each step is far
   too large for the curvature of the loss (lr · λmax, far above the limit 2), because the
   gradient is summed over the 442 samples instead of averaged and because the raw
   features are on large, uneven scales. It reruns with each candidate cure.
3. The fix: standardize inputs and targets (statistics of the training split), average the
   gradient (``manual.MSE``, whose derivative carries the 1/n), and build the bias column
   with ones (``manual.NeuralNetwork``). From the same initial weights it trains, and its
   test error beats always predicting the mean.

The posted loss class is not in the question; ``diagnose.PostedMSE`` reconstructs it from
the posted docstring (the mean squared error, differentiated without the 1/n). Needs
scikit-learn for the data. ``python -m tinygrad_mlp story`` tells a longer version with plots.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import numpy as np

from tinygrad_mlp import data, manual
from tinygrad_mlp.diagnose import diagnose, posted_setup


def first_epoch(losses: list[float], test: np.ufunc) -> int | None:
    """The first epoch whose loss passes ``test`` (np.isinf, np.isnan), or None."""
    hits = np.flatnonzero(test(np.asarray(losses)))
    return int(hits[0]) if hits.size else None


def when(epoch: int | None) -> str:
    return "never" if epoch is None else f"at epoch {epoch}"


def blow_up(epochs: int) -> None:
    """Step 1: train the posted network as posted and watch the loss."""
    print("1. The posted network on the raw diabetes features")
    net, X, y = posted_setup()
    with np.errstate(all="ignore"):  # the overflow is the point here
        _, losses = net.train(X, y, epochs)
    for epoch in [e for e in (0, 1, 2, 10) if e < epochs]:
        print(f"   epoch {epoch:>3}: loss {losses[epoch]:.3g}")
    inf_at, nan_at = first_epoch(losses, np.isinf), first_epoch(losses, np.isnan)
    print(f"   the loss becomes inf {when(inf_at)} and NaN {when(nan_at)} ({epochs} epochs)")


def explain(epochs: int, out: Path) -> None:
    """Step 2: diagnose a fresh copy; print its verdict, the defects and the cures tried."""
    print("\n2. What diagnose finds (it trains a copy, from the same initial weights)")
    net, X, y = posted_setup()  # the same seed every call: the same initial weights
    report = diagnose(net, X, y, epochs=epochs, feature_names=data.load_diabetes().feature_names)
    for line in report.verdict(width=86).splitlines():
        print("   " + line)
    if report.backprop is not None:
        print("   check_backprop, stage by stage against autograd:")
        for finding in report.backprop.findings:  # the first clause names the defect
            text = f"- [{finding.location}] {finding.message.partition(':')[0]}"
            print(textwrap.fill(text, 89, initial_indent="   ", subsequent_indent="     "))
    if report.trials:
        print(f"   {'candidate cure':<34}{'first inf/NaN':>14}{'loss start':>12}"
              f"{'loss end':>12}  cured")
    for trial in report.trials:
        bad = "-" if trial.first_nonfinite_epoch is None else str(trial.first_nonfinite_epoch)
        verdict = "yes" if trial.cured else "slow" if trial.slow else "no"
        print(f"   {trial.label:<34}{bad:>14}{trial.initial_loss:>12.3g}"
              f"{trial.final_loss:>12.3g}  {verdict}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "diagnosis.txt").write_text(str(report), encoding="utf-8")
    print(f"   (the full report: {out / 'diagnosis.txt'})")


def fix(epochs: int, lr: float) -> None:
    """Step 3: the corrected network on standardized data, from the same initial weights."""
    print("\n3. The fix: standardize, average the gradient, ones in the bias column")
    posted, X, y = posted_setup()
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=0.2, seed=0)
    x_scale, y_scale = data.Standardize().fit(X_train), data.Standardize().fit(y_train)
    net = manual.NeuralNetwork(X.shape[1], posted.layer_sizes, posted.activations, manual.MSE(),
                               learning_rate=lr, W_init=posted.W)
    _, losses = net.train(x_scale.transform(X_train), y_scale.transform(y_train), epochs)
    for epoch in sorted({0, epochs // 10, epochs // 2, epochs - 1}):
        print(f"   epoch {epoch:>3}: loss {losses[epoch]:.4f} (standardized units)")
    prediction = y_scale.inverse_transform(net.predict(x_scale.transform(X_test)))
    rmse = float(np.sqrt(np.mean((prediction - y_test) ** 2)))
    baseline = float(np.sqrt(np.mean((y_train.mean() - y_test) ** 2)))
    print(f"   every loss finite: {bool(np.all(np.isfinite(losses)))}; test RMSE {rmse:.1f} "
          f"against {baseline:.1f} for always predicting the training mean")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300,
                        help="epochs of the posted network (NaN comes near 300)")
    parser.add_argument("--fixed-epochs", type=int, default=400)
    parser.add_argument("--lr", type=float, default=0.1,
                        help="learning rate of the fixed network (stable below about 0.4)")
    parser.add_argument("--out", default="out/nan_story", help="folder for diagnosis.txt")
    args = parser.parse_args(argv)
    try:
        blow_up(args.epochs)
        explain(args.epochs, Path(args.out))
        fix(args.fixed_epochs, args.lr)
    except ImportError as error:  # scikit-learn missing: the message says what to install
        print(f"{Path(__file__).name}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
