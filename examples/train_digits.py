"""Train an MLP on the 8x8 handwritten digits bundled with scikit-learn; print test accuracy.

    python examples/train_digits.py [--epochs 30] [--seed 0] [--quiet]

The pixels are standardized with statistics of the training split only, a 64-64-10 MLP is
trained with Adam on the cross-entropy, and the held-out fifth of the data is scored.
Takes a second or two. Needs scikit-learn (for the dataset only).
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim
from tinygrad_mlp.data import Standardize, load_digits, train_test_split
from tinygrad_mlp.train import fit


def main(argv: list[str] | None = None) -> float:
    """Run the example; returns the test accuracy (a fraction)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    args = parser.parse_args(argv)

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.X, digits.y, test_size=0.2, seed=args.seed, stratify=True
    )
    scaler = Standardize().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    tg.manual_seed(args.seed)
    model = nn.MLP([64, 64, 10])
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    fit(model, nn.CrossEntropyLoss(), optimizer, (X_train, y_train), epochs=args.epochs,
        val_data=(X_test, y_test), seed=args.seed, progress=not args.quiet)

    with tg.no_grad():
        predicted = model(X_test.astype(np.float32)).argmax(axis=1).numpy()
    accuracy = float((predicted == y_test).mean())
    print(model)
    print(f"test accuracy: {accuracy:.2%} on {len(y_test)} held-out digits")
    return accuracy


if __name__ == "__main__":
    main()
