"""Tests of tinygrad_mlp.train.fit: real training runs, determinism, divergence, progress."""

from __future__ import annotations

import math
import os
import re
import runpy
import sys

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim
from tinygrad_mlp.data import (
    DataLoader,
    Standardize,
    make_moons,
    make_regression_curve,
    train_test_split,
)
from tinygrad_mlp.train import History, TrainingDiverged, fit

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "real_dataset.py")


def moons():
    X, y = make_moons(n_samples=600, noise=0.1, seed=0)
    return train_test_split(X, y, test_size=0.25, seed=0)


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    with tg.no_grad():
        out = model(X.astype(np.float32)).data
    predicted = out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] > 0).astype(int)
    return float((predicted == y).mean())


def train_moons(loss: str = "ce") -> tuple[nn.Module, History]:
    X_train, X_test, y_train, y_test = moons()
    tg.manual_seed(0)
    if loss == "ce":
        model, loss_fn, targets = nn.MLP([2, 16, 16, 2]), nn.CrossEntropyLoss(), y_train
        val_targets = y_test
    else:
        model, loss_fn = nn.MLP([2, 16, 16, 1]), nn.BCEWithLogitsLoss()
        targets, val_targets = y_train[:, None].astype(float), y_test[:, None].astype(float)
    history = fit(model, loss_fn, optim.Adam(model.parameters(), lr=0.01), (X_train, targets),
                  epochs=40, val_data=(X_test, val_targets), progress=False)
    return model, history


@pytest.mark.parametrize("loss", ["ce", "bce_logits"])
def test_mlp_learns_two_moons(loss):
    model, history = train_moons(loss)
    _, X_test, _, y_test = moons()
    test_accuracy = accuracy(model, X_test, y_test)
    assert test_accuracy >= 0.97
    assert history.val_accuracy[-1] == pytest.approx(test_accuracy)
    assert history.epochs == 40 and len(history.val_loss) == 40 and len(history.accuracy) == 40
    assert history.loss[-1] < history.loss[0] / 5
    assert history.accuracy[-1] >= 0.97


def test_training_is_deterministic():
    _, first = train_moons()
    _, second = train_moons()
    assert first == second  # bit for bit
    assert first.loss == second.loss and first.val_accuracy == second.val_accuracy


def test_mlp_learns_digits():
    pytest.importorskip("sklearn")
    from tinygrad_mlp.data import load_digits

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.X, digits.y, test_size=0.2, seed=0, stratify=True
    )
    scaler = Standardize().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    def run():
        tg.manual_seed(0)
        model = nn.MLP([64, 64, 10])
        history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                      (X_train, y_train), epochs=20, val_data=(X_test, y_test), progress=False)
        return model, history

    model, history = run()
    assert accuracy(model, X_test, y_test) >= 0.95
    assert history.val_accuracy[-1] >= 0.95
    assert run()[1] == history


