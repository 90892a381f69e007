"""``fit``: the usual training loop, for when you would rather not write your own.

Per batch it does what a hand-written loop does (forward, loss, ``zero_grad``, backward,
optional gradient clipping, ``step``) and per epoch it records the mean loss, the accuracy
for classification losses and the same on validation data (evaluated under ``no_grad``).
If the loss or a gradient turns NaN or inf it stops at once with ``TrainingDiverged``, saying
where and what to check, with the model at its last good weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..engine.autograd import no_grad
from ..engine.numerics import non_finite
from ..engine.tensor import Tensor
from ..nn.utils import clip_grad_norm_
from ..optim import NonFiniteGradient, Optimizer
from .inputs import (
    Batches,
    Metric,
    batches,
    check_features,
    check_labels,
    check_parts,
    check_settings,
    loss_kind,
    metric_for,
    scalar,
    unpack,
)

# How many rows to evaluate at once: only the forward pass runs, so bigger is faster.
_EVAL_BATCH = 1024


@dataclass
class History:
    """Per-epoch results of ``fit``: ``loss`` and ``val_loss``, and for classification
    ``accuracy`` and ``val_accuracy`` (lists stay empty when not measured).

    >>> h = History(loss=[0.9, 0.5], accuracy=[0.6, 0.8])
    >>> h.loss[-1], h.epochs
    (0.5, 2)
    >>> h
    History(epochs=2, loss=0.5000, accuracy=0.8000)
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """The number of epochs completed."""
        return len(self.loss)

    def last(self) -> dict[str, float]:
        """The latest value of every recorded series.

        >>> History(loss=[0.9, 0.5]).last()
        {'loss': 0.5}
        """
        series = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: values[-1] for name, values in series.items() if values}

    def __repr__(self) -> str:
        parts = [f"epochs={self.epochs}"] + [f"{k}={v:.4f}" for k, v in self.last().items()]
        return f"History({', '.join(parts)})"


class TrainingDiverged(FloatingPointError):
    """The loss, or a gradient, became NaN or inf during ``fit``.

    ``history`` holds the epochs completed before it; ``epoch`` and ``batch`` (1-based) say
    where; ``grad_norm`` is the gradient norm of the last update (None before the first).
    The model keeps the last good weights: ``kept`` says which they are (those after the last
    update, or the ones it had before training, or, for an optimizer that wrote NaN into
    them, the weights restored from the start of the epoch) and ``state_dict`` holds a copy.

    >>> issubclass(TrainingDiverged, FloatingPointError)
    True
    """

    def __init__(
        self, message: str, history: History, epoch: int, batch: int, grad_norm: float | None,
        kept: str = "", state_dict: dict[str, np.ndarray] | None = None,
    ) -> None:
        super().__init__(message)
        self.history, self.epoch, self.batch, self.grad_norm = history, epoch, batch, grad_norm
        self.kept, self.state_dict = kept, state_dict



# -- evaluation and progress ---------------------------------------------------------------


def _evaluate(
    model: Any, loss_fn: Any, batches: Iterable[Any], dtype: np.dtype, metric: Metric | None
) -> tuple[float, float | None]:
    total, count, hits, seen = 0.0, 0, 0, 0
    with no_grad():
        for batch in batches:
            x, y = unpack(batch, dtype)
            out = model(x)
            n = len(x)
            total += scalar(loss_fn(out, y)) * n
            count += n
            if metric is not None:
                h, s = metric(out._data, y._data)
                hits, seen = hits + h, seen + s
    if count == 0:
        raise ValueError("fit: val_data yielded no batches")
    return total / count, (hits / seen if metric is not None else None)


