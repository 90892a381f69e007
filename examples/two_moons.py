"""Train an MLP on two moons with ``fit``, then picture its decision boundary.

    python examples/two_moons.py                        # out/two_moons/decision_boundary.png
    python examples/two_moons.py --epochs 200 --hidden 8 8 --noise 0.3 --out pics

Two interleaving half circles cannot be split by a straight line, so a network without a
hidden layer cannot classify them; a 2-16-16-2 ReLU MLP trained with Adam on the
cross-entropy gets nearly all of them. The script prints the train and test accuracy,
evaluates the trained network on a grid covering the plane, and draws the probability of
class 1 with the 0.5 contour (the decision boundary) and the test points on top.

The picture needs matplotlib; without it the grid of probabilities is written as CSV
(``decision_boundary.csv``: x0, x1, p(class 1)) and the script says how to get the PNG.
The moons are already of order one, so no standardization is needed here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import data, nn, optim


def probability_grid(model: nn.Module, X: np.ndarray, steps: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's p(class 1) on a ``steps`` x ``steps`` grid around the points ``X``."""
    (x0_lo, x1_lo), (x0_hi, x1_hi) = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    xx, yy = np.meshgrid(np.linspace(x0_lo, x0_hi, steps), np.linspace(x1_lo, x1_hi, steps))
    points = np.column_stack([xx.ravel(), yy.ravel()])
    with tg.no_grad():
        p = model(points).softmax(axis=-1).numpy()[:, 1]
    return xx, yy, p.reshape(xx.shape)


def save_picture(path: Path, grid: tuple[np.ndarray, np.ndarray, np.ndarray],
                 X: np.ndarray, y: np.ndarray, accuracy: float) -> Path | None:
    """Draw the probabilities and the boundary to ``path``; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # write files; no window needed
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    xx, yy, p = grid
    fig, ax = plt.subplots(figsize=(6, 4.5))
    shading = ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.7)
    ax.contour(xx, yy, p, levels=[0.5], colors="black", linewidths=1.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="black", s=22)
    fig.colorbar(shading, ax=ax, label="p(class 1)")
    ax.set(title=f"two moons: decision boundary (test accuracy {accuracy:.1%})",
           xlabel="x0", ylabel="x1")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--samples", type=int, default=400, help="number of points")
    parser.add_argument("--noise", type=float, default=0.15)
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 16], help="hidden sizes")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate")
    parser.add_argument("--grid", type=int, default=150, help="grid points per axis")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/two_moons", help="folder for the picture")
    args = parser.parse_args(argv)

    X, y = data.make_moons(n_samples=args.samples, noise=args.noise, seed=args.seed)
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=0.25,
                                                             seed=args.seed, stratify=True)
    tg.manual_seed(args.seed)
    model = nn.MLP([2, *args.hidden, 2], activation="relu")
    history = tg.fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=args.lr),
                     (X_train, y_train), epochs=args.epochs, val_data=(X_test, y_test),
                     batch_size=32, seed=args.seed, progress=False)
    print(model)
    print(f"after {history.epochs} epochs: train loss {history.loss[-1]:.4f}, "
          f"train accuracy {history.accuracy[-1]:.4f}")
    print(f"test accuracy: {history.val_accuracy[-1]:.4f} on {len(y_test)} held-out points")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grid = probability_grid(model, X, args.grid)
    picture = save_picture(out / "decision_boundary.png", grid, X_test, y_test,
                           history.val_accuracy[-1])
    if picture is not None:
        print(f"decision boundary: {picture}")
    else:
        xx, yy, p = grid
        table = out / "decision_boundary.csv"
        np.savetxt(table, np.column_stack([xx.ravel(), yy.ravel(), p.ravel()]), delimiter=",",
                   header="x0,x1,p_class1", comments="", fmt="%.6g")
        print(f"matplotlib is missing, so there is no picture: the grid of probabilities is in "
              f"{table}.\nInstall matplotlib (pip install matplotlib) for the PNG.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