def diverging_setup():
    """Unscaled inputs and targets in the thousands with a large learning rate."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 3)) * 1000
    y = X @ np.array([[1.0], [2.0], [3.0]]) + 5000
    tg.manual_seed(0)
    model = nn.MLP([3, 16, 1])
    return model, optim.SGD(model.parameters(), lr=0.1), X, y


def test_divergence_stops_early_with_advice():
    model, opt, X, y = diverging_setup()
    with pytest.raises(TrainingDiverged) as info:
        fit(model, nn.MSELoss(), opt, (X, y), epochs=50, progress=False)
    error = info.value
    message = str(error)
    assert isinstance(error, FloatingPointError)
    assert re.match(r"training diverged: the loss became (nan|inf) at epoch 1/50, batch \d+\.",
                    message)
    assert f"batch {error.batch}." in message
    assert error.epoch == 1 and error.batch > 1
    assert "learning rate (lr=0.1)" in message
    assert "standardize the inputs" in message and "|x| =" in message and "|y| =" in message
    assert "clip_grad_norm" in message
    assert error.grad_norm is not None and error.grad_norm > 1e6
    assert f"The gradient norm of the last update was {error.grad_norm:.4g}" in message
    assert error.history.epochs == 0
    # The model keeps the weights of the last update, huge but finite, and says so.
    assert f"those after the update of epoch 1, batch {error.batch - 1}" in error.kept
    assert error.kept in message
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(error.state_dict[name], p.data)


def test_divergence_in_a_later_epoch_keeps_the_history():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    y = X.sum(axis=1, keepdims=True)
    tg.manual_seed(0)
    model = nn.MLP([2, 4, 1])
    opt = optim.SGD(model.parameters(), lr=0.01)
    calls = {"n": 0}

    def loss_fn(out, target):  # finite for two epochs, then NaN
        calls["n"] += 1
        loss = nn.functional.mse_loss(out, target)
        return loss * float("nan") if calls["n"] > 4 else loss

    with pytest.raises(TrainingDiverged, match=r"epoch 3/5, batch 1\.") as info:
        fit(model, loss_fn, opt, (X, y), epochs=5, batch_size=32, progress=False)
    assert info.value.history.epochs == 2 and len(info.value.history.loss) == 2


def test_nan_in_the_data_is_named():
    X = np.ones((8, 2))
    X[3, 1] = np.nan
    model = nn.MLP([2, 3, 1])
    before = [p.data.copy() for p in model.parameters()]
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"fit: train_data's X holds NaN \(first in row 3\); "
                                         "nothing was trained"):
        fit(model, nn.MSELoss(), opt, (X, np.ones((8, 1))), epochs=1, batch_size=8,
            progress=False)
    assert all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before))
    # Batches fit cannot look at beforehand (a generator) are caught at the loss.
    batches = (b for b in [(X, np.ones((8, 1)))])
    with pytest.raises(TrainingDiverged) as info:
        fit(model, nn.MSELoss(), opt, batches, epochs=1, progress=False)
    assert "This batch itself holds NaN or inf" in str(info.value)
    assert "No update had been made yet" in str(info.value)
    assert info.value.grad_norm is None


def test_gradient_clipping_tames_the_same_setup():
    model, _, X, y = diverging_setup()
    norms = []

    class Spy(optim.SGD):
        def step(self, closure=None):
            norms.append(math.sqrt(sum(float((p.grad.data.astype(float) ** 2).sum())
                                       for p in model.parameters())))
            return super().step(closure)

    spy = Spy(model.parameters(), lr=1e-4)
    history = fit(model, nn.MSELoss(), spy, (X, y), epochs=3, clip_grad_norm=1.0,
                  progress=False)
    assert all(math.isfinite(v) for v in history.loss)
    assert max(norms) <= 1.0 + 1e-5


def test_progress_with_tqdm(capsys):
    pytest.importorskip("tqdm")
    model = nn.MLP([2, 3, 2])
    X, y = make_moons(n_samples=64, seed=0)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
        epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "fit" in err and "3/3" in err and "loss=" in err and "accuracy=" in err


def test_progress_without_tqdm_prints_a_line_per_epoch(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm...` fail
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    model = nn.MLP([2, 3, 2])
    X, y = make_moons(n_samples=64, seed=0)
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                  (X, y), epochs=3, val_data=(X, y), progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3  loss ")
    assert lines[2] == (
        f"epoch 3/3  loss {history.loss[-1]:.4f}  accuracy {history.accuracy[-1]:.4f}  "
        f"val_loss {history.val_loss[-1]:.4f}  val_accuracy {history.val_accuracy[-1]:.4f}"
    )


def test_progress_false_is_silent(capsys):
    model = nn.MLP([2, 3, 2])
    X, y = make_moons(n_samples=64, seed=0)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
        epochs=2, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_batches_from_a_data_loader_or_a_list():
    X, y = make_moons(n_samples=64, seed=0)
    for data in [DataLoader(X, y, batch_size=16, shuffle=True, seed=1),
                 [(X[:32], y[:32]), (X[32:], y[32:])]]:
        model = nn.MLP([2, 4, 2])
        history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      data, epochs=2, val_data=data, progress=False)
        assert history.epochs == 2 and len(history.val_accuracy) == 2


def test_a_generator_is_refused_in_the_second_epoch():
    X, y = make_moons(n_samples=64, seed=0)
    model = nn.MLP([2, 4, 2])
    batches = ((X[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16))
    with pytest.raises(ValueError, match=r"no batches in epoch 2.*not a generator"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), batches,
            epochs=2, progress=False)


def test_metrics_follow_the_loss():
    X = np.random.default_rng(0).normal(size=(32, 2))
    y = X.sum(axis=1, keepdims=True)
    model = nn.MLP([2, 4, 1])
    opt = optim.SGD(model.parameters(), lr=0.01)
    history = fit(model, nn.MSELoss(), opt, (X, y), epochs=2, val_data=(X, y), progress=False)
    assert history.accuracy == [] and history.val_accuracy == [] and len(history.val_loss) == 2
    labels = (y > 0).astype(float)
    history = fit(model, nn.BCEWithLogitsLoss(), opt, (X, labels), epochs=1, metrics=None,
                  progress=False)
    assert history.accuracy == []
    history = fit(model, nn.functional.binary_cross_entropy_with_logits, opt, (X, labels),
                  epochs=1, progress=False)
    assert len(history.accuracy) == 1
    with pytest.raises(ValueError, match="cannot tell how to score accuracy"):
        fit(model, nn.MSELoss(), opt, (X, y), epochs=1, metrics="accuracy", progress=False)


def test_evaluation_runs_under_no_grad_in_eval_mode_and_the_mode_is_restored():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            seen.append((self.training, tg.is_grad_enabled(), x.dtype))
            return self.fc(x)

    model = Probe().double().eval()
    X, y = make_moons(n_samples=8, seed=0)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
        epochs=1, val_data=(X.astype(np.float32), y), batch_size=8, progress=False)
    assert seen == [(True, True, np.float64), (False, False, np.float64)]
    assert model.training is False


def test_bad_arguments():
    model = nn.MLP([2, 2])
    opt = optim.SGD(model.parameters(), lr=0.1)
    X, y = np.zeros((4, 2)), np.zeros(4, dtype=int)
    with pytest.raises(ValueError, match="fit: epochs must be an int >= 1, got 0"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=0)
    with pytest.raises(TypeError, match="pair"):
        fit(model, nn.CrossEntropyLoss(), opt, [X], epochs=1, progress=False)
    with pytest.raises(ValueError, match="one-element Tensor"):
        fit(model, nn.CrossEntropyLoss(reduction="none"), opt, (X, y), epochs=1,
            progress=False)
    with pytest.raises(TypeError, match="train_data must be"):
        fit(model, nn.CrossEntropyLoss(), opt, 3, epochs=1, progress=False)


def test_history_repr():
    assert repr(History()) == "History(epochs=0)"
    assert repr(History(loss=[1.0, 0.25], val_loss=[0.5, 0.125])) == (
        "History(epochs=2, loss=0.2500, val_loss=0.1250)"
    )


def test_example_trains_on_digits(capsys, tmp_path):
    pytest.importorskip("sklearn")
    namespace = runpy.run_path(EXAMPLE, run_name="example")
    args = ["--dataset", "digits", "--epochs", "15", "--quiet", "--out", str(tmp_path)]
    result = namespace["run"](namespace["parse_args"](args))
    out = capsys.readouterr().out
    assert result >= 0.95
    assert "test accuracy:" in out and "MLP(" in out


def test_top_level_fit():
    assert tg.fit is fit


@pytest.mark.parametrize("make,loss_fn,width", [
    (make_moons, nn.CrossEntropyLoss, 2),
    (make_regression_curve, nn.MSELoss, 1),  # float64 targets of shape (n, 1)
])
def test_a_dataset_is_taken_as_x_and_y(make, loss_fn, width):
    train, val = make(n_samples=64, seed=0), make(n_samples=32, seed=1)
    histories = []
    for train_data, val_data in [(train, val), ((train.X, train.y), (val.X, val.y))]:
        tg.manual_seed(0)
        model = nn.MLP([train.n_features, 8, width])
        histories.append(fit(model, loss_fn(), optim.Adam(model.parameters(), lr=0.01),
                             train_data, epochs=3, val_data=val_data, progress=False))
    assert histories[0] == histories[1] and len(histories[0].val_loss) == 3


def test_nested_lists_work_and_ragged_ones_are_explained():
    X, y = make_moons(n_samples=32, seed=0)
    histories = []
    for data in [(X, y), (X.tolist(), y.tolist())]:
        tg.manual_seed(0)
        model = nn.MLP([2, 4, 2])
        histories.append(fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                             data, epochs=2, progress=False))
    assert histories[0] == histories[1]
    model = nn.MLP([2, 4, 2])
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"train_data is an \(X, y\) pair, but its X cannot be "
                                         "made a numeric array.*equal-length rows"):
        fit(model, nn.CrossEntropyLoss(), opt, ([[0.1, 0.2], [0.3]], [0, 1]), epochs=1,
            progress=False)
    with pytest.raises(ValueError, match=r"val_data's y must hold numbers.*class indices"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=1, progress=False,
            val_data=(X[:2], ["a", "b"]))
    with pytest.raises(TypeError, match=r"give the tuple \(X, y\)"):
        fit(model, nn.CrossEntropyLoss(), opt, [X, y], epochs=1, progress=False)
