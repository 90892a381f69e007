"""The argument parser: one function per command adds its arguments and the function it runs.

``build_parser(prog)`` is what ``main`` parses with (and what ``--help`` prints).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import data
from .arguments import (
    Parser,
    dataset_name,
    fraction,
    non_negative_float,
    picture_path,
    positive_float,
    positive_int,
    samples,
    seed,
    sizes,
    train_dataset_name,
)
from .checking import run_check, run_compare, run_diagnose
from .demos import run_demo, run_story
from .graph import run_graph
from .training import LOSSES, OPTIMIZERS, run_predict, run_train

__all__ = ["build_parser"]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "softplus")
CONVENTIONS_HELP = (
    "The network is found by the conventions' names and signatures: a course-skeleton "
    "network (forward_pass, backward_pass, update_weights), a Nielsen network.py/network2.py "
    "Network (weights, biases, backprop) as an instance or a class (built with small sizes), "
    "Andrew Ng's functions (forward_propagation or L_model_forward, backward_propagation or "
    "L_model_backward, compute_cost, update_parameters) with a parameters dict or an "
    "initialize_parameters function, or loss_fn, params and grads (any other form). The file "
    "is imported as it is (its if __name__ == '__main__': block does not run)."
)


def _add_demo(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="train an MLP, run the hand-derived network beside it, draw (the default)",
        description="Train an nn.MLP on a built-in dataset, then train the hand-derived "
        "network (tinygrad_mlp.manual) from the same initial weights beside its autograd "
        "twin and show how closely they agree; write the graph of one training step, the "
        "loss curves and the side-by-side run to the output folder.",
    )
    demo.add_argument("--dataset", type=dataset_name, default="moons",
                      help=f"one of {', '.join(data.DATASETS)} (default: moons)")
    demo.add_argument("--epochs", type=positive_int, default=60, help="(default: 60)")
    demo.add_argument("--steps", type=positive_int, default=200,
                      help="gradient-descent steps side by side (default: 200)")
    demo.add_argument("--seed", type=seed, default=0, help="(default: 0)")
    demo.add_argument("--out", default="tinygrad_mlp_out", metavar="DIR",
                      help="folder for the files (default: tinygrad_mlp_out)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=run_demo)


def _add_train_data(train: argparse.ArgumentParser) -> None:
    train.add_argument("dataset", nargs="?", type=train_dataset_name, metavar="DATASET",
                       help=f"a built-in dataset: {', '.join(data.DATASETS)} (default: moons; "
                       "the last five need scikit-learn)")
    train.add_argument("--dataset", dest="dataset_option", type=train_dataset_name,
                       metavar="NAME", help="the same, as an option")
    train.add_argument("--csv", metavar="PATH", help="train on a CSV file with a header row "
                       "instead (every column but the target is a numeric feature)")
    train.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    train.add_argument("--task", choices=("classification", "regression"),
                       help="what the CSV target is (default: class labels when it holds at "
                       "most 20 distinct integers, else a regression target)")
    train.add_argument("--test-size", type=fraction, default=0.25, metavar="FRACTION",
                       help="the share held out for validation (default: 0.25)")
    train.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                       help="standardize the features (and regression targets) with the "
                       "training split's mean and std (default: on; --no-standardize to see "
                       "what raw features do)")
    train.add_argument("--raw", dest="standardize", action="store_false", help=argparse.SUPPRESS)


def _add_train_model(train: argparse.ArgumentParser) -> None:
    train.add_argument("--hidden", type=sizes, default=[32, 32], metavar="SIZES",
                       help="hidden layer sizes, comma-separated (default: 32,32; sizes "
                       "whose training could not fit in memory are refused)")
    train.add_argument("--activation", choices=ACTIVATIONS, default="relu",
                       help="between the layers (default: relu)")
    train.add_argument("--loss", choices=LOSSES, help="cross_entropy (classes; the default "
                       "for class labels), bce (two classes, one logit) or mse (the default "
                       "for numeric targets)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                       help="(default: adam)")
    train.add_argument("--lr", type=positive_float, metavar="LR",
                       help="learning rate (default: 0.01 for adam/adamw, 0.1 for sgd)")
    train.add_argument("--momentum", type=non_negative_float, default=0.0,
                       help="momentum for sgd (default: 0)")
    train.add_argument("--clip-grad-norm", type=positive_float, metavar="MAX",
                       help="cap the gradient norm of every update (default: no cap)")
    train.add_argument("--epochs", type=positive_int, default=100, help="(default: 100)")
    train.add_argument("--batch-size", type=positive_int, default=32, help="(default: 32)")
    train.add_argument("--seed", type=seed, default=0,
                       help="for the split, the initial weights and the shuffling (default: 0)")


def _add_train(commands: Any) -> None:
    train = commands.add_parser(
        "train", help="train an MLP on a built-in dataset or a CSV file",
        description="Train an nn.MLP with fit: progress bar, loss and accuracy per epoch, the "
        "final numbers on the training and validation splits. Exits with status 1 and says "
        "what to check when the loss turns NaN/inf. The output locations (--save, --out) "
        "are checked before training starts.",
        epilog="--save model.npz writes two files: model.npz (weights and architecture, for "
        "nn.Module.load) and model.meta.npz beside it (feature names, task, loss, class names "
        "and the standardization's mean and std), which predict reads to treat new data as "
        "the training data was treated. Both load with np.load(..., allow_pickle=False).",
    )
    _add_train_data(train)
    _add_train_model(train)
    train.add_argument("--save", metavar="PATH",
                       help="save the model to PATH (.npz) and its preprocessing beside it; "
                       "PATH is a file name, not a folder; missing folders on the way are "
                       "created, and the command says so")
    train.add_argument("--out", metavar="DIR",
                       help="write the loss (and accuracy) curves into this folder: CSV, and "
                       "PNG with matplotlib")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=run_train)


def _add_predict(commands: Any) -> None:
    predict = commands.add_parser(
        "predict", help="apply a model saved by train --save to a CSV file",
        description="Predict with a model saved by train --save. The CSV needs a header row "
        "naming the features the model was trained on (other columns are ignored). The "
        "model's side file (model.meta.npz, written by train --save) supplies the "
        "standardization, the task and the class names; without it the features are used as "
        "they are.",
    )
    predict.add_argument("--model", required=True, metavar="PATH",
                         help="the .npz written by train --save (not its .meta.npz)")
    predict.add_argument("--csv", required=True, metavar="PATH", help="the data to predict")
    predict.add_argument("--target", metavar="COLUMN",
                         help="a column with the true values: also report accuracy and loss")
    predict.add_argument("--output", metavar="PATH",
                         help="write the predictions as CSV here (default: print them); "
                         "missing folders on the way are created, and the command says so")
    predict.set_defaults(run=run_predict)


def _add_graph(commands: Any) -> None:
    graph = commands.add_parser(
        "graph", aliases=["draw"], help="draw the graph of one training step",
        description="Draw the computation graph of one forward/backward step of an MLP "
        "(--sizes) or of a saved model (--model), on random data.",
    )
    source = graph.add_mutually_exclusive_group()
    source.add_argument("--sizes", type=sizes, default=[2, 8, 8, 1],
                        help="layer sizes, comma-separated (default: 2,8,8,1)")
    source.add_argument("--model", metavar="PATH", help="a model saved by train --save")
    graph.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    graph.add_argument("--batch-size", type=positive_int, default=16, help="(default: 16)")
    graph.add_argument("--rankdir", choices=("LR", "TB"), default="LR",
                       help="left to right or top to bottom (default: LR)")
    graph.add_argument("--seed", type=seed, default=0)
    graph.add_argument("--out", type=picture_path, default=Path("tinygrad_mlp_out/graph.svg"),
                       metavar="FILE", help="the file to write; its suffix picks the format: "
                       ".svg, .png, .pdf (these need Graphviz's dot), .dot, or .html (a page "
                       "that steps through the forward and backward pass) "
                       "(default: tinygrad_mlp_out/graph.svg)")
    graph.set_defaults(run=run_graph)


def _add_user_file(parser: argparse.ArgumentParser, default: str) -> None:
    """The options that pick a network in a user's file and the data to run it on."""
    parser.add_argument("--name", metavar="NAME", help="the network to use when the file "
                        "holds several (as the error lists them: Network, parameters, ...; a "
                        "network the file builds itself is taken before its class)")
    parser.add_argument("--csv", metavar="PATH", help="real data instead of a random batch: "
                        "a CSV file with a header row (needs --target)")
    parser.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    parser.add_argument("--samples", type=samples, metavar="N",
                        help=f"examples to run on: the random batch's size (default: {default})"
                        ", or the first N rows of --csv (default: all)")
    parser.add_argument("--seed", type=seed, default=0, help="of the random batch (default: 0)")


