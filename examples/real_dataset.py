"""Train an MLP on a real dataset bundled with scikit-learn, save it, load it back.

    python examples/real_dataset.py                     # breast cancer, 30 features, 2 classes
    python examples/real_dataset.py --dataset digits    # 8x8 digits, 64 pixels, 10 classes
    python examples/real_dataset.py --epochs 10 --quiet --out DIR

The raw features of the breast cancer data lie on very different scales (areas in the
thousands, some ratios below 0.03), so the script standardizes them with the mean and
standard deviation of the training split only (the test split must not leak into them),
then trains a one-hidden-layer MLP with Adam on the cross-entropy and reports the
accuracy on the held-out fifth.

It then saves the model (``model.npz``: weights and architecture, no pickle) with the
standardization statistics beside it (``standardize.npz``), rebuilds both from the files,
and shows that the restored model makes exactly the same predictions on the raw test data.

Needs scikit-learn for the data (``pip install scikit-learn``); takes a second or two.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import data, nn, optim


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="breast_cancer", choices=["breast_cancer", "digits"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=64, help="units in the hidden layer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    parser.add_argument("--out", default="out/real_dataset", help="folder for the saved model")
    return parser.parse_args(argv)


def predict(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Class predictions (argmax of the logits), without recording a graph."""
    with tg.no_grad():
        return model(X).argmax(axis=1).numpy()


def run(args: argparse.Namespace) -> float:
    """Train, evaluate, save and reload; return the test accuracy (a fraction)."""
    dataset = data.load_dataset(args.dataset)  # raw features; ImportError without scikit-learn
    X_train, X_test, y_train, y_test = data.train_test_split(
        dataset.X, dataset.y, test_size=0.2, seed=args.seed, stratify=True)
    scales = np.abs(X_train).max(axis=0)
    print(f"{dataset.name}: {len(y_train)} training and {len(y_test)} test samples, "
          f"{dataset.n_features} features, {dataset.n_classes} classes; largest |x| per "
          f"feature from {scales[scales > 0].min():.3g} to {scales.max():.3g}")

    scaler = data.Standardize().fit(X_train)  # statistics of the training split only
    Z_train, Z_test = scaler.transform(X_train), scaler.transform(X_test)

    tg.manual_seed(args.seed)
    model = nn.MLP([dataset.n_features, args.hidden, dataset.n_classes])
    tg.fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
           (Z_train, y_train), epochs=args.epochs, val_data=(Z_test, y_test), seed=args.seed,
           progress=not args.quiet)
    print(model)
    predicted = predict(model, Z_test)
    accuracy = float(np.mean(predicted == y_test))
    print(f"test accuracy: {accuracy:.4f} ({int(np.sum(predicted == y_test))} of {len(y_test)} "
          f"held-out samples right)")

    # Save the model and the statistics the inputs need, then rebuild both from the files.
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model_file = model.save(out / "model.npz")
    np.savez(out / "standardize.npz", mean=scaler.mean_, std=scaler.std_)
    restored = nn.Module.load(model_file)
    stats = np.load(out / "standardize.npz")
    again = predict(restored, (X_test - stats["mean"]) / stats["std"])
    same = bool(np.array_equal(again, predicted))
    print(f"saved {model_file} and {out / 'standardize.npz'}; the model loaded back from "
          f"them gives {'the same' if same else 'DIFFERENT'} predictions on all {len(y_test)} "
          "test samples")
    if not same:
        raise SystemExit("the restored model does not reproduce the predictions")
    return accuracy


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except ImportError as error:  # the message says what to install
        print(f"{Path(__file__).name} needs scikit-learn for its data: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
