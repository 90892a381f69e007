"""The command line: ``tinygrad-mlp [command]``, or ``python -m tinygrad_mlp [command]``.

    tinygrad-mlp                 the demo (the default): train an MLP, run the hand-derived
                                 network beside it, write pictures to ./tinygrad_mlp_out
    tinygrad-mlp train           train an MLP on a built-in dataset or a CSV file
    tinygrad-mlp predict         apply a model saved by ``train --save`` to a CSV file
    tinygrad-mlp graph           draw the computation graph of one training step (alias: draw)
    tinygrad-mlp compare         hold a hand-derived network's backprop against autograd
    tinygrad-mlp diagnose        explain why a network blows up to NaN
    tinygrad-mlp story           the NaN story on real data

Every command has ``--help``. Bad arguments (an unknown dataset, a malformed number or list,
a missing or malformed file) give one line on stderr and exit status 2; a training run that
diverges to NaN/inf exits with status 1 and says what to check.

A model saved by ``train --save model.npz`` is two files: ``model.npz`` (the weights and the
architecture, loadable with ``nn.Module.load``) and ``model.meta.npz`` beside it, holding
what ``predict`` needs to treat new data exactly as the training data was treated: the
feature names, the task and loss, the class names, and the mean and standard deviation of
the standardization (features, and targets for regression). Both are plain ``.npz`` files
that load with ``np.load(path, allow_pickle=False)``.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .. import data, modelfile
from ..modelfile import load_side as load_meta
from ..modelfile import meta_path
from ..modelfile import save_side as save_meta
from ..train import LOSSES as _LOSSES
from ..train import OPTIMIZERS as _OPTIMIZERS

__all__ = ["UsageError", "build_parser", "load_meta", "main", "meta_path", "save_meta"]

_ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "softplus")
_PICTURE_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".gv")
_INSTALL_DOT = "apt-get install graphviz, or brew install graphviz"


class UsageError(Exception):
    """A bad argument found after parsing (a file, a combination): one line, exit status 2.

    >>> str(UsageError("--csv needs --target"))
    '--csv needs --target'
    """


def _one_line(error: BaseException | str) -> str:
    """The message of ``error`` on one line (some messages carry advice on further lines)."""
    return " ".join(str(error).split()) or type(error).__name__


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


# -- argument types: each raises ArgumentTypeError, which argparse reports on one line ---------


def _number(convert: Callable[[str], Any], fits: Callable[[Any], bool],
            wanted: str) -> Callable[[str], Any]:
    """An argparse ``type=`` that converts a number and checks its range, naming ``wanted``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not fits(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_positive_float = _number(float, lambda v: math.isfinite(v) and v > 0,
                          "a positive finite number")
_non_negative_float = _number(float, lambda v: math.isfinite(v) and v >= 0,
                              "a finite number >= 0")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction strictly between 0 and 1, "
                                         f"got {text!r}")
    return value


