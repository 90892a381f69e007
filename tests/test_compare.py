"""check_backprop: a correct network passes; each planted defect is found, located and named.

The defects are planted the way students make them: small subclasses that change one line.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from tinygrad_mlp import compare, manual
from tinygrad_mlp.compare import Location, check_backprop
from tinygrad_mlp.compare.skeleton_reference import FD_SAMPLE

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 3))
Y = np.sin(X[:, :1]) + X[:, 1:2]
Y3 = np.hstack([Y, Y ** 2, -Y])
N = X.shape[0]


def sigmoid_net(cls=manual.NeuralNetwork, loss=None, sizes=(4, 1)):
    acts = [manual.Sigmoid()] * (len(sizes) - 1) + [manual.Identity()]
    return cls(3, list(sizes), acts, loss or manual.MSE(), learning_rate=0.1)


# --- planted defects -------------------------------------------------------------------------


class MissingOneOverN(manual.MSE):
    """value is the mean, derivative forgot the 1/n."""

    def derivative(self, y_hat, y):
        return 2.0 * (np.asarray(y_hat) - np.asarray(y))


class SigmoidWrittenForOutput(manual.Sigmoid):
    """derivative(s) = s (1 - s): correct only if given the OUTPUT, but the net passes A."""

    def derivative(self, A):
        A = np.asarray(A)
        return A * (1.0 - A)


class PassesOutputToDerivative(manual.NeuralNetwork):
    """backward_pass hands the activation OUTPUT to a derivative that expects A."""

    def backward_pass(self, A_vals, dLdyhat):
        deltas = [None] * self.n_layers
        upstream = dLdyhat
        for i in reversed(range(self.n_layers)):
            act = self.activations[i]
            deltas[i] = act.derivative(act.value(A_vals[i])) * upstream
            if i > 0:
                upstream = deltas[i] @ self.W[i][1:].T
        return deltas


class TransposedWeight(manual.NeuralNetwork):
    """W[layer + 1][1:] where W[layer + 1][1:].T belongs."""

    def backward_pass(self, A_vals, dLdyhat):
        deltas = [self.activations[-1].derivative(A_vals[-1]) * dLdyhat]
        for layer in range(self.n_layers - 2, -1, -1):
            upstream = deltas[-1] @ self.W[layer + 1][1:]
            deltas.append(self.activations[layer].derivative(A_vals[layer]) * upstream)
        return deltas[::-1]


class NoActivationDerivative(manual.NeuralNetwork):
    """The hidden deltas forget to multiply by g'(A)."""

    def backward_pass(self, A_vals, dLdyhat):
        deltas = [self.activations[-1].derivative(A_vals[-1]) * dLdyhat]
        for layer in range(self.n_layers - 2, -1, -1):
            deltas.append(deltas[-1] @ self.W[layer + 1][1:].T)
        return deltas[::-1]


class AveragesInUpdate(manual.NeuralNetwork):
    """Divides by n in update_weights: right together with MissingOneOverN, wrong alone."""

    def update_weights(self, X, Z_vals, deltas):
        n = X.shape[0]
        inputs = [np.asarray(X), *Z_vals[:-1]]
        for i in range(self.n_layers):
            Z1 = np.concatenate((np.ones((n, 1)), inputs[i]), axis=1)
            self.W[i] -= self.learning_rate * (Z1.T @ deltas[i]) / n
        return self.W


class BrokenForward(manual.NeuralNetwork):
    def forward_pass(self, X):
        raise RuntimeError("forgot to implement")


class Swish:
    """An activation the engine does not know: checked by finite differences of value."""

    name = "swish"

    def value(self, A):
        A = np.asarray(A, dtype=np.float64)
        return A / (1.0 + np.exp(-A))

    def derivative(self, A):
        A = np.asarray(A, dtype=np.float64)
        s = 1.0 / (1.0 + np.exp(-A))
        return s + A * s * (1.0 - s)


class WrongSwish(Swish):
    def derivative(self, A):
        return 1.0 / (1.0 + np.exp(-np.asarray(A)))  # forgot the product rule


class Huber:
    """A loss the engine does not know: its derivative is checked by finite differences."""

    def value(self, y_hat, y):
        r = np.asarray(y_hat) - np.asarray(y)
        return float(np.mean(np.where(np.abs(r) < 1, 0.5 * r * r, np.abs(r) - 0.5)))

    def derivative(self, y_hat, y):
        r = np.asarray(y_hat) - np.asarray(y)
        return np.clip(r, -1.0, 1.0) / r.size


