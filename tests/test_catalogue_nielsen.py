"""Nielsen's convention: network.py and network2.py, correct and with one planted defect each.

Each defect is one line of the learner's file changed (``catalogue.planted``); the check
must name the part where the mistake is made, with a cause that fits, and quote that line.
The layers are square ([3, 3, 3]) so that a missing transpose still runs, as it does for
learners.
"""

from __future__ import annotations

import numpy as np
import pytest
from catalogue import assert_found, load, needs_numpy_protocol, planted

from tinygrad_mlp.compare import check_backprop

pytestmark = needs_numpy_protocol
SIZES = [3, 3, 3]


def batch(n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, SIZES[0]))
    return X, np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], n)]


def check(module, cost=None):
    if cost is None:
        return check_backprop(module.Network(SIZES), *batch())
    net = module.Network(SIZES, cost=getattr(module, cost))
    return check_backprop(net, *batch())



DELTA_LINE = "delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp"
OUTPUT_LINE = "delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])"

# (old, new, the part where the mistake is made, the causes that fit, the line quoted when it
# is not the planted one)
NETWORK_DEFECTS = {
    "sigmoid' at the activation": ("sp = sigmoid_prime(z)", "sp = sigmoid_prime(activations[-l])",
                                   "nabla_b[0]", {"derivative_at_output"}, DELTA_LINE),
    "no sigmoid' at the output": (OUTPUT_LINE, "delta = self.cost_derivative(activations[-1], y)",
                                  "nabla_b[1]", {"missing_activation_derivative"}),
    "weights not transposed": (DELTA_LINE, "delta = np.dot(self.weights[-l + 1], delta) * sp",
                               "nabla_b[0]", {"transpose"}),
    "the wrong layer's weights": (DELTA_LINE,
                                  "delta = np.dot(self.weights[-l].transpose(), delta) * sp",
                                  "nabla_b[0]", {"wrong_layer"}),
    "activations off by one": ("nabla_w[-1] = np.dot(delta, activations[-2].transpose())",
                               "nabla_w[-1] = np.dot(delta, activations[-1].transpose())",
                               "nabla_w[1]", {"activations_off_by_one"}),
    "cost derivative uphill": ("return (output_activations - y)", "return (y - output_activations)",
                               "nabla_b[1]", {"sign"}, OUTPUT_LINE),
    "no 1/m in the update": (
        "self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]",
        "self.weights = [w - eta * nw for w, nw in zip(self.weights, nabla_w)]",
        "weights[1]", {"factor_m"}),
    "the mean taken twice": (
        "nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]",
        "nabla_w = [nw + dnw / len(mini_batch) for nw, dnw in zip(nabla_w, delta_nabla_w)]",
        "weights[1]", {"factor_1_over_m"},
        "self.weights = [w - (eta / len(mini_batch)) * nw "
        "for w, nw in zip(self.weights, nabla_w)]"),
    "nabla_b summed over the units": ("nabla_b[-1] = delta",
                                      "nabla_b[-1] = np.sum(delta, axis=0, keepdims=True)",
                                      "nabla_b[1]", {"wrong_axis"}),
    "a bias gradient never set": ("nabla_b[-l] = delta", "pass  # nabla_b[-l] = delta",
                                  "nabla_b[0]", {"zero"},
                                  "nabla_b = [np.zeros(b.shape) for b in self.biases]"),
    "the forward pass in backprop without its bias": (
        "z = np.dot(w, activation) + b", "z = np.dot(w, activation)", "zs[0]", {"bias_missing"}),
}


def test_network_py_as_written_is_right():
    report = check(load("nielsen_network"))
    assert report.ok, str(report)
    keys = [r.quantity.key for r in report.rows]
    assert keys.index("nabla_b[1]") < keys.index("nabla_w[1]") < keys.index("nabla_b[0]")
    assert keys.index("nabla_w[0]") < keys.index("weights[1]")


