"""Backprop by hand against autograd: the same network, the same weights, side by side.

    python examples/manual_vs_autograd.py               # losses in out/manual_vs_autograd/
    python examples/manual_vs_autograd.py --epochs 500 --every 50 --lr 0.05

Part 1. ``manual.NeuralNetwork`` is the hand-derived network of the question that started
this project (``forward_pass``, ``backward_pass``, ``update_weights``; ``W[i]`` holds the
bias in row 0). ``convert.to_mlp`` copies its weights exactly into an autograd ``nn.MLP``.
Both then take full-batch gradient-descent steps on the same data (a noisy 1-D curve):
the manual one with its own deltas, the MLP with ``loss.backward()`` and ``optim.SGD``.
Each epoch prints both losses and the largest difference between their weights, which
stays at rounding level (about 1e-16): the hand derivation is right.

Part 2. ``compare.check_backprop`` holds the network *as posted* in the question
(``manual.PostedNeuralNetwork`` with the loss ``diagnose.PostedMSE``, whose derivative lacks
the 1/n of the mean) against autograd stage by stage, and names both defects: a gradient
n times too large, and a first-layer bias that never learns (its column is built with
``np.zeros``). The corrected network passes the same check.

No scikit-learn needed; runs in about a second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import convert, data, manual, nn, optim
from tinygrad_mlp.compare import check_backprop
from tinygrad_mlp.diagnose import PostedMSE


def weight_gap(net: manual.NeuralNetwork, model: nn.MLP) -> float:
    """The largest |difference| between the manual weights and the MLP's, in W's layout."""
    theirs = convert.from_mlp(model).W  # the MLP's Linear layers read back as [bias; weight.T]
    return max(float(np.max(np.abs(a - b))) for a, b in zip(net.W, theirs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--every", type=int, default=20, help="print every N-th epoch")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/manual_vs_autograd", help="folder for losses.csv")
    args = parser.parse_args(argv)

    X, y = data.make_regression_curve(n_samples=args.samples, seed=args.seed)
    acts = [manual.Tanh(), manual.Tanh(), manual.Identity()]
    net = manual.NeuralNetwork(1, [16, 16, 1], acts, manual.MSE(), learning_rate=args.lr,
                               seed=args.seed)
    initial_W = [w.copy() for w in net.W]
    model = convert.to_mlp(net)  # float64, the very same numbers
    loss_fn, optimizer = nn.MSELoss(), optim.SGD(model.parameters(), lr=args.lr)
    X_t, y_t = tg.tensor(X), tg.tensor(y)

    print("Part 1: manual.NeuralNetwork and nn.MLP from the same weights, one step each per "
          "epoch")
    print(f"{'epoch':>6}{'manual loss':>16}{'autograd loss':>16}{'max |W diff|':>15}")
    rows = []
    for epoch in range(args.epochs):
        # by hand: forward, dL/dŷ, deltas, update
        A_vals, Z_vals = net.forward_pass(X)
        manual_loss = net.loss.value(Z_vals[-1], y)
        deltas = net.backward_pass(A_vals, net.loss.derivative(Z_vals[-1], y))
        net.W = net.update_weights(X, Z_vals, deltas)
        # autograd: forward, loss, backward, optimizer step
        optimizer.zero_grad()
        loss = loss_fn(model(X_t), y_t)
        loss.backward()
        optimizer.step()

        rows.append((epoch, manual_loss, loss.item(), weight_gap(net, model)))
        if epoch % args.every == 0 or epoch == args.epochs - 1:
            print(f"{epoch:>6}{rows[-1][1]:>16.10f}{rows[-1][2]:>16.10f}{rows[-1][3]:>15.1e}")
    worst = max(row[3] for row in rows)
    print(f"after {args.epochs} epochs the largest weight difference ever seen is {worst:.1e}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(out / "losses.csv", np.array(rows), delimiter=",", comments="",
               header="epoch,manual_loss,autograd_loss,max_weight_diff", fmt="%.17g")
    print(f"per-epoch losses: {out / 'losses.csv'}")

    print("\nPart 2: check_backprop on the network as posted (same initial weights)")
    posted = manual.PostedNeuralNetwork(1, [16, 16, 1], acts, PostedMSE(),
                                        learning_rate=args.lr, W_init=initial_W)
    report = check_backprop(posted, X, y)
    print(report)
    print("\nThe defects found: " + ", ".join(sorted(report.causes)))
    fixed = manual.NeuralNetwork(1, [16, 16, 1], acts, manual.MSE(), learning_rate=args.lr,
                                 W_init=initial_W)
    print("The corrected network (textbook update, MSE with its 1/n): "
          + check_backprop(fixed, X, y).summary())
    return 0 if worst < 1e-9 and not report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