class Student:
    """A student's own class: no inheritance from us, the skeleton's attributes only."""

    def __init__(self, bias_column=np.ones):
        r = np.random.default_rng(1)
        self.W = [r.normal(size=(4, 5)) * 0.5, r.normal(size=(6, 1)) * 0.5]
        self.activations = [Swish(), manual.Identity()]
        self.loss = manual.MSE()
        self.learning_rate = 0.05
        self.n_layers = 2
        self.bias_column = bias_column

    def forward_pass(self, X):
        A_vals, Z_vals = [], []
        for layer in range(self.n_layers):
            prev = X if layer == 0 else Z_vals[layer - 1]
            prev = np.concatenate((np.ones((prev.shape[0], 1)), prev), axis=1)
            A_vals.append(np.matmul(prev, self.W[layer]))
            Z_vals.append(self.activations[layer].value(A_vals[layer]))
        return A_vals, Z_vals

    def backward_pass(self, A_vals, dLdyhat):
        deltas = [dLdyhat * self.activations[-1].derivative(A_vals[-1])]
        for layer in range(self.n_layers - 2, -1, -1):
            deltas.append(self.activations[layer].derivative(A_vals[layer])
                          * np.dot(deltas[-1], self.W[layer + 1][1:].T))
        return deltas[::-1]

    def update_weights(self, X, Z_vals, deltas):
        X = np.concatenate((self.bias_column((X.shape[0], 1)), X), axis=1)
        self.W[0] -= self.learning_rate * np.matmul(X.T, deltas[0])
        for layer in range(1, self.n_layers):
            Z1 = np.concatenate((np.ones((Z_vals[layer - 1].shape[0], 1)), Z_vals[layer - 1]), 1)
            self.W[layer] -= self.learning_rate * np.matmul(Z1.T, deltas[layer])
        return self.W


# --- a correct network -----------------------------------------------------------------------


@pytest.mark.parametrize("acts,sizes,loss,y", [
    ([manual.Sigmoid(), manual.Identity()], (4, 1), manual.MSE(), Y),
    ([manual.ReLU(), manual.Tanh(), manual.Identity()], (5, 4, 3), manual.MSE(), Y3),
    ([manual.LeakyReLU(0.1), manual.Softmax()], (5, 3), manual.CrossEntropy(), np.arange(N) % 3),
    ([manual.Tanh(), manual.Sigmoid()], (5, 1), manual.BinaryCrossEntropy(),
     (X[:, :1] > 0).astype(float)),
])
def test_correct_networks_agree_with_autograd(acts, sizes, loss, y):
    net = manual.NeuralNetwork(3, list(sizes), acts, loss, learning_rate=0.1)
    report = check_backprop(net, X, y)
    assert report.ok, str(report)
    assert report.first_mismatch is None and report.findings == []
    assert "Agrees with autograd" in str(report)
    stages = {r.location.stage for r in report.rows}
    assert stages == {"forward", "loss", "activation", "backward", "update", "end-to-end"}
    assert all(r.rel_error < 1e-10 for r in report.rows)


def test_users_own_class_with_unknown_activation_passes_and_is_not_modified():
    student = Student()
    W_before = [w.copy() for w in student.W]
    ids = [id(w) for w in student.W]
    report = check_backprop(student, X, Y)
    assert report.ok, str(report)
    assert "finite differences" in " ".join(report.reference_notes)
    assert [id(w) for w in student.W] == ids
    assert all(np.array_equal(a, b) for a, b in zip(student.W, W_before))


def test_1d_targets_are_accepted():
    report = check_backprop(sigmoid_net(), X, Y.ravel())
    assert report.ok, str(report)


# --- each planted defect ---------------------------------------------------------------------


def test_posted_network_zero_bias_column():
    net = sigmoid_net(manual.PostedNeuralNetwork)
    W_before = [w.copy() for w in net.W]
    report = check_backprop(net, X, Y)
    assert not report.ok
    assert report.first_mismatch == Location("update", 0, "bias row")
    assert report.causes == {"zero_bias_column"}
    row = report.row("update", 0, "bias row")
    assert row.norm_ratio == 0 and "zero" in row.verdict
    assert report.row("update", 0, "weight rows").ok
    text = str(report)
    assert "FIRST MISMATCH: update, layer 0, bias row" in text
    assert "np.zeros" in text and "np.ones" in text
    assert all(np.array_equal(a, b) for a, b in zip(net.W, W_before))  # restored


