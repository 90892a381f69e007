"""diagnose on the networks learners write in Ng's and Nielsen's conventions (issue 12, item 3):
it trains the user's own step on a copy and reports the first NaN/inf with the user's line,
lr · λmax from the user's own forward pass and cost, and the cures that work when rerun."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mlp.compare.conventions import recognise
from tinygrad_mlp.diagnose import diagnose
from tinygrad_mlp.diagnose.conventions import ConventionRunner

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE / "conventions"), str(HERE / "diagnose_nets")]  # the learners' files
import ng_deep  # noqa: E402  (the checker's catalogue)
import ng_planar as ng  # noqa: E402  (the checker's catalogue)
import ng_relu  # noqa: E402
import nielsen_network  # noqa: E402  (the checker's catalogue)
import nielsen_relu  # noqa: E402


def backward_propagation_without_m(parameters, cache, X, Y):
    """Ng's backward pass with the 1/m forgotten in dW1 (a learner's slip)."""
    grads = ng.backward_propagation(parameters, cache, X, Y)
    grads["dW1"] = grads["dW1"] * X.shape[1]
    return grads


RNG = np.random.default_rng(0)
X_NG = RNG.normal(size=(2, 120))
Y_NG = (X_NG[0:1] * X_NG[1:2] > 0).astype(float)
X_NI = RNG.normal(size=(20, 3))
Y_NI = np.tanh(X_NI @ [[1.0], [-0.5], [0.25]])


def ng_diagnose(X, Y, relu=False, backward=None, **kw):
    forward = ng_relu.forward_propagation_relu if relu else ng.forward_propagation
    backward = backward or (ng_relu.backward_propagation_relu if relu
                            else ng.backward_propagation)
    params = ng.initialize_parameters(X.shape[0], 4, 1)
    kept = copy.deepcopy(params)
    report = diagnose(params, X, Y, forward=forward, backward=backward, cost=ng.compute_cost,
                      update=ng.update_parameters, **kw)
    assert all(np.array_equal(params[k], kept[k]) for k in kept)  # trained a copy
    return report


def exact_lambda_max(user, X, Y):
    """λmax of the Hessian of the user's cost, by finite differences of the cost entry by
    entry: an independent truth for small networks."""
    params = user.parameters()
    names = list(params)
    flat = np.concatenate([params[k].ravel() for k in names])

    def cost(v):
        out, start = {}, 0
        for k in names:
            out[k] = v[start:start + params[k].size].reshape(params[k].shape)
            start += params[k].size
        return user.loss_value(out, X, Y)

    n, h = flat.size, 1e-4
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            e_i, e_j = np.eye(n)[i] * h, np.eye(n)[j] * h
            H[i, j] = H[j, i] = (cost(flat + e_i + e_j) - cost(flat + e_i - e_j)
                                 - cost(flat - e_i + e_j) + cost(flat - e_i - e_j)) / (4 * h * h)
    return float(np.linalg.eigvalsh(H).max())


# --- Ng's 2-layer form ---------------------------------------------------------------------------


def test_ng_stable_run_is_called_stable_with_its_own_learning_rate():
    report = ng_diagnose(X_NG, Y_NG, epochs=60)
    assert report.learning_rate == 1.2  # update_parameters' own default
    assert not report.blew_up and not report.gradient_wrong
    assert report.losses[-1] < report.losses[0] and report.lr_times_lambda_max < 2
    assert report.verdict().startswith("The run is stable")
    assert report.update_scale == pytest.approx(1.0, rel=1e-6)
    assert report.trials == []


def test_ng_lambda_max_is_the_curvature_of_the_users_own_cost():
    params = ng.initialize_parameters(2, 4, 1)
    user = recognise(params, forward=ng.forward_propagation, backward=ng.backward_propagation,
                     cost=ng.compute_cost)
    runner = ConventionRunner(user, 1.2)
    X, Y = runner.prepare(X_NG * 3, Y_NG)
    lam, _ = runner.lambda_max(runner.params0, X, Y, 100, 0)
    # At weights near zero the top eigenvalues cluster (0.249 to 0.255 here): power iteration
    # lands inside the cluster, which is all lr · λmax needs.
    assert lam == pytest.approx(exact_lambda_max(user, X, Y), rel=1e-2)


def compute_cost_as_float(A2, Y):
    """The course's later version: float(...) at the end, which drops a Tensor's graph."""
    return float(ng.compute_cost(A2, Y))


def test_ng_cost_that_returns_a_float_falls_back_to_differences_of_the_cost():
    params = ng.initialize_parameters(2, 4, 1)
    exact, differenced = (
        ConventionRunner(recognise(params, forward=ng.forward_propagation,
                                   backward=ng.backward_propagation, cost=cost), 1.2)
        for cost in (ng.compute_cost, compute_cost_as_float))
    X, Y = exact.prepare(X_NG * 3, Y_NG)
    lam, how = exact.lambda_max(exact.params0, X, Y, 100, 0)
    fd_lam, fd_how = differenced.lambda_max(differenced.params0, X, Y, 100, 0)
    assert "double backward" in how and "Python float" in fd_how
    assert fd_lam == pytest.approx(lam, rel=1e-2)
    g, fd_g = exact.gradient(exact.params0, X, Y), differenced.gradient(exact.params0, X, Y)
    for k in g:
        np.testing.assert_allclose(fd_g[k], g[k], rtol=1e-5, atol=1e-9)


def test_ng_too_large_a_learning_rate_names_the_line_of_the_cost():
    report = ng_diagnose(X_NG, Y_NG, epochs=40, learning_rate=60.0)
    first = report.first_nonfinite
    assert report.blew_up and first.stage == "cost" and first.kind == "nan"
    assert first.line.startswith("ng_planar.py:") and "in compute_cost: logprobs = " in first.line
    assert "np.log(1 - A2)" in first.line
    assert report.lr_times_lambda_max > 2 and report.lr_times_lambda_max == pytest.approx(
        60.0 * report.lambda_max)
    trials = {t.key: t for t in report.trials}
    assert trials["lower_lr"].first_nonfinite_epoch is None  # the smaller step stays finite
    assert "lr · λmax" in str(report) and "UNSTABLE" in str(report)


def test_ng_raw_features_blow_up_and_standardizing_cures():
    X = X_NG * [[10.0], [30.0]]
    report = ng_diagnose(X, Y_NG, relu=True, epochs=150)
    first = report.first_nonfinite
    assert report.blew_up and first.epoch <= 5
    assert "in compute_cost: logprobs" in first.line
    assert np.isfinite(report.loss_at_init)
    assert report.lambda_max_loss > 10 * report.lambda_max_standardized
    assert report.standardized_what == "inputs"  # 0/1 labels stay labels
    assert "standardize" in report.cures
    assert report.scales.flagged == ["x1"]  # RMS 30: far from 1 (x0, RMS 10, is not flagged)
    assert "raw feature scales" in report.verdict()


def test_ng_stable_but_wrong_gradient_leads_with_the_wrong_gradient():
    report = ng_diagnose(X_NG, Y_NG, backward=backward_propagation_without_m, epochs=30,
                         learning_rate=0.01)
    assert not report.blew_up and report.gradient_wrong
    assert report.backprop.first_mismatch == "dW1"
    assert report.verdict().startswith("The gradient is wrong: ")
    assert "dW1 (section 6)" in " ".join(report.verdict().split())


def test_ng_l_layer_form_is_diagnosed_too():
    params = ng_deep.initialize_parameters_deep([2, 5, 1])
    calls = {"forward": ng_deep.L_model_forward, "backward": ng_deep.L_model_backward,
             "cost": ng_deep.compute_cost, "update": ng_deep.update_parameters}
    stable = diagnose(params, X_NG, Y_NG, epochs=40, learning_rate=0.1, **calls)
    assert not stable.blew_up and stable.lr_times_lambda_max < 2 and stable.backprop.ok
    blown = diagnose(params, X_NG, Y_NG, epochs=40, learning_rate=50.0, **calls)
    assert blown.blew_up and blown.lr_times_lambda_max > 2
    assert "ng_deep.py:" in blown.first_nonfinite.line
    assert " in compute_cost: cost = " in blown.first_nonfinite.line
    assert "lower_lr" in blown.cures


# --- Nielsen's network.py ------------------------------------------------------------------------


def test_nielsen_network_is_diagnosed_as_it_is():
    net = nielsen_relu.Network([3, 6, 1])
    weights = [w.copy() for w in net.weights]
    report = diagnose(net, X_NI, Y_NI, epochs=30, learning_rate=0.1)  # was an AttributeError
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, weights))
    assert not report.blew_up and report.losses[-1] < report.losses[0]
    assert report.layer_labels == ["weights[0], biases[0]", "weights[1], biases[1]"]
    # update_mini_batch steps by eta / len(batch) times the summed cost's gradient.
    assert report.loss_is_sum and report.update_scale == pytest.approx(1 / 20, rel=1e-4)
    assert report.averaging_factor == pytest.approx(1.0, rel=1e-4)
    assert "update_mini_batch" in report.title


def test_nielsen_without_a_learning_rate_says_which_it_used():
    report = diagnose(nielsen_network.Network([3, 4, 1]), X_NI[:10], Y_NI[:10], epochs=5,
                      try_cures=False)
    assert report.learning_rate == 3.0
    assert any("learning_rate" in note and "3 was used" in note for note in report.notes)


@pytest.mark.parametrize("case", ["large-lr", "raw-features"])
def test_nielsen_blow_up_names_the_line_in_backprop(case):
    X, lr = (X_NI, 3.0) if case == "large-lr" else (X_NI * 100, 0.1)
    report = diagnose(nielsen_relu.Network([3, 6, 1]), X, Y_NI, epochs=40, learning_rate=lr)
    assert report.blew_up and report.lr_times_lambda_max > 2
    nan = next(e for e in report.events if e.kind == "nan")
    assert nan.stage == "training step" and nan.line.startswith("nielsen_relu.py:")
    assert " in backprop: " in nan.line
    assert "lower_lr" in report.cures or "standardize" in report.cures
    if case == "raw-features":
        assert "standardize" in report.cures and report.standardized_what == "inputs and targets"


def test_a_network_in_no_convention_gets_the_expected_signatures():
    with pytest.raises(TypeError, match="nn model") as caught:
        diagnose(object(), X_NI, Y_NI)
    assert "forward_pass" in str(caught.value) and "backprop" in str(caught.value)
