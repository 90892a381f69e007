"""diagnose: the posted network's blow-up explained, a stable run recognised, λmax exact."""

from __future__ import annotations

import doctest
import importlib.util

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import diagnose as diagnose_module
from tinygrad_mlp import manual, nn
from tinygrad_mlp.convert import to_mlp
from tinygrad_mlp.data import Standardize
from tinygrad_mlp.diagnose import diagnose, hessian_lambda_max, posted_setup
from tinygrad_mlp.diagnose.cures import regression_targets


@pytest.fixture(scope="module")
def posted():
    net, X, y = posted_setup()
    W_before = [w.copy() for w in net.W]
    report = diagnose(net, X, y, epochs=300)
    return net, X, y, W_before, report


@pytest.fixture(scope="module")
def standardized():
    _, X, y = posted_setup()
    return Standardize().fit_transform(X), Standardize().fit_transform(y)


# --- the posted network on raw diabetes features -----------------------------------------------


def test_posted_run_blows_up_and_names_the_first_non_finite_operation(posted):
    net, _, _, W_before, report = posted
    assert report.blew_up
    first = report.first_nonfinite
    assert first.stage == "loss.value" and first.kind == "inf"
    assert 100 < first.epoch < 200
    assert first.line.startswith("losses.py:")
    assert "in value: return float(np.mean(diff * diff))" in first.line
    assert "overflow" in first.numpy_message
    nan = next(e for e in report.events if e.kind == "nan")
    assert nan.stage == "backward_pass" and nan.epoch > first.epoch
    assert "backward_pass" in nan.line  # the line inside the posted backward_pass
    assert isinstance(report.anomaly, tg.AnomalyError)
    assert report.anomaly.node.name == "mean"
    assert all(np.array_equal(a, b) for a, b in zip(net.W, W_before))  # trained a copy


def test_posted_step_size_is_far_beyond_the_stability_limit(posted):
    report = posted[4]
    assert report.update_scale == pytest.approx(442, rel=1e-9)  # the missing 1/n
    assert report.lr_times_lambda_max > 1e4
    assert report.max_stable_lr == pytest.approx(2 / report.lambda_max)
    assert report.lambda_max == pytest.approx(442 * report.lambda_max_loss)
    assert report.lambda_max_standardized < report.lambda_max_loss / 1000
    # Late in the blow-up only the output bias still learns: 2·lr·n = 8.84, so the error grows
    # by |1 - 8.84| = 7.84 per epoch, and the measurement agrees.
    late = report.late_check
    assert late["lr_lambda"] == pytest.approx(0.01 * 442 * 2, rel=1e-6)
    assert late["observed"] == pytest.approx(late["predicted"], rel=1e-3)


def test_posted_cures_standardization_and_averaging_together(posted):
    report = posted[4]
    trials = {t.key: t for t in report.trials}
    assert "average+standardize" in report.cures
    assert trials["average+standardize"].lr_times_lambda_max < 2
    # Honest about the parts: at lr 0.01 each fix alone still leaves lr·λmax above 2.
    for key in ("average", "standardize", "bias"):
        assert key in trials and key not in report.cures
        assert trials[key].lr_times_lambda_max > 2
    assert "lower_lr" in report.cures
    assert trials["lower_lr"].lr_times_lambda_max == pytest.approx(1.0)
    assert "bias+average+standardize" in report.cures
    # What the story says of the reconstructed loss: with the 1/n the run stays finite.
    assert trials["average"].first_nonfinite_epoch is None


def test_posted_report_reads_as_a_report(posted):
    report = posted[4]
    text = str(report)
    for heading in ("1. Where the first inf/NaN appears", "2. Inputs and targets",
                    "3. Units at the initial weights", "4. Step size against curvature",
                    "5. Growth per layer", "6. Backprop against autograd",
                    "7. Candidate fixes"):
        assert heading in text
    assert "UNSTABLE" in text and "lr · λmax" in text
    assert "average + standardize" in text
    # The table holds each epoch's weights before its update; the stop says which ones are NaN.
    flat = " ".join(text.split())
    assert "its update made every weight NaN (the table shows each epoch's weights before" in flat
    assert "with the update's factor 442, lr · 442 · λmax would be" in flat
    assert report.backprop.causes == {"factor_n", "zero_bias_column"}
    assert {"age", "s1"} <= set(report.scales.flagged) or "x4" in report.scales.flagged
    units = {u.layer: u for u in report.units}
    assert units[0].constant == 3 and units[1].constant == 1  # ReLUs dead at the start
    assert any("dead" in line for line in report.story_lines())