def test_users_own_class_zero_bias_column():
    report = check_backprop(Student(bias_column=np.zeros), X, Y)
    assert report.first_mismatch == Location("update", 0, "bias row")
    assert "zero_bias_column" in report.causes


def test_missing_one_over_n_is_named_and_confirmed_at_a_second_batch_size():
    report = check_backprop(sigmoid_net(loss=MissingOneOverN()), X, Y)
    assert report.first_mismatch == Location("loss", None, "dL/dyhat")
    finding = report.finding("factor_n")
    assert finding is not None and finding.confirmed is True
    assert report.row("loss", None, "dL/dyhat").norm_ratio == pytest.approx(N)
    assert report.row("end-to-end", 0, "weight rows").factor == pytest.approx(N)
    assert f"rerun with {N // 2} samples" in finding.message
    assert "1/n" in str(report)


def test_constant_that_only_equals_n_is_not_called_a_missing_one_over_n():
    class TimesTwelve(manual.MSE):
        def derivative(self, y_hat, y):
            return 12.0 * super().derivative(y_hat, y)

    report = check_backprop(sigmoid_net(loss=TimesTwelve()), X, Y)  # n is 12 here
    finding = report.finding("factor_n")
    assert finding is not None and finding.confirmed is False
    assert "constant" in finding.message


def test_sigmoid_derivative_written_for_the_output_but_given_the_input():
    net = manual.NeuralNetwork(3, [4, 1], [SigmoidWrittenForOutput(), manual.Identity()],
                               manual.MSE())
    report = check_backprop(net, X, Y)
    assert report.first_mismatch == Location("activation", 0, "derivative")
    assert "derivative_expects_output" in report.causes
    assert not report.row("backward", 0, "delta").ok
    assert "OUTPUT" in str(report)


def test_derivative_given_the_output_where_it_expects_the_input():
    net = PassesOutputToDerivative(3, [4, 1], [manual.Sigmoid(), manual.Identity()], manual.MSE())
    report = check_backprop(net, X, Y)
    assert report.first_mismatch == Location("backward", 0, "delta")
    assert report.causes == {"derivative_of_output"}
    assert report.row("activation", 0, "derivative").ok  # the class itself is fine


def test_transposed_weight_square_layer_runs_and_is_found():
    net = TransposedWeight(3, [3, 3, 3], [manual.Tanh(), manual.Tanh(), manual.Identity()],
                           manual.MSE())
    report = check_backprop(net, X, Y3)
    assert report.first_mismatch == Location("backward", 1, "delta")
    assert report.finding("transpose").location == Location("backward", 1, "delta")
    assert report.row("backward", 2, "delta").ok
    assert ".T" in str(report)


def test_transposed_weight_non_square_raises_and_is_reported_not_thrown():
    net = TransposedWeight(3, [4, 1], [manual.Tanh(), manual.Identity()], manual.MSE())
    report = check_backprop(net, X, Y)  # must not raise
    assert report.first_mismatch == Location("backward", None, "call")
    finding = report.finding("shape")
    assert finding is not None
    assert "ValueError" in finding.message and "transpose" in finding.message
    assert "without .T" in finding.message
    assert "Traceback" not in str(report)
    assert report.row("update", 0, "weight rows").ok  # later stages still checked


def test_delta_missing_the_activation_derivative():
    net = NoActivationDerivative(3, [4, 5, 1], [manual.Sigmoid(), manual.Tanh(),
                                                manual.Identity()], manual.MSE())
    report = check_backprop(net, X, Y)
    assert report.first_mismatch == Location("backward", 1, "delta")
    layers = {f.location.layer for f in report.findings if f.cause ==
              "missing_activation_derivative"}
    assert layers == {0, 1}


def test_wrong_derivative_of_an_unknown_activation_is_caught_by_finite_differences():
    student = Student()
    student.activations = [WrongSwish(), manual.Identity()]
    report = check_backprop(student, X, Y)
    assert report.first_mismatch == Location("activation", 0, "derivative")
    assert "activation_derivative" in report.causes


