"""What fit and data refuse, before anything is trained (issue 14), and what fit keeps when a
run diverges: the last good weights, said in words and carried on the error."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor, nn, optim
from tinygrad_mlp.data import (
    DataLoader,
    Standardize,
    load_dataset,
    make_moons,
    make_regression_curve,
    make_spirals,
    train_test_split,
)
from tinygrad_mlp.train import TrainingDiverged, fit

# -- seeds, sizes and fractions in data -------------------------------------------------------


@pytest.mark.parametrize("call,error,message", [
    (lambda: make_moons(seed=-1), ValueError, "make_moons: seed must be None or an int >= 0, "
                                              "got -1"),
    (lambda: make_moons(seed=1.5), TypeError, "make_moons: seed must be None or an int"),
    (lambda: make_moons(seed="0"), TypeError, r"got '0' \(str\)"),
    (lambda: make_spirals(seed=-3), ValueError, "make_spirals: seed"),
    (lambda: make_regression_curve(seed=True), TypeError, "make_regression_curve: seed"),
    (lambda: DataLoader(np.zeros((4, 2)), seed=-1), ValueError, "DataLoader: seed"),
    (lambda: train_test_split(np.zeros((4, 2)), np.zeros(4), seed=-2), ValueError,
     "train_test_split: seed"),
    (lambda: load_dataset("moons", seed=-1), ValueError, "make_moons: seed"),
    (lambda: make_moons(n_samples=1), ValueError, "make_moons: n_samples must be an int >= 2, "
                                                  "got 1"),
    (lambda: make_moons(n_samples=2.0), TypeError, "make_moons: n_samples must be an int"),
    (lambda: make_moons(noise=-0.1), ValueError, "make_moons: noise must be a finite number"),
    (lambda: make_moons(noise=float("nan")), ValueError, "make_moons: noise"),
    (lambda: make_spirals(n_classes=1), ValueError, "make_spirals: n_classes must be an int"),
    (lambda: make_spirals(n_samples=2, n_classes=3), ValueError, "make_spirals: n_samples"),
    (lambda: DataLoader(np.zeros((4, 2)), batch_size=0), ValueError,
     "DataLoader: batch_size must be an int >= 1, got 0"),
    (lambda: DataLoader(np.zeros((4, 2)), batch_size=2.5), TypeError, "DataLoader: batch_size"),
    (lambda: DataLoader(np.zeros((0, 2))), ValueError, "DataLoader: X must hold at least one"),
    (lambda: train_test_split(np.zeros((4, 2)), np.zeros(4), test_size=1.5), ValueError,
     "train_test_split: a float test_size must lie strictly between 0 and 1"),
    (lambda: train_test_split(np.zeros((4, 2)), np.zeros(4), test_size="x"), TypeError,
     "train_test_split: test_size must be"),
    (lambda: train_test_split(np.zeros((4, 2)), np.zeros(3)), ValueError,
     "train_test_split: X has 4 samples but y has 3"),
    (lambda: load_dataset(3), TypeError, "load_dataset: name must be a str"),
    (lambda: load_dataset("mnist"), ValueError, "load_dataset: unknown dataset 'mnist'"),
    (lambda: Standardize().fit(np.zeros(3)), ValueError, "2-D"),
])
def test_bad_arguments_in_data_name_the_function_and_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_seed_of_none_or_a_numpy_int_is_fine():
    assert len(make_moons(n_samples=10, seed=None)) == 10
    a, b = make_moons(seed=np.int64(3)), make_moons(seed=3)
    np.testing.assert_array_equal(a.X, b.X)


# -- fit: everything checked before the first update ------------------------------------------


class CountingSGD(optim.SGD):
    steps = 0

    def step(self, closure=None):
        CountingSGD.steps += 1
        return super().step(closure)


def setup(n_out=2, n=40):
    tg.manual_seed(0)
    model = nn.MLP([2, 4, n_out])
    CountingSGD.steps = 0
    X, y = make_moons(n_samples=n, seed=0)
    return model, CountingSGD(model.parameters(), lr=0.1), X, y


def weights(model):
    return [p.data.copy() for p in model.parameters()]


BAD_FIT = {
    "model None": (lambda m, o, X, y: fit(None, nn.CrossEntropyLoss(), o, (X, y), epochs=1),
                   TypeError, "fit: model must be a Module .* got None"),
    "loss None": (lambda m, o, X, y: fit(m, None, o, (X, y), epochs=1),
                  TypeError, "fit: loss_fn must be a loss .* got None"),
    "optimizer None": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), None, (X, y), epochs=1),
                       TypeError, "fit: optimizer must be an optimizer .* got None"),
    "epochs float": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y), epochs=2.0),
                     TypeError, "fit: epochs must be an int >= 1"),
    "batch size 0": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y), epochs=1,
                                            batch_size=0),
                     ValueError, "fit: batch_size must be an int >= 1, got 0"),
    "seed": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y), epochs=1, seed=-1),
             ValueError, "fit: seed must be None or an int >= 0, got -1"),
    "clip string": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y), epochs=1,
                                           clip_grad_norm="1"),
                    TypeError, "fit: clip_grad_norm must be a positive number"),
    "clip negative": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y), epochs=1,
                                             clip_grad_norm=-1.0),
                      ValueError, "fit: clip_grad_norm must be a positive finite number .* "
                                  "reverse every update"),
    "clip zero": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y), epochs=1,
                                         clip_grad_norm=0),
                  ValueError, "got 0"),
    "clip nan": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y), epochs=1,
                                        clip_grad_norm=float("nan")),
                 ValueError, "got nan"),
    "validation features": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y),
                                                   epochs=1, val_data=(X[:, :1], y)),
                            ValueError, r"fit: val_data's X has rows of shape \(1,\), but "
                                        r"train_data's X has rows of shape \(2,\)"),
    "label in the last batch": (
        lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, np.r_[y[:-1], 5]), epochs=1,
                               batch_size=8, shuffle=False),
        ValueError, r"fit: train_data's y holds the class index 5 \(row 39\), but the model has "
                    r"2 outputs, so class indices must be 0..1; nothing was trained"),
    "negative label": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y - 1), epochs=1),
                       ValueError, "class index -1"),
    "validation label": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y), epochs=1,
                                                val_data=(X, y + 1)),
                         ValueError, "fit: val_data's y holds the class index 2"),
    "nan in X": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o,
                                        (np.where(np.arange(40)[:, None] == 30, np.nan, X), y),
                                        epochs=1),
                 ValueError, r"fit: train_data's X holds NaN \(first in row 30\)"),
    "inf in y": (lambda m, o, X, y: fit(m, nn.MSELoss(), o, (X, np.r_[np.ones(39), np.inf]
                                                             .reshape(-1, 1).repeat(2, 1)),
                                        epochs=1),
                 ValueError, r"fit: train_data's y holds inf \(first in row 39\)"),
    "float labels": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y + 0.5), epochs=1),
                     ValueError, "CrossEntropyLoss takes class indices as integers"),
    "bce targets": (lambda m, o, X, y: fit(m, nn.BCEWithLogitsLoss(), o,
                                           (X, np.full((40, 2), 3.0)), epochs=1),
                    ValueError, r"must lie in \[0, 1\] for a binary cross-entropy"),
    "rows": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o, (X, y[:-1]), epochs=1),
             ValueError, "they need one row per sample each"),
    "loader with nan": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o,
                                               DataLoader(X * np.nan, y), epochs=1),
                        ValueError, "train_data's X holds NaN"),
    "batch list with nan": (lambda m, o, X, y: fit(m, nn.CrossEntropyLoss(), o,
                                                   [(X[:20], y[:20]), (X[20:] * np.inf, y[20:])],
                                                   epochs=1),
                            ValueError, r"train_data\[1\]'s X holds inf"),
}


@pytest.mark.parametrize("case", list(BAD_FIT))
def test_fit_refuses_bad_input_before_the_first_update(case):
    call, error, message = BAD_FIT[case]
    model, opt, X, y = setup()
    before = weights(model)
    with pytest.raises(error, match=message):
        call(model, opt, X, y)
    assert CountingSGD.steps == 0
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(model)))


# -- divergence: the last good weights --------------------------------------------------------


class SqrtHead(nn.Module):
    """ReLU then sqrt: a finite loss whose gradient is infinite once an input reaches 0."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 1)

    def forward(self, x):
        return self.fc(x).relu().sqrt()