class _Lines:
    """One printed line per epoch: the fallback when tqdm is not installed."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def update(self, epoch: int, values: dict[str, float]) -> None:
        numbers = "  ".join(f"{k} {v:.4f}" for k, v in values.items())
        print(f"epoch {epoch:>{len(str(self.epochs))}}/{self.epochs}  {numbers}", flush=True)

    def close(self) -> None:
        pass


class _Bar:
    """A tqdm bar over the epochs, with the latest numbers beside it."""

    def __init__(self, tqdm: Any, epochs: int) -> None:
        self.bar = tqdm(total=epochs, desc="fit", unit="epoch")

    def update(self, epoch: int, values: dict[str, float]) -> None:
        self.bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()}, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _progress(enabled: bool, epochs: int) -> _Lines | _Bar | None:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm  # optional: only a nicer display
    except ImportError:
        return _Lines(epochs)
    return _Bar(tqdm, epochs)


# -- the loop ---------------------------------------------------------------------------------


def _grad_norm(params: list[Tensor]) -> float | None:
    squares = [
        float(np.sum(np.square(p.grad._data, dtype=np.float64)))
        for p in params
        if p.grad is not None
    ]
    return math.sqrt(sum(squares)) if squares else None


def _advice(lr: float | None, x: np.ndarray, y: np.ndarray, clip: float | None) -> list[str]:
    scale = f"this batch's inputs reach |x| = {np.max(np.abs(x), initial=0.0):.4g}"
    if y.dtype.kind == "f":
        scale += f" and its targets |y| = {np.max(np.abs(y), initial=0.0):.4g}"
    lr_text = f" (lr={lr:g})" if lr is not None else ""
    return [
        "Things to check:",
        f"  - the learning rate{lr_text}: try one ten times smaller;",
        "  - feature scaling: standardize the inputs (and regression targets) to mean 0 and "
        f"std 1, e.g. with tinygrad_mlp.data.Standardize; {scale};",
        "  - the gradient norm: pass clip_grad_norm=1.0 to fit (it calls "
        "nn.utils.clip_grad_norm_) to cap the size of each update." if clip is None else
        f"  - the gradient norm: clip_grad_norm={clip:g} caps finite norms only.",
    ]


@dataclass
class _Run:
    """What the training loop needs, and what it carries from one batch to the next."""

    model: Any
    loss_fn: Any
    optimizer: Any
    params: list[Tensor]
    dtype: np.dtype
    metric: Metric | None
    clip: float | None
    epochs: int
    labelled: list[Batches]  # whose class indices to check against the model's outputs
    last_loss: float | None = None
    grad_norm: float | None = None  # of the last update
    updated: tuple[int, int] | None = None  # (epoch, batch) of the last update
    snapshot: tuple[int, list[np.ndarray]] | None = None  # see keep_snapshot

    @property
    def whole_steps(self) -> bool:
        """Our optimizers write a step whole or not at all, and never write NaN or inf."""
        return isinstance(self.optimizer, Optimizer)

    def keep_snapshot(self, epoch: int) -> None:
        """The weights at the start of an epoch, kept for an optimizer of unknown make, which
        may write NaN into them: then they are what fit can give back."""
        if not self.whole_steps:
            self.snapshot = (epoch, [p._data.copy() for p in self.params])

    def check_labels(self, out: Tensor) -> None:
        self.labelled, labelled = [], self.labelled  # once, at the first batch
        if labelled and out.ndim >= 1:
            check_labels(labelled, out.shape[-1])

    def where(self) -> str:
        if self.updated is None:
            return "it had before training (no update had been made)"
        return f"after the update of epoch {self.updated[0]}, batch {self.updated[1]}"

    def keep(self) -> tuple[str, dict[str, np.ndarray] | None]:
        """Which weights the model keeps (restoring them if need be), in words, and a copy."""
        if all(np.isfinite(p._data).all() for p in self.params):
            text = f"The model keeps its last good weights, those {self.where()}: every one " \
                "finite (a copy is on this error as .state_dict)."
        elif self.snapshot is not None:
            epoch, saved = self.snapshot
            for p, array in zip(self.params, saved):
                p._data[...] = array
            text = "The optimizer wrote NaN or inf into the weights, so fit restored those " \
                f"from the start of epoch {epoch} (not the optimizer's own state)."
        else:
            text = "The weights hold NaN or inf: the optimizer wrote them."
        state = getattr(self.model, "state_dict", None)
        copied = {k: np.array(v, copy=True) for k, v in state().items()} if state else None
        return text, copied

    def lr(self) -> float | None:
        groups = getattr(self.optimizer, "param_groups", None)
        return groups[0].get("lr") if groups else None

    def loss_diverged(
        self, value: float, epoch: int, index: int, x: Tensor, y: Tensor, history: History
    ) -> TrainingDiverged:
        if self.clip is None:
            # .grad still holds the last update's gradients, since zero_grad comes after
            # the loss check. (With clipping, the norm before clipping was kept instead.)
            self.grad_norm = _grad_norm(self.params)
        lines = [f"training diverged: the loss became {value} at epoch {epoch}/{self.epochs}, "
                 f"batch {index}."]
        if not np.isfinite(x._data).all() or (y._data.dtype.kind == "f"
                                               and not np.isfinite(y._data).all()):
            lines.append("This batch itself holds NaN or inf: clean the data first.")
        if self.grad_norm is None:
            lines.append("No update had been made yet, so the data or the initial model "
                         "produced it.")
        else:
            before = "" if self.last_loss is None else \
                f" (the loss before it was {self.last_loss:.4g})"
            lines.append(f"The gradient norm of the last update was {self.grad_norm:.4g}"
                         f"{before}.")
        kept, state = self.keep()
        message = "\n".join([*lines, kept, *_advice(self.lr(), x._data, y._data, self.clip)])
        return TrainingDiverged(message, history, epoch, index, self.grad_norm, kept, state)

    def gradient_diverged(
        self, error: NonFiniteGradient | None, value: float, epoch: int, index: int, x: Tensor,
        y: Tensor, history: History,
    ) -> TrainingDiverged:
        where = f"epoch {epoch}/{self.epochs}, batch {index}"
        if error is None:  # clip_grad_norm_ found a non-finite norm
            what = f"the gradient norm became {self.grad_norm}"
        else:
            names = dict(getattr(self.model, "named_parameters", lambda: [])())
            name = next((n for n, p in names.items() if p is error.parameter), None)
            bad = non_finite(error.parameter.grad._data) if error.parameter.grad is not None \
                else None
            which = f"{name!r}" if name else f"parameter {error.index}"
            what = f"the gradient of {which} (shape {error.parameter.shape}) became {bad}" \
                if bad else f"the update of {which} overflowed"
        lines = [
            f"training diverged: {what} at {where}, though the loss was finite ({value:.4g}).",
            "The update was refused, so nothing of this batch reached the weights. A finite "
            "loss with an infinite gradient comes from an operation whose slope is infinite "
            "where it is taken (sqrt or log at 0, a power below 1 at 0), or from huge "
            "activations.",
        ]
        kept, state = self.keep()
        message = "\n".join([*lines, kept, *_advice(self.lr(), x._data, y._data, self.clip)])
        norm = self.grad_norm
        return TrainingDiverged(message, history, epoch, index, norm, kept, state)


def _train_epoch(
    run: _Run, batches: Iterable[Any], epoch: int, history: History
) -> tuple[float, float | None]:
    total, count, hits, seen = 0.0, 0, 0, 0
    for index, batch in enumerate(batches, 1):
        x, y = unpack(batch, run.dtype)
        out = run.model(x)
        if run.labelled:
            run.check_labels(out)
        loss = run.loss_fn(out, y)
        value = scalar(loss)
        if not math.isfinite(value):
            raise run.loss_diverged(value, epoch, index, x, y, history)
        run.optimizer.zero_grad()
        loss.backward()
        if run.clip is not None:
            run.grad_norm = float(clip_grad_norm_(run.params, run.clip))
            if not math.isfinite(run.grad_norm):
                raise run.gradient_diverged(None, value, epoch, index, x, y, history)
        try:
            run.optimizer.step()
        except NonFiniteGradient as error:
            raise run.gradient_diverged(error, value, epoch, index, x, y, history) from error
        run.updated = (epoch, index)
        run.last_loss = value
        n = len(x)
        total, count = total + value * n, count + n
        if run.metric is not None:
            h, s = run.metric(out._data, y._data)
            hits, seen = hits + h, seen + s
    if count == 0:
        again = (
            "; it must be iterable again every epoch (a DataLoader or a list of batches, "
            "not a generator)" if epoch > 1 else ""
        )
        raise ValueError(f"fit: train_data yielded no batches in epoch {epoch}{again}")
    return total / count, (hits / seen if run.metric is not None else None)


def _prepare(
    model: Any, loss_fn: Any, optimizer: Any, train_data: Any, epochs: Any, val_data: Any,
    batch_size: Any, shuffle: bool, seed: Any, metrics: Any, clip: Any,
) -> tuple[_Run, Batches, Batches | None]:
    """Every check fit makes before it trains, and what the loop needs."""
    params = check_parts(model, loss_fn, optimizer)
    check_settings(epochs, batch_size, seed, clip)
    metric = metric_for(loss_fn, metrics)
    kind = loss_kind(loss_fn)
    dtype = next((p.dtype for p in params if p.dtype.kind == "f"), np.dtype(np.float32))
    train = batches(train_data, batch_size, shuffle, seed, dtype, "train_data", kind)
    val = None
    if val_data is not None:
        eval_size = max(batch_size, _EVAL_BATCH)
        val = batches(val_data, eval_size, False, None, dtype, "val_data", kind)
    check_features(train, val)
    labelled = [train, *([val] if val is not None else [])] if kind == "ce" else []
    clip = None if clip is None else float(clip)
    run = _Run(model, loss_fn, optimizer, params, dtype, metric, clip, int(epochs), labelled)
    return run, train, val


def fit(
    model: Any,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: Any,
    train_data: Any,
    epochs: int,
    val_data: Any = None,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int | None = 0,
    metrics: str | None = "auto",
    progress: bool = True,
    clip_grad_norm: float | None = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_data``; return the ``History``.

    ``train_data`` and ``val_data`` are ``(X, y)`` tuples of arrays, Tensors or nested lists,
    or ``tinygrad_mlp.data.Dataset`` objects (batched by
    ``DataLoader`` with ``batch_size``, shuffled each epoch from ``seed`` when ``shuffle``),
    or any re-iterable of ``(X_batch, y_batch)`` pairs such as a ``DataLoader`` (used as
    is). Inputs and float targets are cast to the model's parameter dtype; integer targets
    stay class indices. The epoch loss is the mean of the batch losses weighted by batch
    size. ``metrics="auto"`` records accuracy for ``CrossEntropyLoss`` (argmax) and
    ``BCELoss``/``BCEWithLogitsLoss`` (threshold); ``None`` records none. ``progress``
    shows a tqdm bar when tqdm is installed, else prints a line per epoch.
    ``clip_grad_norm`` (a positive number) caps the gradient norm of every update.

    Every argument is checked before the first update, and so is all the data fit can see
    without using it up (arrays, Datasets, DataLoaders, lists of batches): matching rows, no
    NaN or inf, validation rows shaped like the training rows, class indices within the
    model's outputs (checked over the whole data at the first batch), targets in [0, 1] for
    the binary cross-entropies. When the loss or a gradient becomes NaN or inf,
    ``TrainingDiverged`` (a ``FloatingPointError``) is raised at once, naming the epoch and
    batch and what to check; its ``.history`` holds the completed epochs, and the model keeps
    its last good weights (``.kept`` says which, ``.state_dict`` holds a copy). With this
    package's optimizers an interrupted fit (Ctrl-C) leaves the model at a whole step. The
    model is left in the training mode it had before.

    >>> import numpy as np
    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn, optim
    >>> tg.manual_seed(0)
    >>> X = np.random.default_rng(0).normal(size=(64, 2)); y = (X.sum(axis=1) > 0).astype(int)
    >>> model = nn.MLP([2, 8, 2])
    >>> history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05),
    ...               (X, y), epochs=20, progress=False)
    >>> history.accuracy[-1] > 0.9
    True
    """
    run, train, val = _prepare(model, loss_fn, optimizer, train_data, epochs, val_data,
                               batch_size, shuffle, seed, metrics, clip_grad_norm)
    history = History()
    display = _progress(progress, run.epochs)
    was_training = getattr(model, "training", True)
    try:
        # NumPy's warnings about overflow and division by zero are silenced: a blow-up is
        # caught at the loss or the gradient and reported there with far more to go on.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(1, run.epochs + 1):
                run.keep_snapshot(epoch)
                model.train()
                loss, accuracy = _train_epoch(run, train.batches, epoch, history)
                history.loss.append(loss)
                if accuracy is not None:
                    history.accuracy.append(accuracy)
                if val is not None:
                    model.eval()
                    val_loss, val_accuracy = _evaluate(model, loss_fn, val.batches, run.dtype,
                                                       run.metric)
                    history.val_loss.append(val_loss)
                    if val_accuracy is not None:
                        history.val_accuracy.append(val_accuracy)
                if display is not None:
                    display.update(epoch, history.last())
    except KeyboardInterrupt as interrupt:
        if run.whole_steps and hasattr(interrupt, "add_note"):  # Python 3.11 on
            interrupt.add_note(f"fit was interrupted; the model holds the weights {run.where()}"
                               " (a whole step)")
        raise
    finally:
        if display is not None:
            display.close()
        model.train(was_training)
    return history
