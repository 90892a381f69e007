"""The command line: ``python -m tinygrad_mlp [command]``.

    python -m tinygrad_mlp                  the NaN story on real data (the default)
    python -m tinygrad_mlp train            train an MLP (default: two moons) and report
    python -m tinygrad_mlp compare          hold a hand-derived network against autograd
    python -m tinygrad_mlp diagnose         explain why a network blows up to NaN
    python -m tinygrad_mlp draw             draw an MLP's computation graph

Every command runs on a built-in default; ``--help`` on each lists its options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import data


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _train(args: argparse.Namespace) -> int:
    import tinygrad_mlp as tg
    from tinygrad_mlp import nn, optim

    dataset = data.load_dataset(args.dataset, scaled=False)
    X, y = dataset
    X_train, X_test, y_train, y_test = data.train_test_split(
        X, y, test_size=args.test_size, seed=args.seed,
        stratify=dataset.task == "classification",
    )
    if not args.raw:
        scaler = data.Standardize().fit(X_train)  # fit on the training split only
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        if dataset.task == "regression":
            target_scaler = data.Standardize().fit(y_train)
            y_train, y_test = target_scaler.transform(y_train), target_scaler.transform(y_test)
    classify = dataset.task == "classification"
    n_out = dataset.n_classes if classify else y.shape[1]
    tg.manual_seed(args.seed)
    model = nn.MLP([dataset.n_features, *args.hidden, n_out], activation=args.activation)
    loss_fn = nn.CrossEntropyLoss() if classify else nn.MSELoss()
    if args.optimizer == "adam":
        optimizer = optim.Adam(model.parameters(), lr=args.lr)
    else:
        optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    print(f"{dataset.name}: {len(X_train)} training and {len(X_test)} test samples, "
          f"{dataset.n_features} features{'' if args.raw else ' (standardized)'}")
    print(model)
    try:
        history = tg.fit(
            model, loss_fn, optimizer, (X_train, y_train), epochs=args.epochs,
            val_data=(X_test, y_test), batch_size=args.batch_size, seed=args.seed,
            progress=not args.quiet,
        )
    except FloatingPointError as error:  # fit's TrainingDiverged explains what to check
        print(f"\n{error}", file=sys.stderr)
        return 1
    if classify:
        print(f"test accuracy: {history.val_accuracy[-1]:.1%} "
              f"(train {history.accuracy[-1]:.1%}), test loss {history.val_loss[-1]:.4f}")
    else:
        print(f"test loss (MSE, standardized units): {history.val_loss[-1]:.4f}")
    if args.save:
        path = model.save(args.save)
        print(f"saved the weights to {path}")
    return 0


def _draw(args: argparse.Namespace) -> int:
    import tinygrad_mlp as tg
    from tinygrad_mlp import nn, viz

    tg.manual_seed(args.seed)
    sizes = args.sizes
    model = nn.MLP(sizes, activation=args.activation)
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.batch_size, sizes[0])).astype(np.float32)
    y = rng.standard_normal((args.batch_size, sizes[-1])).astype(np.float32)
    loss = nn.MSELoss()(model(x), y)
    loss.backward()
    graph = viz.draw_graph(loss, params=model, rankdir=args.rankdir)
    out = Path(args.out)
    try:
        written = viz.save_graph(graph, out)
    except viz.DotNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"drew the graph of one training step of {sizes} to {written}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from . import compare

    report = compare.demo(network=args.network)
    print(report)
    return 0 if report.ok or args.network == "posted" else 1


def _diagnose(args: argparse.Namespace) -> int:
    from . import diagnose

    report = diagnose.demo(network=args.network, epochs=args.epochs,
                           learning_rate=args.lr)
    print(report)
    return 0


def _story(args: argparse.Namespace) -> int:
    from . import story

    story.run(Path(args.out) if args.out else None)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m tinygrad_mlp",
        description="Autograd on NumPy, and a hand-derived network beside it to find where "
        "backprop goes wrong. With no command, tells the NaN story on real data.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")

    story = commands.add_parser("story", help="the NaN story on real data (the default)")
    story.add_argument("--out", default="out",
                       help="folder for the report and pictures (default: out; '' for none)")
    story.set_defaults(run=_story)

    train = commands.add_parser("train", help="train an MLP on a built-in dataset")
    train.add_argument("--dataset", default="moons", choices=data.DATASETS)
    train.add_argument("--hidden", type=_sizes, default=[32, 32],
                       help="hidden layer sizes, comma-separated (default: 32,32)")
    train.add_argument("--activation", default="relu")
    train.add_argument("--epochs", type=int, default=100)
    train.add_argument("--lr", type=float, default=0.01)
    train.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--test-size", type=float, default=0.25)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--raw", action="store_true",
                       help="do not standardize features (watch what happens)")
    train.add_argument("--save", metavar="PATH", help="save the trained weights (.npz)")
    train.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    train.set_defaults(run=_train)

    compare = commands.add_parser(
        "compare", help="check a hand-derived network's backprop against autograd"
    )
    compare.add_argument("--network", choices=("posted", "fixed"), default="posted",
                         help="the network as posted in the question, or corrected")
    compare.set_defaults(run=_compare)

    diagnose = commands.add_parser("diagnose", help="explain a blow-up to inf/NaN")
    diagnose.add_argument("--network", choices=("posted", "fixed"), default="posted")
    diagnose.add_argument("--epochs", type=int, default=None)
    diagnose.add_argument("--lr", type=float, default=None, help="learning rate")
    diagnose.set_defaults(run=_diagnose)

    draw = commands.add_parser("draw", help="draw the graph of an MLP training step")
    draw.add_argument("--sizes", type=_sizes, default=[2, 8, 8, 1],
                      help="layer sizes, comma-separated (default: 2,8,8,1)")
    draw.add_argument("--activation", default="relu")
    draw.add_argument("--batch-size", type=int, default=16)
    draw.add_argument("--rankdir", choices=("LR", "TB"), default="LR")
    draw.add_argument("--seed", type=int, default=0)
    draw.add_argument("--out", default="out/mlp_graph.svg",
                      help="file to write; the suffix picks the format (svg, png, pdf)")
    draw.set_defaults(run=_draw)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    >>> main(["train", "--epochs", "1", "--quiet"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["story", *(argv or [])])
    try:
        return args.run(args)
    except ImportError as error:  # an optional extra (scikit-learn) this command needs
        print(f"{parser.prog} {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