def test_diagnose_an_nn_model_with_a_summed_loss(posted):
    net, X, y, _, posted_report = posted
    report = diagnose(to_mlp(net), X, y, epochs=300, learning_rate=0.01,
                      loss=nn.MSELoss(reduction="sum"))
    assert report.blew_up and report.first_nonfinite.stage == "loss"
    assert report.loss_is_sum and report.averaging_factor == 442
    assert report.lr_times_lambda_max == pytest.approx(posted_report.lr_times_lambda_max,
                                                       rel=1e-4)
    assert "average+standardize" in report.cures
    assert isinstance(report.anomaly, tg.AnomalyError)


# --- stable runs -------------------------------------------------------------------------------


def test_standardized_averaged_setup_is_reported_stable(standardized):
    Xs, ys = standardized
    net = manual.NeuralNetwork(10, [16, 8, 1], [manual.ReLU(), manual.ReLU(), manual.Identity()],
                               manual.MSE(), learning_rate=0.05)
    report = diagnose(net, Xs, ys, epochs=150)
    assert not report.blew_up and report.first_nonfinite is None
    assert report.lr_times_lambda_max < 2
    assert report.update_scale == pytest.approx(1.0)
    assert report.trials == [] and report.cures == []
    assert report.losses[-1] < report.losses[0]
    assert report.scales.standardized
    assert "The run is stable" in str(report)


def test_a_summed_loss_is_recognised(standardized):
    Xs, ys = standardized

    class SSE(manual.Loss):
        def value(self, y_hat, y):
            return float(np.sum((np.asarray(y_hat) - y) ** 2))

        def derivative(self, y_hat, y):
            return 2.0 * (np.asarray(y_hat) - y)

    net = manual.NeuralNetwork(10, [1], [manual.Identity()], SSE(), learning_rate=0.01)
    report = diagnose(net, Xs, ys, epochs=150)
    assert report.loss_is_sum and report.update_scale == pytest.approx(1.0)
    assert report.averaging_factor == 442
    assert report.blew_up
    assert "average" in report.cures


class SummedBCE(manual.BinaryCrossEntropy):
    """Binary cross-entropy whose derivative sums over the samples (no 1/n)."""

    def derivative(self, p, y):
        return super().derivative(p, y) * p.size


def test_class_labels_are_not_standardized_and_a_cure_must_be_a_valid_loss():
    rng = np.random.default_rng(7)
    Z = rng.normal(size=(200, 4))
    X = Z * [1.0, 10.0, 100.0, 0.1] + [0.0, 50.0, 500.0, 1.0]  # raw, like breast_cancer
    y = (Z @ [[1.0], [-1.0], [0.5], [1.0]] > 0).astype(float)
    net = manual.NeuralNetwork(4, [6, 1], [manual.Tanh(), manual.Sigmoid()], SummedBCE(),
                               learning_rate=0.01, seed=0)
    report = diagnose(net, X, y, epochs=60)
    trials = {t.key: t for t in report.trials}
    assert report.standardized_what == "inputs"
    assert trials["standardize"].label == "standardize inputs"
    assert all(min(t.losses) >= 0 for t in report.trials)  # a cross-entropy is never negative
    assert "standardize" in report.cures
    # A loss that hardly moves is stable, not cured.
    assert trials["lower_lr"].slow and "lower_lr" not in report.cures
    assert "Stable but slow" in report.verdict()


@pytest.mark.parametrize("y,outputs,regression", [
    (np.array([[0.0], [1.0], [1.0]]), 1, False),            # 0/1 labels
    (np.eye(3), 3, False),                                   # one-hot rows
    (np.array([0.0, 2.0, 1.0]), 3, False),                   # class indices
    (np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]]), 2, False),  # probability rows
    (np.array([0, 1, 2]), 1, False),                         # integer labels
    (np.array([[25.0], [151.0], [346.0]]), 1, True),         # diabetes-like values
    (np.array([0.5, -1.0, 2.0]), 1, True),
])
def test_which_targets_are_standardized(y, outputs, regression):
    assert regression_targets(y, outputs) is regression