def test_unknown_loss_is_differentiated_numerically():
    net = sigmoid_net(loss=Huber())
    report = check_backprop(net, X, 3 * Y)  # some residuals beyond the Huber kink
    assert report.ok, str(report)
    assert "finite differences" in " ".join(report.reference_notes)

    class HuberNoMean(Huber):
        def derivative(self, y_hat, y):
            return super().derivative(y_hat, y) * np.asarray(y_hat).size

    report = check_backprop(sigmoid_net(loss=HuberNoMean()), X, 3 * Y)
    assert "factor_n" in report.causes


def test_softmax_through_its_diagonal_only():
    net = manual.PostedNeuralNetwork(3, [5, 3], [manual.ReLU(), manual.Softmax()],
                                     manual.CrossEntropy())
    report = check_backprop(net, X, np.arange(N) % 3)
    assert "softmax_diagonal" in report.causes
    assert report.first_mismatch == Location("backward", 1, "delta")


def test_factors_that_cancel_are_accepted_with_a_note():
    net = AveragesInUpdate(3, [4, 1], [manual.Tanh(), manual.Identity()], MissingOneOverN())
    report = check_backprop(net, X, Y)
    assert report.ok
    assert any("cancel" in note for note in report.notes)
    # Alone, the same update is n times too small, and says so.
    alone = check_backprop(AveragesInUpdate(3, [4, 1], [manual.Tanh(), manual.Identity()],
                                            manual.MSE()), X, Y)
    assert alone.finding("factor_1_over_n") is not None


def test_an_exception_is_a_finding_not_a_crash():
    report = check_backprop(BrokenForward(3, [4, 1], [manual.Tanh(), manual.Identity()],
                                          manual.MSE()), X, Y)
    assert report.first_mismatch == Location("forward", None, "call")
    assert "RuntimeError: forgot to implement" in str(report)


def test_objects_outside_the_convention_are_refused():
    with pytest.raises(TypeError, match="update_weights"):
        check_backprop(object(), X, Y)


def test_demo_finds_both_posted_defects_and_passes_the_fixed_network():
    report = compare.demo()
    assert report.causes == {"factor_n", "zero_bias_column"}
    assert report.finding("factor_n").confirmed
    assert report.n_samples == 442
    assert compare.demo(network="fixed").ok


class DeltasBackToFront(manual.NeuralNetwork):
    """Builds the deltas from the output layer down and forgets to reverse the list."""

    def backward_pass(self, A_vals, dLdyhat):
        deltas = [self.activations[-1].derivative(A_vals[-1]) * dLdyhat]
        for layer in range(self.n_layers - 2, -1, -1):
            upstream = deltas[-1] @ self.W[layer + 1][1:].T
            deltas.append(self.activations[layer].derivative(A_vals[layer]) * upstream)
        return deltas


class BiasRowInBackward(manual.NeuralNetwork):
    """Steps down a layer with all of W[layer + 1], bias row included."""

    def backward_pass(self, A_vals, dLdyhat):
        deltas = [self.activations[-1].derivative(A_vals[-1]) * dLdyhat]
        for layer in range(self.n_layers - 2, -1, -1):
            upstream = deltas[-1] @ self.W[layer + 1].T
            deltas.append(self.activations[layer].derivative(A_vals[layer]) * upstream)
        return deltas[::-1]


@pytest.mark.parametrize("sizes,y", [((4, 1), Y), ((3, 3, 3), Y3)])
def test_deltas_returned_back_to_front(sizes, y):
    net = DeltasBackToFront(3, list(sizes), [manual.Tanh()] * (len(sizes) - 1)
                            + [manual.Identity()], manual.MSE())
    report = check_backprop(net, X, y)
    assert report.first_mismatch == Location("backward", len(sizes) - 1, "delta")
    assert report.causes == {"deltas_reversed"}
    assert "deltas[::-1]" in str(report) and "transpose" not in str(report)


def test_bias_row_used_in_the_backward_pass_is_named():
    net = BiasRowInBackward(3, [4, 1], [manual.Tanh(), manual.Identity()], manual.MSE())
    report = check_backprop(net, X, Y)
    assert report.first_mismatch == Location("backward", None, "call")
    assert report.causes == {"bias_row_in_backward"}
    message = report.finding("bias_row_in_backward").message
    assert "self.W[layer + 1].T" in message and "W[i + 1][1:].T" in message


# --- confident outputs and losses the engine does not know -----------------------------------