def _sizes(text: str) -> list[int]:
    """Comma-separated positive layer sizes, e.g. ``64,32`` (empty: no hidden layer)."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 64,32, got {text!r}"
        ) from None
    if any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _dataset_name(text: str) -> str:
    key = text.strip().lower().replace("-", "_")
    if key not in data.DATASETS:
        raise argparse.ArgumentTypeError(
            f"unknown dataset {text!r}; built-in datasets: {', '.join(data.DATASETS)}"
        )
    return key


def _train_dataset_name(text: str) -> str:
    try:
        return _dataset_name(text)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error} (or --csv PATH --target COLUMN)") from None


def _picture_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in _PICTURE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"the output's suffix picks the format: use one of {', '.join(_PICTURE_SUFFIXES)}, "
            f"got {text!r}"
        )
    return path


# -- loading, with errors turned into one line ---------------------------------------------------


def _load_dataset(name: str) -> data.Dataset:
    try:
        return data.load_dataset(name, scaled=False)
    except ValueError as error:
        raise UsageError(_one_line(error)) from None


def _load_csv(path: str, target: str, task: str | None) -> data.Dataset:
    """``train.load_training_csv`` (text labels are classes), errors as ``UsageError``."""
    from ..train import load_training_csv

    try:
        return load_training_csv(path, target=target, task=task)
    except FileNotFoundError:
        raise UsageError(f"no CSV file at '{path}'") from None
    except IsADirectoryError:
        raise UsageError(f"'{path}' is a directory, not a CSV file") from None
    except (OSError, ValueError) as error:
        message = _one_line(error).replace("task='classification'", "--task classification")
        raise UsageError(message) from None


def _load_model(path: str, finite: bool = True) -> tuple[Any, dict[str, Any] | None]:
    try:
        return modelfile.load(path, finite=finite)
    except (OSError, ValueError, TypeError, RuntimeError, KeyError) as error:
        raise UsageError(_one_line(error)) from None


def _read_predict_csv(
    path: str, wanted: list[str] | None, n_in: int, target: str | None
) -> tuple[np.ndarray, data.TargetColumn | None]:
    """The features a model takes and the target column (``data.read_model_inputs``)."""
    try:
        table = data.read_model_inputs(path, wanted, n_in, target)
    except (ValueError, OSError) as error:
        raise UsageError(_one_line(error)) from None
    return table.X, table.target


# -- train ---------------------------------------------------------------------------------------


def _resolve_data(args: argparse.Namespace) -> tuple[data.Dataset, str]:
    """The dataset the train command names, and a short description of where it came from."""
    named = [n for n in (args.dataset, args.dataset_option) if n is not None]
    if len(set(named)) > 1:
        raise UsageError(f"two datasets given ({' and '.join(named)}); name one")
    if args.csv is not None:
        if named:
            raise UsageError("give either a built-in dataset or --csv PATH, not both")
        if args.target is None:
            raise UsageError("--csv needs --target COLUMN (the column to predict)")
        return _load_csv(args.csv, args.target, args.task), args.csv
    if args.target is not None or args.task is not None:
        raise UsageError("--target and --task apply to --csv only")
    name = named[0] if named else "moons"
    return _load_dataset(name), name


def _write_history(out: Path, history: Any, loss: str, what: str) -> list[Path]:
    from ..plots import MATPLOTLIB_MISSING, have_matplotlib, write_curves

    written = write_curves(out / "loss_curves",
                           {"train": history.loss, "validation": history.val_loss},
                           title=f"{what}: loss per epoch", ylabel=loss)
    if history.accuracy:
        written += write_curves(out / "accuracy_curves",
                                {"train": history.accuracy, "validation": history.val_accuracy},
                                title=f"{what}: accuracy per epoch", ylabel="accuracy")
    if not have_matplotlib():
        print(MATPLOTLIB_MISSING)
    return written


def _train(args: argparse.Namespace) -> int:
    from ..train import TrainingDiverged, plan_training

    ds, source = _resolve_data(args)
    try:
        plan = plan_training(ds, hidden=args.hidden, activation=args.activation, loss=args.loss,
                             optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                             test_size=args.test_size, seed=args.seed,
                             standardize=args.standardize)
    except ValueError as error:
        raise UsageError(_one_line(error).replace(f"{ds.name}: ", f"{source}: ", 1)) from None
    print(plan.describe())
    print(plan.model)
    out = Path(args.out) if args.out else None
    what = f"nn.MLP on {ds.name}"
    loss_name = plan.loss_name
    try:
        history = plan.fit(epochs=args.epochs, batch_size=args.batch_size,
                           progress=not args.quiet, clip_grad_norm=args.clip_grad_norm)
    except TrainingDiverged as error:
        print(f"\n{error}", file=sys.stderr)
        if out is not None and error.history.epochs:
            for path in _write_history(out, error.history, loss_name, what):
                print(f"wrote {path} (the epochs before the blow-up)", file=sys.stderr)
        return 1
    units = " (standardized targets)" if plan.target_scaler is not None else ""
    for split, prefix in (("train", ""), ("validation", "val_")):
        line = f"{split}: loss {getattr(history, prefix + 'loss')[-1]:.4f}{units}"
        accuracy = getattr(history, prefix + "accuracy")
        if accuracy:
            line += f", accuracy {accuracy[-1]:.1%}"
        print(line)
    written: list[Path] = []
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        written += plan.save(args.save)
    if out is not None:
        written += _write_history(out, history, loss_name, what)
    for path in written:
        print(f"wrote {path}")
    return 0


# -- predict -------------------------------------------------------------------------------------


def _predict(args: argparse.Namespace) -> int:
    from .. import nn
    from ..engine.autograd import no_grad

    model, meta = _load_model(args.model)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise UsageError(f"'{args.model}' holds no Linear layer to predict with")
    n_in, n_out = linears[0].in_features, linears[-1].out_features
    if meta is None:
        print(f"note: no {meta_path(args.model)} beside the model (train --save writes it), "
              "so the features are used as they are, without standardization", file=sys.stderr)
        meta = {}
    task = meta.get("task", "classification" if n_out > 1 else "regression")
    loss = meta.get("loss", "cross_entropy" if task == "classification" else "mse")
    class_names = meta.get("class_names") or [str(k) for k in range(max(n_out, 2))]
    X, truth = _read_predict_csv(args.csv, meta.get("feature_names"), n_in, args.target)
    if "x_mean" in meta:
        X = (X - meta["x_mean"]) / meta["x_std"]
    param = next(iter(model.parameters()))
    with no_grad():
        out = model(X.astype(param.dtype)).numpy().astype(np.float64)

    header: list[str]
    if task == "regression":
        if "y_mean" in meta:
            out = out * meta["y_std"] + meta["y_mean"]
        if out.shape[1] == 1:
            header = [f"predicted_{meta.get('target') or 'value'}"]
        else:
            header = [f"predicted_{k}" for k in range(out.shape[1])]
        rows = [[repr(float(v)) for v in row] for row in out]
    else:
        if loss == "bce":
            p1 = 1.0 / (1.0 + np.exp(-np.clip(out[:, 0], -500, 500)))
            probs = np.column_stack([1.0 - p1, p1])
        else:
            shifted = np.exp(out - out.max(axis=1, keepdims=True))
            probs = shifted / shifted.sum(axis=1, keepdims=True)
        predicted = probs.argmax(axis=1)
        header = ["predicted", *(f"p_{name}" for name in class_names[: probs.shape[1]])]
        rows = [[class_names[k], *(f"{p:.6g}" for p in row)]
                for k, row in zip(predicted, probs)]

    summary = f"{len(rows)} predictions from {args.model}"
    if truth is not None:
        try:
            expected = truth.classes(class_names) if task == "classification" \
                else truth.numbers()
        except ValueError as error:
            raise UsageError(_one_line(error)) from None
        if task == "classification":
            truth = expected
            chosen = probs[np.arange(len(truth)), truth]
            cross_entropy = float(-np.mean(np.log(np.clip(chosen, 1e-12, 1.0))))
            summary += (f"; accuracy {np.mean(predicted == truth):.1%}, "
                        f"cross-entropy {cross_entropy:.4f} on {args.target!r}")
        else:
            mse = float(np.mean((out - expected.reshape(len(out), -1)) ** 2))
            summary += f"; MSE {mse:.6g}, RMSE {math.sqrt(mse):.6g} on {args.target!r}"
    if args.output:
        output = Path(args.output)
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            with open(output, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                writer.writerows(rows)
        except OSError as error:
            raise UsageError(f"cannot write '{output}': {_one_line(error)}") from None
        print(summary)
        print(f"wrote {output}")
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        print(summary, file=sys.stderr)  # stdout stays a clean CSV
    return 0


# -- graph ---------------------------------------------------------------------------------------


def _graph(args: argparse.Namespace) -> int:
    from .. import nn, viz
    from ..engine.tensor import manual_seed

    manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    if args.model is not None:
        model, meta = _load_model(args.model, finite=False)  # NaN stands out in a picture
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise UsageError(f"'{args.model}' holds no Linear layer to draw")
        n_in, n_out = linears[0].in_features, linears[-1].out_features
        loss_name = (meta or {}).get("loss", "mse")
        what = args.model
    else:
        if len(args.sizes) < 2:
            raise UsageError("--sizes needs at least two sizes (inputs and outputs), e.g. 2,8,1")
        model = nn.MLP(args.sizes, activation=args.activation)
        n_in, n_out, loss_name, what = args.sizes[0], args.sizes[-1], "mse", f"{args.sizes}"
    dtype = next(iter(model.parameters())).dtype
    x = rng.standard_normal((args.batch_size, n_in)).astype(dtype)
    if loss_name == "cross_entropy":
        loss_fn, y = nn.CrossEntropyLoss(), rng.integers(0, n_out, args.batch_size)
    elif loss_name == "bce":
        loss_fn, y = nn.BCEWithLogitsLoss(), rng.integers(0, 2, (args.batch_size, 1))
        y = y.astype(dtype)
    else:
        loss_fn, y = nn.MSELoss(), rng.standard_normal((args.batch_size, n_out)).astype(dtype)
    loss = loss_fn(model(x), y)
    loss.backward()
    graph = viz.draw_graph(loss, params=model, rankdir=args.rankdir)
    try:
        written = viz.save_graph(graph, args.out)
    except viz.DotNotFoundError:  # save_graph wrote the DOT text beside the picture's name
        dot_path = args.out.with_suffix(".dot")
        print(f"Graphviz's dot program is not installed, so {args.out} could not be drawn; "
              f"the DOT text is in {dot_path} ({_INSTALL_DOT})", file=sys.stderr)
        return 1
    except OSError as error:
        raise UsageError(f"cannot write '{args.out}': {_one_line(error)}") from None
    print(f"drew one training step of {what} (forward, {loss_name} loss, backward) to {written}")
    return 0


# -- compare, diagnose, story, demo --------------------------------------------------------------


def _compare(args: argparse.Namespace) -> int:
    from .. import compare
    from ..convert import train_side_by_side
    from ..diagnose import fixed_setup, posted_setup
    from ..plots import MATPLOTLIB_MISSING, have_matplotlib, write_side_by_side

    report = compare.demo(network=args.network)
    print(report)
    if args.out:
        out = Path(args.out)
        net, X, y = posted_setup() if args.network == "posted" else fixed_setup()
        with np.errstate(all="ignore"):  # the posted network overflows on purpose
            run = train_side_by_side(net, X, y, args.steps)
        out.mkdir(parents=True, exist_ok=True)
        report_path = out / "backprop_report.txt"
        report_path.write_text(str(report) + "\n", encoding="utf-8")
        written = [report_path, *write_side_by_side(
            out / "side_by_side", run.manual_losses, run.mlp_losses, run.max_weight_diff,
            title=f"The {args.network} network's own backprop vs autograd, same weights",
        )]
        print(f"\n{args.steps} steps side by side: largest weight difference (relative) "
              f"{max(run.max_weight_diff):.3g}")
        if not have_matplotlib():
            print(MATPLOTLIB_MISSING)
        for path in written:
            print(f"wrote {path}")
    return 0 if report.ok or args.network == "posted" else 1


def _diagnose(args: argparse.Namespace) -> int:
    from .. import diagnose
    from ..plots import MATPLOTLIB_MISSING, have_matplotlib, write_curves

    report = diagnose.demo(network=args.network, epochs=args.epochs, learning_rate=args.lr)
    print(report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        report_path = out / "diagnosis.txt"
        report_path.write_text(str(report) + "\n", encoding="utf-8")
        written = [report_path]
        written += write_curves(out / "loss", {"training loss": report.losses},
                                title=f"The {args.network} network: loss per epoch",
                                ylabel="loss", x_start=0, log=True)
        growth = {label: report.history["max_abs_A"][:, i]
                  for i, label in enumerate(report.layer_labels)}
        written += write_curves(out / "layer_growth", growth,
                                title=f"The {args.network} network: how each layer grows",
                                ylabel="max |A| (pre-activation)", x_start=0, log=True)
        if not have_matplotlib():
            print(MATPLOTLIB_MISSING)
        for path in written:
            print(f"wrote {path}")
    return 0


def _story(args: argparse.Namespace) -> int:
    from .. import story

    story.run(Path(args.out) if args.out else None)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .. import demo

    demo.run(dataset=args.dataset, epochs=args.epochs, seed=args.seed, out_dir=args.out or None,
             steps=args.steps, progress=not args.quiet)
    return 0


# -- the parser ----------------------------------------------------------------------------------


def _add_train(commands: Any) -> None:
    train = commands.add_parser(
        "train", help="train an MLP on a built-in dataset or a CSV file",
        description="Train an nn.MLP with fit: progress bar, loss and accuracy per epoch, the "
        "final numbers on the training and validation splits. Exits with status 1 and says "
        "what to check when the loss turns NaN/inf.",
        epilog="--save model.npz writes two files: model.npz (weights and architecture, for "
        "nn.Module.load) and model.meta.npz beside it (feature names, task, loss, class names "
        "and the standardization's mean and std), which predict reads to treat new data as "
        "the training data was treated. Both load with np.load(..., allow_pickle=False).",
    )
    train.add_argument("dataset", nargs="?", type=_train_dataset_name, metavar="DATASET",
                       help=f"a built-in dataset: {', '.join(data.DATASETS)} (default: moons; "
                       "the last five need scikit-learn)")
    train.add_argument("--dataset", dest="dataset_option", type=_train_dataset_name, metavar="NAME",
                       help="the same, as an option")
    train.add_argument("--csv", metavar="PATH", help="train on a CSV file with a header row "
                       "instead (every column but the target is a numeric feature)")
    train.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    train.add_argument("--task", choices=("classification", "regression"),
                       help="what the CSV target is (default: class labels when it holds at "
                       "most 20 distinct integers, else a regression target)")
    train.add_argument("--hidden", type=_sizes, default=[32, 32], metavar="SIZES",
                       help="hidden layer sizes, comma-separated (default: 32,32)")
    train.add_argument("--activation", choices=_ACTIVATIONS, default="relu",
                       help="between the layers (default: relu)")
    train.add_argument("--loss", choices=_LOSSES, help="cross_entropy (classes; the default "
                       "for class labels), bce (two classes, one logit) or mse (the default "
                       "for numeric targets)")
    train.add_argument("--optimizer", choices=_OPTIMIZERS, default="adam",
                       help="(default: adam)")
    train.add_argument("--lr", type=_positive_float, metavar="LR",
                       help="learning rate (default: 0.01 for adam/adamw, 0.1 for sgd)")
    train.add_argument("--momentum", type=_non_negative_float, default=0.0,
                       help="momentum for sgd (default: 0)")
    train.add_argument("--clip-grad-norm", type=_positive_float, metavar="MAX",
                       help="cap the gradient norm of every update (default: no cap)")
    train.add_argument("--epochs", type=_positive_int, default=100, help="(default: 100)")
    train.add_argument("--batch-size", type=_positive_int, default=32, help="(default: 32)")
    train.add_argument("--test-size", type=_fraction, default=0.25, metavar="FRACTION",
                       help="the share held out for validation (default: 0.25)")
    train.add_argument("--seed", type=int, default=0,
                       help="for the split, the initial weights and the shuffling (default: 0)")
    train.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                       help="standardize the features (and regression targets) with the "
                       "training split's mean and std (default: on; --no-standardize to see "
                       "what raw features do)")
    train.add_argument("--raw", dest="standardize", action="store_false", help=argparse.SUPPRESS)
    train.add_argument("--save", metavar="PATH",
                       help="save the model to PATH (.npz) and its preprocessing beside it")
    train.add_argument("--out", metavar="DIR",
                       help="write the loss (and accuracy) curves here: CSV, and PNG with "
                       "matplotlib")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)


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
                         help="the .npz written by train --save")
    predict.add_argument("--csv", required=True, metavar="PATH", help="the data to predict")
    predict.add_argument("--target", metavar="COLUMN",
                         help="a column with the true values: also report accuracy and loss")
    predict.add_argument("--output", metavar="PATH",
                         help="write the predictions as CSV here (default: print them)")
    predict.set_defaults(run=_predict)


def build_parser(prog: str = "tinygrad-mlp") -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and ``--help``).

    >>> build_parser().parse_args(["train", "iris", "--hidden", "64,32"]).hidden
    [64, 32]
    """
    parser = _Parser(
        prog=prog,
        description="Autograd on NumPy, and a hand-derived network beside it to find where "
        "backprop goes wrong. With no command, runs the demo.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")

    demo = commands.add_parser(
        "demo", help="train an MLP, run the hand-derived network beside it, draw (the default)",
        description="Train an nn.MLP on a built-in dataset, then train the hand-derived "
        "network (tinygrad_mlp.manual) from the same initial weights beside its autograd "
        "twin and show how closely they agree; write the graph of one training step, the "
        "loss curves and the side-by-side run to the output folder.",
    )
    demo.add_argument("--dataset", type=_dataset_name, default="moons",
                      help=f"one of {', '.join(data.DATASETS)} (default: moons)")
    demo.add_argument("--epochs", type=_positive_int, default=60, help="(default: 60)")
    demo.add_argument("--steps", type=_positive_int, default=200,
                      help="gradient-descent steps side by side (default: 200)")
    demo.add_argument("--seed", type=int, default=0, help="(default: 0)")
    demo.add_argument("--out", default="tinygrad_mlp_out", metavar="DIR",
                      help="folder for the files (default: tinygrad_mlp_out)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)

    _add_train(commands)
    _add_predict(commands)

    graph = commands.add_parser(
        "graph", aliases=["draw"], help="draw the graph of one training step",
        description="Draw the computation graph of one forward/backward step of an MLP "
        "(--sizes) or of a saved model (--model), on random data.",
    )
    source = graph.add_mutually_exclusive_group()
    source.add_argument("--sizes", type=_sizes, default=[2, 8, 8, 1],
                        help="layer sizes, comma-separated (default: 2,8,8,1)")
    source.add_argument("--model", metavar="PATH", help="a model saved by train --save")
    graph.add_argument("--activation", choices=_ACTIVATIONS, default="relu")
    graph.add_argument("--batch-size", type=_positive_int, default=16, help="(default: 16)")
    graph.add_argument("--rankdir", choices=("LR", "TB"), default="LR",
                       help="left to right or top to bottom (default: LR)")
    graph.add_argument("--seed", type=int, default=0)
    graph.add_argument("--out", type=_picture_path, default=Path("tinygrad_mlp_out/graph.svg"),
                       metavar="FILE", help="the file to write; its suffix picks the format: "
                       ".svg, .png, .pdf (these need Graphviz's dot) or .dot "
                       "(default: tinygrad_mlp_out/graph.svg)")
    graph.set_defaults(run=_graph)

    compare = commands.add_parser(
        "compare", help="check a hand-derived network's backprop against autograd",
        description="Hold the network from the question (or the fixed one) against autograd, "
        "stage by stage, on the diabetes data (needs scikit-learn).",
    )
    compare.add_argument("--network", choices=("posted", "fixed"), default="posted",
                         help="the network as posted in the question, or corrected")
    compare.add_argument("--out", metavar="DIR", help="also train it beside its autograd twin "
                         "and write the report and both loss curves with their difference "
                         "(CSV, and PNG with matplotlib)")
    compare.add_argument("--steps", type=_positive_int, default=100,
                         help="steps side by side for --out (default: 100)")
    compare.set_defaults(run=_compare)

    diagnose = commands.add_parser(
        "diagnose", help="explain a blow-up to inf/NaN",
        description="Watch the network from the question (or the fixed one) train on the "
        "diabetes data and explain what blows up, and why (needs scikit-learn).",
    )
    diagnose.add_argument("--network", choices=("posted", "fixed"), default="posted")
    diagnose.add_argument("--epochs", type=_positive_int, default=None,
                          help="(default: 300)")
    diagnose.add_argument("--lr", type=_positive_float, default=None, help="learning rate")
    diagnose.add_argument("--out", metavar="DIR", help="write the report, the loss and each "
                          "layer's growth (CSV, and PNG with matplotlib)")
    diagnose.set_defaults(run=_diagnose)

    story = commands.add_parser(
        "story", help="the NaN story on real data",
        description="Why the network from the question turns into NaN on the diabetes data, "
        "and how to fix it (needs scikit-learn).",
    )
    story.add_argument("--out", default="out", metavar="DIR",
                       help="folder for the report and pictures (default: out; '' for none)")
    story.set_defaults(run=_story)
    return parser


def _prog() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "tinygrad-mlp" if name.startswith("tinygrad-mlp") else "python -m tinygrad_mlp"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, 1 for a failed run, 2 for bad input).

    With no command (or only options) the demo runs. Never raises ``SystemExit``: ``--help``
    returns 0 and a bad argument 2, after argparse has printed what it prints.

    >>> import os, tempfile
    >>> main(["graph", "--sizes", "2,3,1", "--out", os.path.join(tempfile.mkdtemp(), "g.dot")])
    drew one training step of [2, 3, 1] (forward, mse loss, backward) to ...g.dot
    0
    >>> main(["train", "--epochs", "1", "--quiet"])  # doctest: +SKIP
    0
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "demo")
    parser = build_parser(_prog())
    try:
        args = parser.parse_args(args_list)
    except SystemExit as stop:  # --help (0) or a usage error (2, already reported)
        return stop.code if isinstance(stop.code, int) else 2
    where = f"{parser.prog} {args.command}"
    try:
        return args.run(args)
    except UsageError as error:
        print(f"{where}: error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:  # an optional extra (scikit-learn) this command needs
        print(f"{where}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. an output folder that cannot be written
        print(f"{where}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
