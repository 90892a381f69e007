"""Training an MLP on a dataset from start to end, as ``tinygrad-mlp train`` does.

``plan_training(dataset, ...)`` chooses the loss for the dataset's task, splits off a
validation set (stratified for classes), standardizes the features (and regression targets)
with the training split's statistics, and builds the ``nn.MLP`` and its optimizer: a
``TrainingPlan``. ``plan.fit(epochs)`` trains it with ``fit``; ``plan.save(path)`` writes the
model and the side data ``predict`` needs (``modelfile.save``). ``load_training_csv`` reads a
CSV file as the command line does (text labels are classes).

>>> from tinygrad_mlp.data import make_moons
>>> plan = plan_training(make_moons(n_samples=80), hidden=[8], seed=0)
>>> plan.loss_name, len(plan.X_train), len(plan.X_val)
('cross_entropy', 60, 20)
>>> history = plan.fit(epochs=3, progress=False)
>>> history.epochs, sorted(plan.side_data())[:3]
(3, ['class_names', 'dataset', 'feature_names'])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import modelfile, nn, optim
from ..data import MAX_INFERRED_CLASSES, Dataset, Standardize, load_csv, train_test_split
from ..engine.tensor import manual_seed
from .loop import History, fit

LOSSES = ("cross_entropy", "bce", "mse")
OPTIMIZERS = ("adam", "adamw", "sgd")
DEFAULT_LR = {"adam": 0.01, "adamw": 0.01, "sgd": 0.1}


def load_training_csv(
    path: str | os.PathLike[str], target: str, task: str | None = None
) -> Dataset:
    """``data.load_csv``, except that without a ``task`` text labels ("setosa") are taken as
    classes, unless there are so many (over 20) that a stray word in a column of numbers is
    the likelier reading; then the first error stands.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "flowers.csv"
    ...     _ = p.write_text("w,species\\n1,setosa\\n2,virginica\\n")
    ...     load_training_csv(p, "species").target_names
    ['setosa', 'virginica']
    """
    try:
        return load_csv(path, target=target, task=task)
    except ValueError as error:
        if task is not None:
            raise
        first = error
    try:
        ds = load_csv(path, target=target, task="classification")
    except ValueError:
        raise first from None
    if (ds.n_classes or 0) > MAX_INFERRED_CLASSES:
        raise first
    return ds


def choose_loss(dataset: Dataset, loss: str | None = None) -> str:
    """The loss for ``dataset``: ``loss`` when it suits the task, else a ``ValueError`` saying
    which would; by default cross-entropy for classes and MSE for numbers.

    >>> from tinygrad_mlp.data import make_regression_curve
    >>> choose_loss(make_regression_curve(n_samples=10))
    'mse'
    """
    classify = dataset.task == "classification"
    loss = loss if loss is not None else ("cross_entropy" if classify else "mse")
    if loss not in LOSSES:
        raise ValueError(f"choose_loss: loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if loss in ("cross_entropy", "bce") and not classify:
        raise ValueError(f"loss {loss} needs class labels, but {dataset.name} is a regression "
                         "dataset; use the mse loss (or the classification task for a CSV)")
    if loss == "bce" and dataset.n_classes != 2:
        raise ValueError(f"loss bce needs exactly two classes, but {dataset.name} has "
                         f"{dataset.n_classes}; use the cross_entropy loss")
    if loss == "mse" and classify:
        raise ValueError(f"loss mse needs a numeric target, but {dataset.name} has class "
                         "labels; use the cross_entropy loss (or bce for two classes), or the "
                         "regression task for a CSV")
    return loss


def make_optimizer(
    name: str, params: Any, lr: float | None = None, momentum: float = 0.0
) -> optim.Optimizer:
    """``optim.Adam``, ``AdamW`` or ``SGD`` (with ``momentum``) by name, with the learning
    rate of :data:`DEFAULT_LR` unless ``lr`` is given.

    >>> make_optimizer("sgd", nn.Linear(2, 1).parameters(), momentum=0.9).param_groups[0]["lr"]
    0.1
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"make_optimizer: name must be one of {', '.join(OPTIMIZERS)}, got "
                         f"{name!r}")
    lr = DEFAULT_LR[name] if lr is None else lr
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum)
    if name == "adamw":
        return optim.AdamW(params, lr=lr)
    return optim.Adam(params, lr=lr)


