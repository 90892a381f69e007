"""The ``train`` and ``predict`` commands, and loading what they read, errors as one line.

- ``run_train(args)``: the output locations checked first, then the data (a built-in
  dataset or ``--csv``), the sizes checked against memory, the library's training pipeline,
  and the curves and model written;
- ``run_predict(args)``: a saved model and its side file applied to a CSV file;
- ``load_csv``, ``load_model``: the library's loaders, their errors as ``UsageError`` (also
  used by ``graph --model`` and by ``check --csv``).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import data, modelfile, nn
from ..engine.autograd import no_grad
from ..engine.tensor import Tensor
from ..modelfile import meta_path
from ..plots import MATPLOTLIB_MISSING, have_matplotlib, write_curves
from ..train import (
    LOSSES,
    OPTIMIZERS,
    TrainingDiverged,
    TrainingPlan,
    load_training_csv,
    plan_training,
)
from .arguments import (
    UsageError,
    check_fits_in_memory,
    check_output_dir,
    check_output_file,
    make_parent,
    one_line,
)

__all__ = ["LOSSES", "OPTIMIZERS", "linear_sizes", "load_csv", "load_model", "run_predict",
           "run_train"]


# -- loading, with errors turned into one line ---------------------------------------------------


def load_dataset(name: str) -> data.Dataset:
    """A built-in dataset, unscaled."""
    try:
        return data.load_dataset(name, scaled=False)
    except ValueError as error:
        raise UsageError(one_line(error)) from None


def load_csv(path: str, target: str, task: str | None) -> data.Dataset:
    """A CSV file as training data (``train.load_training_csv``: text labels are classes)."""
    try:
        return load_training_csv(path, target=target, task=task)
    except FileNotFoundError:
        raise UsageError(f"no CSV file at '{path}'") from None
    except IsADirectoryError:
        raise UsageError(f"'{path}' is a directory, not a CSV file") from None
    except (OSError, ValueError) as error:
        message = one_line(error).replace("task='classification'", "--task classification")
        raise UsageError(message) from None


def load_model(path: str, finite: bool = True) -> tuple[Any, dict[str, Any] | None]:
    """A model saved by ``train --save`` and its side data (None when there is none); with
    ``finite``, a model whose weights hold NaN or inf is refused."""
    if Path(path).name.endswith(".meta.npz"):
        model = Path(path).name[: -len(".meta.npz")] + ".npz"
        raise UsageError(f"'{path}' is a model's side file (its preprocessing), not the model; "
                         f"give the model file beside it, {Path(path).with_name(model)}")
    try:
        return modelfile.load(path, finite)
    except (OSError, ValueError, TypeError, RuntimeError, KeyError) as error:
        raise UsageError(one_line(error)) from None


def linear_sizes(model: Any, path: str, what: str) -> tuple[int, int]:
    """The inputs of a model's first Linear layer and the outputs of its last."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise UsageError(f"'{path}' holds no Linear layer to {what}")
    return linears[0].in_features, linears[-1].out_features


# -- train ---------------------------------------------------------------------------------------


def resolve_data(args: argparse.Namespace) -> tuple[data.Dataset, str]:
    """The dataset the train command names, and a short description of where it came from."""
    named = [n for n in (args.dataset, args.dataset_option) if n is not None]
    if len(set(named)) > 1:
        raise UsageError(f"two datasets given ({' and '.join(named)}); name one")
    if args.csv is not None:
        if named:
            raise UsageError("give either a built-in dataset or --csv PATH, not both")
        if args.target is None:
            raise UsageError("--csv needs --target COLUMN (the column to predict)")
        return load_csv(args.csv, args.target, args.task), args.csv
    if args.target is not None or args.task is not None:
        raise UsageError("--target and --task apply to --csv only")
    name = named[0] if named else "moons"
    return load_dataset(name), name