def _add_check(commands: Any) -> None:
    check = commands.add_parser(
        "check", help="check the backprop of the network in your own .py file",
        description="Check the hand-written backprop of the network in FILE against the exact "
        "gradient of its own forward pass and cost, part by part, on a small seeded random "
        f"batch of the right shapes (or --csv). {CONVENTIONS_HELP} Exit status 0 when every "
        "gradient is right, 1 when one is wrong (the report names it, with the line of your "
        "file that computed it) or your code raised, 2 when nothing usable was found (the "
        "error says what it looked for and what the file holds instead).",
    )
    check.add_argument("file", metavar="FILE", help="the Python file that holds your network")
    _add_user_file(check, "16")
    check.add_argument("--out", metavar="DIR", help="also write the report into this folder")
    check.set_defaults(run=run_check)


def _add_compare(commands: Any) -> None:
    compare = commands.add_parser(
        "compare", help="check a hand-derived network's backprop against autograd",
        description="Hold the network from the question (or the fixed one) against autograd, "
        "stage by stage, on the diabetes data (needs scikit-learn). --network FILE checks the "
        "network in your own .py file instead, as check FILE does.",
    )
    compare.add_argument("--network", default="posted", metavar="NETWORK",
                         help="posted (the network as posted in the question; the default), "
                         "fixed (corrected), or the .py file of your own network")
    compare.add_argument("--out", metavar="DIR", help="also train it beside its autograd twin "
                         "and write the report and both loss curves with their difference "
                         "(CSV, and PNG with matplotlib); for your own file, the report")
    compare.add_argument("--steps", type=positive_int, default=100,
                         help="steps side by side for --out (default: 100)")
    _add_user_file(compare, "16")
    compare.set_defaults(run=run_compare)


