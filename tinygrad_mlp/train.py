"""``fit``: the usual training loop, for when you would rather not write your own.

Per batch it does what a hand-written loop does (forward, loss, ``zero_grad``, backward,
optional gradient clipping, ``step``) and per epoch it records the mean loss, the accuracy
for classification losses and the same on validation data (evaluated under ``no_grad``).
If the loss turns NaN or inf it stops at once with ``TrainingDiverged``, saying where and
what to check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .engine.autograd import no_grad
from .engine.tensor import Tensor
from .nn import functional as F
from .nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss
from .nn.utils import clip_grad_norm_

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
    """The loss became NaN or inf during ``fit``.

    ``history`` holds the epochs completed before it; ``epoch`` and ``batch`` (1-based) say
    where; ``grad_norm`` is the gradient norm of the last update (None before the first).

    >>> issubclass(TrainingDiverged, FloatingPointError)
    True
    """

    def __init__(
        self, message: str, history: History, epoch: int, batch: int, grad_norm: float | None
    ) -> None:
        super().__init__(message)
        self.history, self.epoch, self.batch, self.grad_norm = history, epoch, batch, grad_norm


# -- metrics ----------------------------------------------------------------------------------

Metric = Callable[[np.ndarray, np.ndarray], tuple[int, int]]


def _argmax_hits(out: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    labels = y if y.ndim == out.ndim - 1 else y.argmax(axis=-1)  # indices or probabilities
    return int((out.argmax(axis=-1) == labels).sum()), labels.size


def _threshold_hits(threshold: float) -> Metric:
    def hits(out: np.ndarray, y: np.ndarray) -> tuple[int, int]:
        return int(((out >= threshold) == (y >= 0.5)).sum()), y.size

    return hits


def _metric(loss_fn: Any, metrics: str | None) -> Metric | None:
    if metrics is None or metrics is False:
        return None
    if metrics not in ("auto", "accuracy"):
        raise ValueError(f"fit: metrics must be 'auto', 'accuracy' or None, got {metrics!r}")
    if isinstance(loss_fn, CrossEntropyLoss) or loss_fn is F.cross_entropy:
        return _argmax_hits
    if isinstance(loss_fn, BCEWithLogitsLoss) or loss_fn is F.binary_cross_entropy_with_logits:
        return _threshold_hits(0.0)  # a logit of 0 is a probability of 1/2
    if isinstance(loss_fn, BCELoss) or loss_fn is F.binary_cross_entropy:
        return _threshold_hits(0.5)
    if metrics == "accuracy":
        raise ValueError(
            f"fit: cannot tell how to score accuracy with loss_fn={loss_fn!r}; accuracy is "
            "known for CrossEntropyLoss, BCELoss and BCEWithLogitsLoss (or use metrics=None)"
        )
    return None


# -- data -------------------------------------------------------------------------------------


def _batches(
    data: Any, batch_size: int, shuffle: bool, seed: int | None, dtype: np.dtype, what: str
) -> Any:
    from .data import DataLoader, Dataset  # imported when needed, as fit's only use of them

    if isinstance(data, Dataset):
        # A Dataset iterates as X then y (for ``X, y = ds``), not as batches.
        data = (data.X, data.y)
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
        # Cast once here rather than batch by batch.
        X, y = _as_array(data[0], dtype, what, "X"), _as_array(data[1], None, what, "y")
        if y.dtype.kind in "fb":
            y = y.astype(dtype, copy=False)
        return DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if isinstance(data, Iterable):
        return data
    raise TypeError(
        f"fit: {what} must be an (X, y) tuple or an iterable of (X_batch, y_batch) batches "
        f"such as a DataLoader, got {type(data).__name__}"
    )


def _as_array(values: Any, dtype: np.dtype | None, what: str, name: str) -> np.ndarray:
    """``values`` (an array, Tensor or nested lists) as a numeric array, or a clear error."""
    try:
        array = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"fit: {what} is an (X, y) pair, but its {name} cannot be made a numeric array "
            f"({err}); {name} must be an array, Tensor or list of equal-length rows of numbers "
            "(to pass batches instead, give a list of (X_batch, y_batch) tuples or a DataLoader)"
        ) from err
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"fit: {what}'s {name} must hold numbers, got dtype {array.dtype}"
            + (" (encode text labels as class indices 0..k-1)" if name == "y" else "")
        )
    return array


def _unpack(batch: Any, dtype: np.dtype) -> tuple[Tensor, Tensor]:
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(
            f"fit: each batch must be a pair (X_batch, y_batch), got {batch!r:.80}; to pass "
            "whole arrays, give the tuple (X, y) or a tinygrad_mlp.data.Dataset"
        )
    x = np.asarray(batch[0], dtype=dtype)
    y = np.asarray(batch[1])
    if y.dtype.kind in "fb":  # class indices stay integers; float targets follow the model
        y = y.astype(dtype, copy=False)
    return Tensor._make(x, False, None), Tensor._make(y, False, None)


def _scalar(loss: Any) -> float:
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = loss.shape if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(
            f"fit: loss_fn must return a one-element Tensor (reduction 'mean' or 'sum'), "
            f"got {shape}"
        )
    return float(loss.item())


def _evaluate(
    model: Any, loss_fn: Any, batches: Iterable[Any], dtype: np.dtype, metric: Metric | None
) -> tuple[float, float | None]:
    total, count, hits, seen = 0.0, 0, 0, 0
    with no_grad():
        for batch in batches:
            x, y = _unpack(batch, dtype)
            out = model(x)
            n = len(x)
            total += _scalar(loss_fn(out, y)) * n
            count += n
            if metric is not None:
                h, s = metric(out._data, y._data)
                hits, seen = hits + h, seen + s
    if count == 0:
        raise ValueError("fit: val_data yielded no batches")
    return total / count, (hits / seen if metric is not None else None)


# -- progress ---------------------------------------------------------------------------------


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


def _divergence_message(
    value: float, where: str, last_loss: float | None, grad_norm: float | None,
    lr: float | None, x: np.ndarray, y: np.ndarray,
) -> str:
    lines = [f"training diverged: the loss became {value} at {where}."]
    if not np.isfinite(x).all() or (y.dtype.kind == "f" and not np.isfinite(y).all()):
        lines.append("This batch itself holds NaN or inf: clean the data first.")
    if grad_norm is None:
        lines.append("No update had been made yet, so the data or the initial model produced it.")
    else:
        before = f" (the loss before it was {last_loss:.4g})" if last_loss is not None else ""
        lines.append(f"The gradient norm of the last update was {grad_norm:.4g}{before}.")
    scale = f"this batch's inputs reach |x| = {np.max(np.abs(x), initial=0.0):.4g}"
    if y.dtype.kind == "f":
        scale += f" and its targets |y| = {np.max(np.abs(y), initial=0.0):.4g}"
    lr_text = f" (lr={lr:g})" if lr is not None else ""
    lines += [
        "Things to check:",
        f"  - the learning rate{lr_text}: try one ten times smaller;",
        "  - feature scaling: standardize the inputs (and regression targets) to mean 0 and "
        f"std 1, e.g. with tinygrad_mlp.data.Standardize; {scale};",
        "  - the gradient norm: pass clip_grad_norm=1.0 to fit (it calls "
        "nn.utils.clip_grad_norm_) to cap the size of each update.",
    ]
    return "\n".join(lines)


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
    last_loss: float | None = None
    grad_norm: float | None = None  # of the last update

    def diverged(
        self, value: float, epoch: int, index: int, x: Tensor, y: Tensor, history: History
    ) -> TrainingDiverged:
        if self.clip is None:
            # .grad still holds the last update's gradients, since zero_grad comes after
            # the loss check. (With clipping, the norm before clipping was kept instead.)
            self.grad_norm = _grad_norm(self.params)
        groups = getattr(self.optimizer, "param_groups", None)
        lr = groups[0].get("lr") if groups else None
        where = f"epoch {epoch}/{self.epochs}, batch {index}"
        message = _divergence_message(
            value, where, self.last_loss, self.grad_norm, lr, x._data, y._data
        )
        return TrainingDiverged(message, history, epoch, index, self.grad_norm)


def _train_epoch(
    run: _Run, batches: Iterable[Any], epoch: int, history: History
) -> tuple[float, float | None]:
    total, count, hits, seen = 0.0, 0, 0, 0
    for index, batch in enumerate(batches, 1):
        x, y = _unpack(batch, run.dtype)
        out = run.model(x)
        loss = run.loss_fn(out, y)
        value = _scalar(loss)
        if not math.isfinite(value):
            raise run.diverged(value, epoch, index, x, y, history)
        run.optimizer.zero_grad()
        loss.backward()
        if run.clip is not None:
            run.grad_norm = float(clip_grad_norm_(run.params, run.clip))
        run.optimizer.step()
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
    ``clip_grad_norm`` caps the gradient norm of every update.

    When the loss becomes NaN or inf, ``TrainingDiverged`` (a ``FloatingPointError``) is
    raised at once, naming the epoch and batch and what to check; its ``.history`` holds the
    completed epochs. The model is left in the training mode it had before.

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
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    epochs = int(epochs)
    metric = _metric(loss_fn, metrics)
    params = list(model.parameters())
    dtype = next((p.dtype for p in params if p.dtype.kind == "f"), np.dtype(np.float32))
    train_batches = _batches(train_data, batch_size, shuffle, seed, dtype, "train_data")
    val_batches = None
    if val_data is not None:
        eval_size = max(batch_size, _EVAL_BATCH)
        val_batches = _batches(val_data, eval_size, False, None, dtype, "val_data")
    run = _Run(model, loss_fn, optimizer, params, dtype, metric, clip_grad_norm, epochs)

    history = History()
    display = _progress(progress, epochs)
    was_training = getattr(model, "training", True)
    try:
        # NumPy's overflow warnings are silenced: a blow-up is caught at the loss and
        # reported there with far more to go on.
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(1, epochs + 1):
                model.train()
                loss, accuracy = _train_epoch(run, train_batches, epoch, history)
                history.loss.append(loss)
                if accuracy is not None:
                    history.accuracy.append(accuracy)
                if val_batches is not None:
                    model.eval()
                    val_loss, val_accuracy = _evaluate(model, loss_fn, val_batches, dtype, metric)
                    history.val_loss.append(val_loss)
                    if val_accuracy is not None:
                        history.val_accuracy.append(val_accuracy)
                if display is not None:
                    display.update(epoch, history.last())
    finally:
        if display is not None:
            display.close()
        model.train(was_training)
    return history