@dataclass(eq=False)
class TrainingPlan:
    """A model ready to train on a dataset (see the module docstring): the split data, the
    scalers fitted on the training split, the model, its loss and optimizer."""

    dataset: Dataset
    loss_name: str
    optimizer_name: str
    model: nn.Module
    loss_fn: nn.Module
    optimizer: optim.Optimizer
    X_train: np.ndarray
    X_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    scaler: Standardize | None
    target_scaler: Standardize | None
    seed: int

    def describe(self) -> str:
        """One line: the data, the split, the scaling, the task, loss and optimizer."""
        ds, scaled = self.dataset, self.scaler is not None
        return (f"{ds.name}: {len(self.X_train)} training and {len(self.X_val)} validation "
                f"samples, {ds.n_features} features{' (standardized)' if scaled else ' (raw)'}; "
                f"{ds.task}, loss {self.loss_name}, optimizer {self.optimizer_name} "
                f"(lr {self.optimizer.param_groups[0]['lr']:g})")

    def fit(self, epochs: int, batch_size: int = 32, progress: bool = True,
            clip_grad_norm: float | None = None) -> History:
        """Train with ``fit`` on the training split, validating on the other; shuffled from
        the plan's seed. Raises ``TrainingDiverged`` as ``fit`` does."""
        return fit(self.model, self.loss_fn, self.optimizer, (self.X_train, self.y_train),
                   epochs=epochs, val_data=(self.X_val, self.y_val), batch_size=batch_size,
                   seed=self.seed, progress=progress, clip_grad_norm=clip_grad_norm)

    def side_data(self) -> dict[str, Any]:
        """What ``predict`` needs beside the model: names, task, loss and the scalers."""
        ds, classify = self.dataset, self.dataset.task == "classification"
        scaler, target_scaler = self.scaler, self.target_scaler
        return {
            "dataset": ds.name, "task": ds.task, "loss": self.loss_name,
            "feature_names": list(ds.feature_names),
            "target": None if classify else ds.target_names[0],
            "class_names": list(ds.target_names) if classify else None,
            "x_mean": None if scaler is None else scaler.mean_,
            "x_std": None if scaler is None else scaler.std_,
            "y_mean": None if target_scaler is None else target_scaler.mean_,
            "y_std": None if target_scaler is None else target_scaler.std_,
        }

    def save(self, path: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write the model and its side data as a pair (``modelfile.save``)."""
        return modelfile.save(self.model, path, self.side_data())


def plan_training(
    dataset: Dataset,
    hidden: Sequence[int] = (32, 32),
    activation: str = "relu",
    loss: str | None = None,
    optimizer: str = "adam",
    lr: float | None = None,
    momentum: float = 0.0,
    test_size: float = 0.25,
    seed: int = 0,
    standardize: bool = True,
) -> TrainingPlan:
    """Everything before training (see the module docstring). ``seed`` decides the split,
    the initial weights (``tg.manual_seed(seed)`` is called before the model is built) and
    the shuffling. Bad settings raise ``ValueError`` (or ``TypeError``) naming them.
    """
    loss_name = choose_loss(dataset, loss)
    classify = dataset.task == "classification"
    try:
        X_train, X_val, y_train, y_val = train_test_split(
            dataset.X, dataset.y, test_size=test_size, seed=seed, stratify=classify)
    except ValueError as error:  # too few samples for the split
        raise ValueError(f"{dataset.name}: {error}") from None
    scaler = target_scaler = None
    if standardize:
        scaler = Standardize().fit(X_train)  # fit on the training split only
        X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
        if not classify:
            target_scaler = Standardize().fit(y_train)
            y_train, y_val = target_scaler.transform(y_train), target_scaler.transform(y_val)
    if loss_name == "bce":  # one logit per sample, float targets
        y_train, y_val = (y.astype(np.float64).reshape(-1, 1) for y in (y_train, y_val))
    n_out = 1 if loss_name == "bce" else (dataset.n_classes if classify else dataset.y.shape[1])
    manual_seed(seed)
    model = nn.MLP([dataset.n_features, *hidden, n_out], activation=activation)
    loss_fn = {"cross_entropy": nn.CrossEntropyLoss, "bce": nn.BCEWithLogitsLoss,
               "mse": nn.MSELoss}[loss_name]()
    opt = make_optimizer(optimizer, model.parameters(), lr, momentum)
    return TrainingPlan(dataset, loss_name, optimizer, model, loss_fn, opt, X_train, X_val,
                        y_train, y_val, scaler, target_scaler, seed)