def test_lambda_max_with_confident_outputs_and_an_unknown_loss():
    class WeightedBCE:
        def value(self, p, y):
            return float(-np.mean(2 * y * np.log(p) + (1 - y) * np.log(1 - p)))

        def derivative(self, p, y):
            return -(2 * y / p - (1 - y) / (1 - p)) / p.size

    X = np.linspace(-1.0, 1.0, 12).reshape(-1, 1)
    net = manual.NeuralNetwork(1, [1], [manual.Sigmoid()], WeightedBCE(), learning_rate=0.1,
                               W_init=[np.array([[-5.0], [40.0]])])  # p down to 3e-20
    report = diagnose(net, X, (X > 0.125).astype(float), epochs=10, try_cures=False)
    assert np.isfinite(report.loss_at_init) and np.isfinite(report.lambda_max)
    assert report.backprop.ok, str(report.backprop)
    assert "could not be estimated" not in str(report)


# --- the curvature -----------------------------------------------------------------------------


def test_hessian_estimate_matches_the_exact_hessian_of_a_linear_model():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 4)) * [1.0, 3.0, 0.5, 10.0] + [0.0, 2.0, 0.0, -5.0]
    y = X @ rng.normal(size=(4, 1)) + rng.normal(size=(50, 1))
    n = X.shape[0]
    net = manual.NeuralNetwork(4, [1], [manual.Identity()], manual.MSE())
    Xb = np.hstack([np.ones((n, 1)), X])  # the bias row of W multiplies a column of ones
    exact = np.linalg.eigvalsh(2.0 / n * Xb.T @ Xb).max()
    assert hessian_lambda_max(net, X, y) == pytest.approx(exact, rel=1e-8)

    tg.manual_seed(0)
    model = nn.MLP([4, 1], bias=False)  # no bias: the Hessian is 2/n XᵀX itself
    exact = np.linalg.eigvalsh(2.0 / n * X.T @ X).max()
    assert hessian_lambda_max(model, X, y, loss=nn.MSELoss()) == pytest.approx(exact, rel=1e-8)


def test_diagnosis_report_uses_the_same_lambda():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 3)) * 30
    y = X @ [[1.0], [-1.0], [0.5]]
    net = manual.NeuralNetwork(3, [1], [manual.Identity()], manual.MSE(), learning_rate=0.01)
    Xb = np.hstack([np.ones((40, 1)), X])
    exact = np.linalg.eigvalsh(2.0 / 40 * Xb.T @ Xb).max()
    report = diagnose(net, X, y, epochs=40)
    assert report.lambda_max == pytest.approx(exact, rel=1e-6)
    assert report.blew_up == (0.01 * exact > 2) or report.losses[-1] > report.losses[0]
    assert "standardize" in report.cures and "lower_lr" in report.cures


# --- units, lines and odd inputs ---------------------------------------------------------------


def test_saturated_sigmoid_output_is_flagged_before_any_update():
    X = np.random.default_rng(5).normal(size=(30, 2)) * 100
    y = (X[:, :1] > 0).astype(float)
    W = [np.array([[0.0], [50.0], [50.0]])]
    net = manual.NeuralNetwork(2, [1], [manual.Sigmoid()], manual.BinaryCrossEntropy(),
                               learning_rate=0.1, W_init=W)
    report = diagnose(net, X, y, epochs=5, try_cures=False)
    out = report.units[0]
    assert out.saturated_fraction > 0.5
    assert "log" in out.note


class RawBCE:
    """Binary cross-entropy without the clip: log(0) when a sigmoid saturates."""

    def value(self, p, y):
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def derivative(self, p, y):
        return (p - y) / (p * (1 - p)) / p.size