@pytest.mark.parametrize("label", sorted(NETWORK_DEFECTS))
def test_a_planted_defect_in_network_py(label):
    old, new, part, causes, *line = NETWORK_DEFECTS[label]
    assert_found(check(planted("nielsen_network", old, new)), part, causes,
                 line[0] if line else new.strip())


NETWORK2_DEFECTS = {
    "the cross-entropy delta times sigma'": (
        "        return (a - y)\n\n\nclass Network",
        "        return (a - y) * sigmoid_prime(z)\n\n\nclass Network",
        "nabla_b[1]", {"extra_activation_derivative"},
        "delta = (self.cost).delta(zs[-1], activations[-1], y)", "CrossEntropyCost"),
    "the quadratic cost with the fused delta": (
        "return (a - y) * sigmoid_prime(z)", "return (a - y)", "nabla_b[1]",
        {"fused_delta", "missing_activation_derivative"},
        "delta = (self.cost).delta(zs[-1], activations[-1], y)", "QuadraticCost"),
    "a factor 2 in the quadratic delta": (
        "return (a - y) * sigmoid_prime(z)", "return 2 * (a - y) * sigmoid_prime(z)",
        "nabla_b[1]", {"factor_2"}, "delta = (self.cost).delta(zs[-1], activations[-1], y)",
        "QuadraticCost"),
    "the biases updated uphill": (
        "self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]",
        "self.biases = [b + (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]",
        "biases[1]", {"sign"}),
    "no sigma' in the hidden delta": (
        DELTA_LINE, "delta = np.dot(self.weights[-l + 1].transpose(), delta)", "nabla_b[0]",
        {"missing_activation_derivative"}),
    "weights not transposed": (DELTA_LINE, "delta = np.dot(self.weights[-l + 1], delta) * sp",
                               "nabla_b[0]", {"transpose"}),
    "activations off by one": ("nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())",
                               "nabla_w[-l] = np.dot(delta, activations[-l].transpose())",
                               "nabla_w[0]", {"activations_off_by_one"}),
    "sigma' at the activation": ("sp = sigmoid_prime(z)", "sp = sigmoid_prime(activations[-l])",
                                 "nabla_b[0]", {"derivative_at_output"}, DELTA_LINE),
    "no 1/m in the update": ("- (eta / len(mini_batch)) * nw", "- eta * nw", "weights[1]",
                             {"factor_m"}, "self.weights = [(1 - eta * (lmbda / n)) * w - eta "
                             "* nw for w, nw in zip(self.weights, nabla_w)]"),
    "the forward pass in backprop without its bias": (
        "z = np.dot(w, activation) + b", "z = np.dot(w, activation)", "zs[0]", {"bias_missing"}),
}


@pytest.mark.parametrize("cost", ["CrossEntropyCost", "QuadraticCost"])
def test_network2_py_as_written_is_right_with_either_cost(cost):
    report = check(load("nielsen_network2"), cost)
    assert report.ok, str(report)
    assert report.method == "exact"


@pytest.mark.parametrize("label", sorted(NETWORK2_DEFECTS))
def test_a_planted_defect_in_network2_py(label):
    old, new, part, causes, *rest = NETWORK2_DEFECTS[label]
    line = rest[0] if rest else new.strip()
    cost = rest[1] if len(rest) > 1 else None
    assert_found(check(planted("nielsen_network2", old, new), cost), part, causes, line)


def test_the_parts_answer_to_the_negative_indices_of_nielsens_backprop():
    old, new, *_ = NETWORK_DEFECTS["no sigmoid' at the output"]
    report = check(planted("nielsen_network", old, new))
    assert report.first_mismatch == "nabla_b[1]" and report.first_mismatch == "nabla_b[-1]"
    assert report.first_mismatch != "nabla_b[0]"
    assert "FIRST MISMATCH: nabla_b[1] (nabla_b[-1] in backprop)" in str(report)