def _add_diagnose(commands: Any) -> None:
    diagnose = commands.add_parser(
        "diagnose", help="explain a blow-up to inf/NaN",
        description="Watch the network from the question (or the fixed one) train on the "
        "diabetes data (needs scikit-learn), or the network in your own FILE train by its own "
        "training step on a copy, and explain what blows up, and why. "
        f"{CONVENTIONS_HELP} For FILE, exit status 1 when the run blows up or a gradient is "
        "wrong, 2 when nothing usable was found.",
    )
    diagnose.add_argument("file", nargs="?", metavar="FILE",
                          help="the Python file that holds your network")
    diagnose.add_argument("--network", choices=("posted", "fixed"), default=None,
                          help="the question's network as posted (the default) or fixed")
    diagnose.add_argument("--epochs", type=positive_int, default=None,
                          help="(default: 300)")
    diagnose.add_argument("--lr", type=positive_float, default=None, help="learning rate")
    diagnose.add_argument("--out", metavar="DIR", help="write the report, the loss and each "
                          "layer's growth (CSV, and PNG with matplotlib)")
    _add_user_file(diagnose, "32")
    diagnose.set_defaults(run=run_diagnose)


def _add_story(commands: Any) -> None:
    story = commands.add_parser(
        "story", help="the NaN story on real data",
        description="Why the network from the question turns into NaN on the diabetes data, "
        "and how to fix it (needs scikit-learn).",
    )
    story.add_argument("--out", default="out", metavar="DIR",
                       help="folder for the report and pictures (default: out; '' for none)")
    story.set_defaults(run=run_story)


def build_parser(prog: str = "tinygrad-mlp") -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and ``--help``).

    >>> build_parser().parse_args(["train", "iris", "--hidden", "64,32"]).hidden
    [64, 32]
    """
    parser = Parser(
        prog=prog,
        description="Autograd on NumPy, and a hand-derived network beside it to find where "
        "backprop goes wrong. With no command, runs the demo.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")
    for add in (_add_demo, _add_train, _add_predict, _add_graph, _add_check, _add_compare,
                _add_diagnose, _add_story):
        add(commands)
    return parser