def make_plan(args: argparse.Namespace, ds: data.Dataset, source: str) -> TrainingPlan:
    """The library's training pipeline for the command's settings."""
    try:
        return plan_training(ds, hidden=args.hidden, activation=args.activation, loss=args.loss,
                             optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                             test_size=args.test_size, seed=args.seed,
                             standardize=args.standardize)
    except ValueError as error:
        raise UsageError(one_line(error).replace(f"{ds.name}: ", f"{source}: ", 1)) from None


def write_history(out: Path, history: Any, loss: str, what: str) -> list[Path]:
    """The loss (and accuracy) curves of a run, as CSV (and PNG with matplotlib)."""
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


def divergence_advice(error: TrainingDiverged, args: argparse.Namespace, lr: float) -> str:
    """What went wrong (the library's words) and what to change, in this command's flags."""
    lines = [line for line in str(error).split("\nThings to check:")[0].splitlines()
             if line != error.kept]  # the weights fit kept are not saved by this command
    if args.save:
        lines.append(f"Nothing was saved: --save writes {args.save} only after a finished run.")
    scaling = ("  - feature scaling: the features (and regression targets) are standardized "
               "already; look for outliers in the data;" if args.standardize else
               "  - feature scaling: leave out --no-standardize, so that the features (and "
               "regression targets) are standardized;")
    clip = ("  - the gradient norm: add --clip-grad-norm 1.0 to cap the size of each update."
            if args.clip_grad_norm is None else
            f"  - the gradient norm: --clip-grad-norm {args.clip_grad_norm:g} caps finite "
            "norms only; a smaller --lr is the cure.")
    return "\n".join([*lines, "Things to check:",
                      f"  - the learning rate (--lr {lr:g}): try --lr {lr / 10:g};", scaling,
                      clip])