def sqrt_setup():
    model = SqrtHead()
    with tg.no_grad():
        model.fc.weight.data[...] = 1.0
        model.fc.bias.data[...] = 0.0
    X = np.array([[1.0], [2.0], [0.0], [3.0]])  # the third batch's input gives sqrt(0)
    return model, X, np.ones((4, 1))


def test_an_infinite_gradient_is_refused_and_the_last_good_weights_kept():
    model, X, y = sqrt_setup()
    opt = optim.SGD(model.parameters(), lr=0.01)
    after_two = None

    class Spy(optim.SGD):
        def step(self, closure=None):
            nonlocal after_two
            result = super().step(closure)
            after_two = weights(model)
            return result

    opt = Spy(model.parameters(), lr=0.01)
    with pytest.raises(TrainingDiverged) as info:
        fit(model, nn.MSELoss(), opt, (X, y), epochs=1, batch_size=1, shuffle=False,
            progress=False)
    error = info.value
    assert (error.epoch, error.batch) == (1, 3)
    assert "the gradient of 'fc.weight' (shape (1, 1)) became" in str(error)
    assert "though the loss was finite" in str(error)
    assert "The update was refused" in str(error)
    assert "those after the update of epoch 1, batch 2" in str(error)
    assert error.kept.startswith("The model keeps its last good weights")
    assert all(np.array_equal(a, b) for a, b in zip(after_two, weights(model)))
    assert all(np.isfinite(w).all() for w in weights(model))
    assert set(error.state_dict) == {"fc.weight", "fc.bias"}
    np.testing.assert_array_equal(error.state_dict["fc.weight"], model.fc.weight.data)
    assert error.state_dict["fc.weight"] is not model.fc.weight.data  # a copy


