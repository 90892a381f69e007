"""Andrew Ng's convention: the catalogue's networks, correct and with one planted defect each.

Each defect is one line of the learner's file changed (``catalogue.planted``); the check
must name the part where the mistake is made, with a cause that fits, and quote that line.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from catalogue import assert_found, load, needs_numpy_protocol, planted

from tinygrad_mlp.compare import check_backprop

M = 24
pytestmark = needs_numpy_protocol


def planar_batch(n_x=4, n_y=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, M))
    Y = (rng.random((n_y, M)) < 0.5).astype(float)
    return X, Y


def check_planar(module, n_x=4, n_h=4, **kw):
    X, Y = planar_batch(n_x)
    parameters = module.initialize_parameters(n_x, n_h, 1)
    return check_backprop(parameters, X, Y, forward=module.forward_propagation,
                          backward=module.backward_propagation, cost=module.compute_cost,
                          update=module.update_parameters, **kw)


# (old line, new line, the part where the mistake is made, the causes that fit)
PLANAR_DEFECTS = {
    "no 1/m in dW2": ("dW2 = (1 / m) * np.dot(dZ2, A1.T)", "dW2 = np.dot(dZ2, A1.T)",
                      "dW2", {"factor_m"}),
    "the mean taken twice": ("dZ2 = A2 - Y\n", "dZ2 = (A2 - Y) / m\n", "dW2",
                             {"factor_1_over_m"}, "dW2 = (1 / m) * np.dot(dZ2, A1.T)"),
    "db2 over the wrong axis": ("db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)",
                                "db2 = (1 / m) * np.sum(dZ2, axis=0, keepdims=True)", "db2",
                                {"wrong_axis"}),
    "db1 without keepdims": ("db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)",
                             "db1 = (1 / m) * np.sum(dZ1, axis=1)", "db1", {"wrong_axis"}),
    "tanh' taken at A": ("dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))",
                         "dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(np.tanh(A1), 2))", "dZ1",
                         {"derivative_at_output"}),
    "tanh' written for A, given Z": ("dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))",
                                     "dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(cache['Z1'], 2))",
                                     "dZ1", {"output_form_at_input"}),
    "no tanh'": ("dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))", "dZ1 = np.dot(W2.T, dZ2)",
                 "dZ1", {"missing_activation_derivative"}),
    "flipped sign": ("dZ2 = A2 - Y\n", "dZ2 = Y - A2\n", "dZ2", {"sign"}),
    "the activations off by one": ("dW1 = (1 / m) * np.dot(dZ1, X.T)",
                                   "dW1 = (1 / m) * np.dot(dZ1, A1.T)", "dW1",
                                   {"activations_off_by_one"}),
    "dW1 transposed": ("dW1 = (1 / m) * np.dot(dZ1, X.T)", "dW1 = (1 / m) * np.dot(X, dZ1.T)",
                       "dW1", {"transpose"}),
    "the cost without its 1/m": ("cost = - np.sum(logprobs) / m", "cost = - np.sum(logprobs)",
                                 "dW2", {"factor_1_over_m"}, "dW2 = (1 / m) * np.dot(dZ2, A1.T)"),
    "update uphill": ("W1 = W1 - learning_rate * dW1", "W1 = W1 + learning_rate * dW1", "W1",
                      {"sign"}),
    "update without the rate": ("W2 = W2 - learning_rate * dW2", "W2 = W2 - dW2", "W2",
                                {"no_learning_rate"}),
}


def test_the_planar_network_as_written_is_right():
    report = check_planar(load("ng_planar"))
    assert report.ok, str(report)
    assert report.first_mismatch is None and report.findings == []


@pytest.mark.parametrize("label", sorted(PLANAR_DEFECTS))
def test_a_planted_defect_in_the_planar_network(label):
    old, new, part, causes, *line = PLANAR_DEFECTS[label]
    assert_found(check_planar(planted("ng_planar", old, new)), part, causes,
                 line[0] if line else new.strip())



# -- the L-layer form ------------------------------------------------------------------------


def deep_batch(dims, output="sigmoid", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dims[0], M))
    if output == "softmax":
        Y = np.eye(dims[-1])[rng.integers(0, dims[-1], M)].T
    elif output == "sigmoid":
        Y = (rng.random((dims[-1], M)) < 0.5).astype(float)
    else:
        Y = rng.standard_normal((dims[-1], M))
    return X, Y


def check_deep(module, dims=(3, 3, 3, 3), hidden="relu", output="sigmoid", **kw):
    X, Y = deep_batch(dims, output)
    parameters = module.initialize_parameters_deep(list(dims))
    return check_backprop(
        parameters, X, Y,
        forward=functools.partial(module.L_model_forward, hidden=hidden, output=output),
        backward=functools.partial(module.L_model_backward, hidden=hidden, output=output),
        cost=functools.partial(module.compute_cost, output=output),
        update=module.update_parameters, learning_rate=0.1, **kw)


# (old, new, part, causes, the line quoted when it is not the planted one); the layers are
# square ([3, 3, 3, 3]) so that a missing transpose still runs, as it does for learners.
DEEP_DEFECTS = {
    "relu_backward without its mask": (
        "dZ[Z <= 0] = 0", "pass  # dZ[Z <= 0] = 0", "dZ2", {"missing_activation_derivative"},
        "dZ = np.array(dA, copy=True)"),
    "sigmoid' written for A, given Z": (
        "dZ = dA * s * (1 - s)", "dZ = dA * Z * (1 - Z)", "dZ3", {"output_form_at_input"}),
    "sigmoid's cache keeps A": (
        "A = 1 / (1 + np.exp(-Z))\n    cache = Z", "A = 1 / (1 + np.exp(-Z))\n    cache = A",
        "dZ3", {"derivative_at_output"}, "dZ = dA * s * (1 - s)"),
    "no 1/m in dW": ("dW = 1 / m * np.dot(dZ, A_prev.T)", "dW = np.dot(dZ, A_prev.T)", "dW3",
                     {"factor_m"}),
    "db over the wrong axis": ("db = 1 / m * np.sum(dZ, axis=1, keepdims=True)",
                               "db = 1 / m * np.sum(dZ, axis=0, keepdims=True)", "db3",
                               {"wrong_axis"}),
    "db without keepdims": ("db = 1 / m * np.sum(dZ, axis=1, keepdims=True)",
                            "db = 1 / m * np.sum(dZ, axis=1)", "db3", {"wrong_axis"}),
    "dA_prev not transposed": ("dA_prev = np.dot(W.T, dZ)", "dA_prev = np.dot(W, dZ)", "dA2",
                               {"transpose"}),
    "dA_prev divided by m": ("dA_prev = np.dot(W.T, dZ)", "dA_prev = np.dot(W.T, dZ) / m",
                             "dA2", {"factor_1_over_m"}),
    "dAL uphill": ("dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))",
                   "dAL = (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))", "dA3", {"sign"}),
    "grads keys off by one": ('grads["dW" + str(l + 1)] = dW_temp',
                              'grads["dW" + str(l)] = dW_temp', "dW2", {"missing"}, None),
    "the last layer never updated": ("for l in range(L):", "for l in range(L - 1):", "W3",
                                     {"zero"}, None),
}


def test_the_deep_network_as_written_is_right():
    report = check_deep(load("ng_deep"))
    assert report.ok, str(report)
    assert {r.quantity.key for r in report.rows} >= {"dA3", "dZ3", "dW3", "db3", "dA2", "dZ2",
                                                     "dA0", "W1", "b3"}


@pytest.mark.parametrize("label", sorted(DEEP_DEFECTS))
def test_a_planted_defect_in_the_deep_network(label):
    old, new, part, causes, *line = DEEP_DEFECTS[label]
    report = check_deep(planted("ng_deep", old, new))
    assert_found(report, part, causes, line[0] if line else new.strip())


def test_the_output_gradient_answers_to_dAL_too():
    old, new, *_ = DEEP_DEFECTS["dAL uphill"]
    report = check_deep(planted("ng_deep", old, new))
    assert report.first_mismatch == "dA3" and report.first_mismatch == "dAL"
    assert "FIRST MISMATCH: dA3 (dAL in L_model_backward)" in str(report)


def test_a_missing_factor_2_in_a_regression_output():
    old, new = "dAL = 2 * (AL - Y)", "dAL = (AL - Y)"
    report = check_deep(planted("ng_deep", old, new), output="identity")
    assert_found(report, "dA3", {"factor_half"}, new)


# -- where the learner's code cannot run on Tensors ----------------------------------------


FLOAT_COST = ("cost = np.squeeze(cost)", "cost = float(np.squeeze(cost))")
DROPPED_GRAPH = ("A1 = np.tanh(Z1)", "A1 = np.array(np.tanh(Z1))")


def test_a_transposed_gradient_of_the_wrong_shape_is_named():
    old, new = "dW1 = (1 / m) * np.dot(dZ1, X.T)", "dW1 = (1 / m) * np.dot(X, dZ1.T)"
    report = check_planar(planted("ng_planar", old, new), n_x=2)  # W1 is (4, 2)
    assert_found(report, "dW1", {"transpose"}, new)
    assert "WRONG: shape (2, 4), not (4, 2)" in str(report)


def test_a_cost_that_returns_a_float_is_differenced_and_the_rest_is_exact():
    report = check_planar(planted("ng_planar", *FLOAT_COST))
    assert report.ok, str(report)
    assert report.method == "exact forward, cost by finite differences"
    assert "cost() returned a Python float" in str(report)
    no_tanh = ("dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))", "dZ1 = np.dot(W2.T, dZ2)")
    report = check_planar(planted("ng_planar", *FLOAT_COST, *no_tanh))
    assert_found(report, "dZ1", {"missing_activation_derivative"}, "dZ1 = np.dot(W2.T, dZ2)")


def test_a_forward_pass_that_drops_the_graph_is_checked_by_finite_differences():
    report = check_planar(planted("ng_planar", *DROPPED_GRAPH))
    assert report.ok, str(report)
    assert report.method == "finite differences" and "does not reach W1" in str(report)
    assert report.row("dZ1").status == "unchecked"
    report = check_planar(planted("ng_planar", *DROPPED_GRAPH, "dW2 = (1 / m) * np.dot(dZ2, A1.T)",
                                  "dW2 = np.dot(dZ2, A1.T)"))
    assert_found(report, "dW2", {"factor_m"}, "dW2 = np.dot(dZ2, A1.T)")
    assert report.findings[0].confirmed is True


def test_a_backward_pass_that_raises_is_the_finding_not_a_crash():
    module = planted("ng_planar", "dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))",
                     "dZ1 = np.dot(W2, dZ2) * (1 - np.power(A1, 2))")
    report = check_planar(module)  # W2 is (1, 4): without .T the product cannot run
    assert not report.ok and report.first_mismatch == "backward_propagation"
    text = str(report)
    assert "ValueError" in text and "dZ1 = np.dot(W2, dZ2)" in text and "transpose" in text
    assert "Traceback" not in text


def test_an_error_in_the_rerun_at_another_batch_size_is_reported_not_concluded_from():
    module = planted("ng_planar", "dW2 = (1 / m) * np.dot(dZ2, A1.T)",
                     "dW2 = np.dot(dZ2, A1.T)\n    assert m == 24, 'only for full batches'")
    report = check_planar(module)
    finding = report.findings[0]
    assert report.first_mismatch == "dW2" and finding.cause == "factor_m"
    assert finding.confirmed is None
    assert "Not confirmed" in finding.words and "only for full batches" in finding.words
    assert "constant" not in finding.words