def _train_outputs(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    save = check_output_file(args.save, "--save") if args.save else None
    out = check_output_dir(args.out, "--out") if args.out else None
    return save, out


def _print_results(history: Any, scaled_targets: bool) -> None:
    units = " (standardized targets)" if scaled_targets else ""
    for split, prefix in (("train", ""), ("validation", "val_")):
        line = f"{split}: loss {getattr(history, prefix + 'loss')[-1]:.4f}{units}"
        accuracy = getattr(history, prefix + "accuracy")
        if accuracy:
            line += f", accuracy {accuracy[-1]:.1%}"
        print(line)


def run_train(args: argparse.Namespace) -> int:
    """``train``: see ``train --help``."""
    save, out = _train_outputs(args)
    ds, source = resolve_data(args)
    outputs = 1 if ds.task != "classification" else ds.n_classes or 2
    check_fits_in_memory([ds.n_features, *args.hidden, outputs], "--hidden",
                         min(args.batch_size, len(ds)))
    plan = make_plan(args, ds, source)
    print(plan.describe())
    print(plan.model)
    what = f"nn.MLP on {ds.name}"
    try:
        history = plan.fit(epochs=args.epochs, batch_size=args.batch_size,
                           progress=not args.quiet, clip_grad_norm=args.clip_grad_norm)
    except TrainingDiverged as error:
        lr = plan.optimizer.param_groups[0]["lr"]
        print(f"\n{divergence_advice(error, args, lr)}", file=sys.stderr)
        if out is not None and error.history.epochs:
            for path in write_history(out, error.history, plan.loss_name, what):
                print(f"wrote {path} (the epochs before the blow-up)", file=sys.stderr)
        return 1
    _print_results(history, plan.target_scaler is not None)
    written: list[Path] = []
    if save is not None:
        created = make_parent(save)
        if created:
            print(created)
        written += plan.save(save)
    if out is not None:
        written += write_history(out, history, plan.loss_name, what)
    for path in written:
        print(f"wrote {path}")
    return 0


# -- predict -------------------------------------------------------------------------------------


def _read_predict_csv(
    path: str, wanted: list[str] | None, n_in: int, target: str | None
) -> tuple[np.ndarray, data.TargetColumn | None]:
    """The features a model takes and the target column (``data.read_model_inputs``)."""
    try:
        table = data.read_model_inputs(path, wanted, n_in, target)
    except (ValueError, OSError) as error:
        raise UsageError(one_line(error)) from None
    return table.X, table.target


class Predictions:
    """A model's outputs on a CSV file, as rows to write, and their score on a target."""

    def __init__(self, args: argparse.Namespace) -> None:
        model, meta = load_model(args.model)
        n_in, n_out = linear_sizes(model, args.model, "predict with")
        if meta is None:
            print(f"note: no {meta_path(args.model)} beside the model (train --save writes "
                  "it), so the features are used as they are, without standardization",
                  file=sys.stderr)
            meta = {}
        self.meta, self.args = meta, args
        self.task = meta.get("task", "classification" if n_out > 1 else "regression")
        self.loss = meta.get("loss", "cross_entropy" if self.task == "classification" else "mse")
        self.class_names = meta.get("class_names") or [str(k) for k in range(max(n_out, 2))]
        X, self.truth = _read_predict_csv(args.csv, meta.get("feature_names"), n_in,
                                          args.target)
        if "x_mean" in meta:
            X = (X - meta["x_mean"]) / meta["x_std"]
        param = next(iter(model.parameters()))
        with no_grad():
            self.out = model(X.astype(param.dtype)).numpy().astype(np.float64)
        self.header, self.rows = (self._values() if self.task == "regression"
                                  else self._classes())

    def _values(self) -> tuple[list[str], list[list[str]]]:
        if "y_mean" in self.meta:
            self.out = self.out * self.meta["y_std"] + self.meta["y_mean"]
        if self.out.shape[1] == 1:
            header = [f"predicted_{self.meta.get('target') or 'value'}"]
        else:
            header = [f"predicted_{k}" for k in range(self.out.shape[1])]
        return header, [[repr(float(v)) for v in row] for row in self.out]

    def _classes(self) -> tuple[list[str], list[list[str]]]:
        logits = Tensor(self.out)  # float64, as the outputs were read
        if self.loss == "bce":  # one logit: the probability of class 1
            p1 = logits[:, 0].sigmoid().numpy()
            self.probs = np.column_stack([1.0 - p1, p1])
        else:
            self.probs = logits.softmax(axis=1).numpy()
        self.predicted = self.probs.argmax(axis=1)
        names = self.class_names
        header = ["predicted", *(f"p_{name}" for name in names[: self.probs.shape[1]])]
        return header, [[names[k], *(f"{p:.6g}" for p in row)]
                        for k, row in zip(self.predicted, self.probs)]

    def summary(self) -> str:
        args = self.args
        text = f"{len(self.rows)} predictions from {args.model}"
        if self.truth is None:
            return text
        classify = self.task == "classification"
        try:
            expected = self.truth.classes(self.class_names) if classify else self.truth.numbers()
        except ValueError as error:
            raise UsageError(one_line(error)) from None
        if classify:
            chosen = self.probs[np.arange(len(expected)), expected]
            cross_entropy = float(-np.mean(np.log(np.clip(chosen, 1e-12, 1.0))))
            return (f"{text}; accuracy {np.mean(self.predicted == expected):.1%}, "
                    f"cross-entropy {cross_entropy:.4f} on {args.target!r}")
        mse = float(np.mean((self.out - expected.reshape(len(self.out), -1)) ** 2))
        return f"{text}; MSE {mse:.6g}, RMSE {math.sqrt(mse):.6g} on {args.target!r}"


def run_predict(args: argparse.Namespace) -> int:
    """``predict``: see ``predict --help``."""
    output = check_output_file(args.output, "--output", "predictions.csv") if args.output else None
    predictions = Predictions(args)
    summary = predictions.summary()
    if output is None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(predictions.header)
        writer.writerows(predictions.rows)
        print(summary, file=sys.stderr)  # stdout stays a clean CSV
        return 0
    try:
        created = make_parent(output)
        with open(output, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(predictions.header)
            writer.writerows(predictions.rows)
    except OSError as error:
        raise UsageError(f"cannot write '{output}': {one_line(error)}") from None
    print(summary)
    if created:
        print(created)
    print(f"wrote {output}")
    return 0