def test_a_foreign_optimizer_that_writes_nan_is_undone_to_the_epochs_start():
    class Careless:  # writes whatever the gradient says, NaN included
        def __init__(self, params):
            self.params = list(params)

        def zero_grad(self):
            for p in self.params:
                p.grad = None

        def step(self):
            with tg.no_grad():
                for p in self.params:
                    p.data[...] = p.data - 0.1 * p.grad.data

    model, X, y = sqrt_setup()
    start = weights(model)
    with pytest.raises(TrainingDiverged) as info:
        fit(model, nn.MSELoss(), Careless(model.parameters()), (X, y), epochs=1, batch_size=1,
            shuffle=False, progress=False)
    assert "fit restored those from the start of epoch 1" in info.value.kept
    assert all(np.array_equal(a, b) for a, b in zip(start, weights(model)))


def test_an_infinite_gradient_norm_under_clipping_is_named():
    model, X, y = sqrt_setup()
    with pytest.raises(TrainingDiverged, match=r"the gradient norm became (nan|inf) at epoch "
                                               "1/1, batch 3"):
        fit(model, nn.MSELoss(), optim.Adam(model.parameters()), (X, y), epochs=1,
            batch_size=1, shuffle=False, progress=False, clip_grad_norm=1.0)
    assert all(np.isfinite(w).all() for w in weights(model))


def test_an_interrupted_fit_says_where_the_model_stands():
    model, opt, X, y = setup()
    calls = 0

    def loss_fn(out, target):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(out, target)

    with pytest.raises(KeyboardInterrupt) as info:
        fit(model, loss_fn, opt, (X, y), epochs=1, batch_size=8, progress=False)
    notes = getattr(info.value, "__notes__", None)
    if notes is not None:  # Python 3.11 on
        assert notes == ["fit was interrupted; the model holds the weights after the update of "
                         "epoch 1, batch 2 (a whole step)"]


def test_a_tensor_is_fine_as_data():
    model, opt, X, y = setup()
    history = fit(model, nn.CrossEntropyLoss(), opt, (Tensor(X), Tensor(y)), epochs=1,
                  progress=False)
    assert history.epochs == 1
