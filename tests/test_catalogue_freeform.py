"""Free-form networks: check_gradients(loss_fn, params, grads), correct and with one planted
defect each (one line of the learner's file changed). The structure of the network is read
off the graph of ``loss_fn`` run on Tensors, so the causes are named as for the other
conventions; the parts are named by the params' own keys or indices.
"""

from __future__ import annotations

import pytest
from catalogue import assert_found, load, needs_numpy_protocol, planted

from tinygrad_mlp.compare import check_gradients

pytestmark = needs_numpy_protocol


def check(module):
    return check_gradients(module.loss_fn, module.params, module.grads)



CS231N = {
    "no 1/N": ("dscores /= N", "pass  # dscores /= N", "W2", {"factor_m"},
               "dscores[np.arange(N), y] -= 1"),
    "the 1/N twice": ("dW2 = np.dot(hidden.T, dscores)", "dW2 = np.dot(hidden.T, dscores) / N",
                      "W2", {"factor_1_over_m"}),
    "db2 over the wrong axis": ("db2 = np.sum(dscores, axis=0)", "db2 = np.sum(dscores, axis=1)",
                                "b2", {"wrong_axis"}),
    "W2 not transposed": ("dhidden = np.dot(dscores, W2.T)", "dhidden = np.dot(dscores, W2)",
                          "W1", {"transpose"}, "dhidden[hidden <= 0] = 0"),
    "no ReLU mask": ("dhidden[hidden <= 0] = 0", "pass  # dhidden[hidden <= 0] = 0", "W1",
                     {"missing_activation_derivative"}, "dhidden = np.dot(dscores, W2.T)"),
    "the input where the hidden layer belongs": (
        "dW2 = np.dot(hidden.T, dscores)", "dW2 = np.dot(X.T, dscores)", "W2",
        {"activations_off_by_one"}),
    "dW1 transposed": ("dW1 = np.dot(X.T, dhidden)", "dW1 = np.dot(dhidden.T, X)", "W1",
                       {"transpose"}),
    "b1 given b2's gradient": ('"b1": db1', '"b1": db2', "b1", {"wrong_layer"},
                               "db2 = np.sum(dscores, axis=0)"),
    "b1 never computed": ("db1 = np.sum(dhidden, axis=0)", "db1 = np.zeros(H)", "b1", {"zero"}),
    "the pre-activation where the hidden layer belongs": (
        "dW2 = np.dot(hidden.T, dscores)", "dW2 = np.dot((np.dot(X, W1) + b1).T, dscores)",
        "W2", {"pre_activation"}),
}


def test_the_cs231n_net_as_written_is_right():
    report = check(load("freeform_cs231n"))
    assert report.ok, str(report)
    assert [r.quantity.key for r in report.rows] == ["W2", "b2", "W1", "b1"]


@pytest.mark.parametrize("label", sorted(CS231N))
def test_a_planted_defect_in_the_cs231n_net(label):
    old, new, part, causes, *line = CS231N[label]
    assert_found(check(planted("freeform_cs231n", old, new)), part, causes,
                 line[0] if line else new.strip())


LAYERS = {
    "tanh' taken at a1": ("dz1 = da1 * (1 - a1 ** 2)", "dz1 = da1 * (1 - np.tanh(a1) ** 2)",
                          "params[0][0]", {"derivative_at_output"}),
    "tanh' written for a1, given z1": ("dz1 = da1 * (1 - a1 ** 2)", "dz1 = da1 * (1 - z1 ** 2)",
                                       "params[0][0]", {"output_form_at_input"}),
    "no tanh'": ("dz1 = da1 * (1 - a1 ** 2)", "dz1 = da1", "params[0][0]",
                 {"missing_activation_derivative"}, "da1 = dout @ W2.T"),
    "the factor 2 of the square missing": ("dout = 2 * (out - y) / N", "dout = (out - y) / N",
                                           "params[1][0]", {"factor_half"}),
    "uphill": ("dout = 2 * (out - y) / N", "dout = 2 * (y - out) / N", "params[1][0]",
               {"sign"}),
    "no 1/N": ("dout = 2 * (out - y) / N", "dout = 2 * (out - y)", "params[1][0]",
               {"factor_m"}),
    "db2 over the wrong axis": ("db2 = dout.sum(axis=0)", "db2 = dout.sum(axis=1)",
                                "params[1][1]", {"wrong_axis"}),
    "W2 not transposed": ("da1 = dout @ W2.T", "da1 = dout @ W2", "params[0][0]",
                          {"transpose"}, "dz1 = da1 * (1 - a1 ** 2)"),
    "the input where the hidden layer belongs": ("dW2 = a1.T @ dout", "dW2 = x.T @ dout",
                                                 "params[1][0]", {"activations_off_by_one"}),
    "z1 where a1 belongs": ("dW2 = a1.T @ dout", "dW2 = z1.T @ dout", "params[1][0]",
                            {"pre_activation"}),
    "the first layer's gradient twice": ("return [[dW1, db1], [dW2, db2]]",
                                         "return [[dW1, db1], [dW1, db2]]", "params[1][0]",
                                         {"wrong_layer"}, "dW1 = x.T @ dz1"),
}


def test_the_list_of_layers_as_written_is_right():
    report = check(load("freeform_layers"))
    assert report.ok, str(report)


@pytest.mark.parametrize("label", sorted(LAYERS))
def test_a_planted_defect_in_the_list_of_layers(label):
    old, new, part, causes, *line = LAYERS[label]
    assert_found(check(planted("freeform_layers", old, new)), part, causes,
                 line[0] if line else new.strip())