class UnclippedBCE:
    """A student's binary cross-entropy: right, but without a clip."""

    def value(self, p, y):
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def derivative(self, p, y):
        return (p - y) / (p * (1 - p)) / p.size


class WeightedBCE:
    """Positives count twice: no formula reproduces it, so it is differenced numerically."""

    def value(self, p, y):
        return float(-np.mean(2 * y * np.log(p) + (1 - y) * np.log(1 - p)))

    def derivative(self, p, y):
        return -(2 * y / p - (1 - y) / (1 - p)) / p.size


def confident_net(loss, wrong=False):
    """A sigmoid output within 1e-19 of 0 and 1e-13 of 1, as after long training; ``wrong``
    makes the most confident 0 a 1."""
    W0 = np.zeros((4, 4))
    W0[1] = 1.0
    W1 = np.array([[-5.0]] + [[10.0]] * 4)  # A = -5 + 40 tanh(x0), from -44 to 30 here
    A = -5.0 + 40.0 * np.tanh(X[:, :1])
    y = (A > 0).astype(float)
    if wrong:
        y[np.argmin(A)] = 1.0
    net = manual.NeuralNetwork(3, [4, 1], [manual.Tanh(), manual.Sigmoid()], loss,
                               W_init=[W0, W1])
    return net, y


@pytest.mark.parametrize("loss", [UnclippedBCE(), manual.BinaryCrossEntropy(), WeightedBCE()],
                         ids=["unclipped", "ours", "unknown"])
@pytest.mark.parametrize("wrong", [False, True])
def test_a_correct_network_with_confident_sigmoid_outputs_passes(loss, wrong):
    net, y = confident_net(loss, wrong)
    p = net.forward_pass(X)[1][-1]
    assert p.min() < 1e-19 and 1 - p.max() < 1e-13
    report = check_backprop(net, X, y)
    assert report.ok, str(report)
    assert "inf or NaN" not in str(report)


def test_confident_outputs_still_show_a_wrong_loss_derivative():
    class Unweighted(WeightedBCE):
        def derivative(self, p, y):
            return -(y / p - (1 - y) / (1 - p)) / p.size

    class Summed(WeightedBCE):
        def derivative(self, p, y):
            return super().derivative(p, y) * p.size

    net, y = confident_net(Unweighted())
    assert check_backprop(net, X, y).first_mismatch == Location("loss", None, "dL/dyhat")
    net, y = confident_net(Summed())
    assert check_backprop(net, X, y).causes == {"factor_n"}


def test_unknown_loss_on_a_big_batch_checks_a_sample():
    class CountingHuber(Huber):
        calls = 0

        def value(self, y_hat, y):
            type(self).calls += 1
            return super().value(y_hat, y)

    rng = np.random.default_rng(2)
    Xb, Yb = rng.normal(size=(400, 3)), 3 * rng.normal(size=(400, 5))
    net = manual.NeuralNetwork(3, [4, 5], [manual.Tanh(), manual.Identity()], CountingHuber())
    report = check_backprop(net, Xb, Yb)
    assert report.ok, str(report)
    assert CountingHuber.calls < 3 * FD_SAMPLE  # not two per element of the 400 x 5
    assert f"{FD_SAMPLE} of 2000 entries" in report.row("loss", None, "dL/dyhat").verdict
    assert "seeded random" in " ".join(report.reference_notes)

    class HuberNoMean(Huber):
        def derivative(self, y_hat, y):
            return super().derivative(y_hat, y) * np.asarray(y_hat).size

    net = manual.NeuralNetwork(3, [4, 5], [manual.Tanh(), manual.Identity()], HuberNoMean())
    report = check_backprop(net, Xb, Yb)
    assert report.first_mismatch == Location("loss", None, "dL/dyhat")
    assert "factor_nk" in report.causes


def test_doctests():
    result = doctest.testmod(compare, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_an_error_in_the_rerun_at_another_batch_size_is_reported_not_concluded_from():
    class OnlyFullBatches(MissingOneOverN):
        def derivative(self, y_hat, y):
            if len(y_hat) != N:
                raise ValueError("expected the full batch")
            return super().derivative(y_hat, y)

    report = check_backprop(sigmoid_net(loss=OnlyFullBatches()), X, Y)
    finding = report.finding("factor_n")
    assert finding is not None and finding.confirmed is None
    assert "Not confirmed" in finding.message and "expected the full batch" in finding.message
    assert "constant" not in finding.message