def test_a_loss_that_is_already_nan_at_the_start_is_explained():
    X = np.random.default_rng(6).normal(size=(30, 2)) * 100
    y = (X[:, :1] > 0).astype(float)
    net = manual.NeuralNetwork(2, [1], [manual.Sigmoid()], RawBCE(), learning_rate=0.1,
                               W_init=[np.array([[0.0], [50.0], [50.0]])])
    report = diagnose(net, X, y, epochs=5)
    assert not np.isfinite(report.loss_at_init)
    first = report.first_nonfinite
    assert first.epoch == 0 and first.stage == "loss.value"
    assert "test_diagnose.py" in first.line and "np.log" in first.line
    assert "already nan at the initial weights" in report.verdict()
    assert report.backprop.causes == {"non_finite_reference"}
    assert "log" in report.units[0].note


def test_unknown_pieces_fall_back_to_differences_of_autograd_gradients():
    class MyTanh:  # the engine does not know it by name, so no double backward
        def value(self, A):
            return np.tanh(A)

        def derivative(self, A):
            return 1 - np.tanh(A) ** 2

    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 1))
    known = manual.NeuralNetwork(3, [4, 1], [manual.Tanh(), manual.Identity()], manual.MSE())
    unknown = manual.NeuralNetwork(3, [4, 1], [MyTanh(), manual.Identity()], manual.MSE(),
                                   W_init=known.W)
    exact = hessian_lambda_max(known, X, y)
    assert hessian_lambda_max(unknown, X, y) == pytest.approx(exact, rel=1e-4)


class OverflowingStudent:
    """A user's class, written here, whose forward pass overflows: the line must be ours."""

    def __init__(self):
        self.W = [np.array([[0.0], [1.0]])]
        self.activations = [manual.Identity()]
        self.loss = manual.MSE()
        self.learning_rate = 1.0

    def forward_pass(self, X):
        A = np.concatenate((np.ones((X.shape[0], 1)), X), axis=1) @ self.W[0]
        boom = np.exp(A)  # this line makes the first inf
        return [boom], [boom]

    def backward_pass(self, A_vals, dLdyhat):
        return [np.asarray(dLdyhat)]

    def update_weights(self, X, Z_vals, deltas):
        return self.W


def test_the_first_inf_is_located_in_the_users_own_file():
    X = np.array([[1.0], [800.0]])
    report = diagnose(OverflowingStudent(), X, np.zeros((2, 1)), epochs=3, try_cures=False)
    first = report.first_nonfinite
    assert first.epoch == 0 and first.stage == "forward_pass"
    assert "test_diagnose.py" in first.line and "this line makes the first inf" in first.line
    assert "overflow" in first.numpy_message


def test_a_stage_that_raises_is_reported():
    class Raises(manual.NeuralNetwork):
        def backward_pass(self, A_vals, dLdyhat):
            raise ValueError("shapes do not align")

    net = Raises(2, [1], [manual.Identity()], manual.MSE())
    report = diagnose(net, np.ones((4, 2)), np.ones((4, 1)), epochs=3, try_cures=False)
    assert report.first_nonfinite.kind == "exception"
    assert "shapes do not align" in str(report)


def test_demo_as_the_cli_calls_it_and_doctests():
    report = diagnose_module.demo(network="fixed", epochs=50, learning_rate=0.05)
    assert not report.blew_up and report.learning_rate == 0.05
    with pytest.raises(ValueError, match="posted"):
        diagnose_module.demo(network="mine")
    # The doctests include demo() on the posted network.
    result = doctest.testmod(diagnose_module.diagnosis, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 5


# --- the example -------------------------------------------------------------------------------


def test_the_story_is_told(tmp_path, capsys):
    from tinygrad_mlp import story

    result = story.run(tmp_path)
    told = " ".join(capsys.readouterr().out.split())
    assert "does not show its loss class" in told and "PostedMSE) is a reconstruction" in told
    assert result["first_inf_epoch"] is not None and result["first_nan_epoch"] is not None
    assert result["report"].blew_up
    assert result["side_by_side"].agree(rtol=1e-12)
    assert result["train_rmse"] < 60 and result["test_rmse"] < 70  # y has std 77
    assert (tmp_path / "diagnosis.txt").read_text().startswith("Diagnosis:")
    names = {p.name for p in result["written"]}
    if importlib.util.find_spec("matplotlib") is not None:
        assert {"loss_curves.png", "layer_growth.png"} <= names
    if importlib.util.find_spec("tinygrad_mlp.viz") is not None:
        assert "first_nonfinite_graph.dot" in names
