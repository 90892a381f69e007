"""Tests of the hand-derived reference network against central finite differences.

Every derivative is checked against a float64 central difference of the corresponding
``value``: that is the independent truth, so a wrong formula (or a diagonal-only softmax)
makes a test fail.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import pathlib
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mlp import manual
from tinygrad_mlp.manual import (
    MSE,
    Activation,
    BinaryCrossEntropy,
    CrossEntropy,
    Identity,
    LeakyReLU,
    Linear,
    Loss,
    NeuralNetwork,
    PostedNeuralNetwork,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)

H = 1e-6  # central-difference step: truncation ~H**2, rounding ~1e-16/H


def fd_gradient(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x``."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + H
        up = f(x.copy())
        x[idx] = orig - H
        down = f(x.copy())
        x[idx] = orig
        grad[idx] = (up - down) / (2 * H)
    return grad


def fd_jacobian(g: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Central-difference Jacobian, shape ``x.shape + x.shape`` (output index first)."""
    x = np.array(x, dtype=np.float64)
    jac = np.zeros(x.shape + x.shape)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + H
        up = g(x.copy())
        x[idx] = orig - H
        down = g(x.copy())
        x[idx] = orig
        jac[(Ellipsis, *idx)] = (up - down) / (2 * H)
    return jac


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # ReLU-type kinks sit at 0; keep samples far enough that A +- H stays on one side.
    A = rng.normal(scale=2.0, size=shape)
    return np.where(np.abs(A) < 1e-3, 0.5, A)


ELEMENTWISE = [Identity(), ReLU(), LeakyReLU(), LeakyReLU(0.2), Sigmoid(), Tanh()]


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


def test_names_and_alias() -> None:
    names = [a.name for a in (Identity(), ReLU(), LeakyReLU(), Sigmoid(), Tanh(), Softmax())]
    assert names == ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"]
    assert Linear is Identity
    assert LeakyReLU().negative_slope == 0.01


@pytest.mark.parametrize("act", ELEMENTWISE, ids=repr)
def test_elementwise_derivative_is_the_diagonal_jacobian(act: Activation) -> None:
    A = away_from_zero(np.random.default_rng(0), (3, 4))
    jac = fd_jacobian(act.value, A).reshape(A.size, A.size)
    # Elementwise means the Jacobian is diagonal; its diagonal must be derivative(A).
    np.testing.assert_allclose(np.diag(jac), act.derivative(A).ravel(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(jac - np.diag(np.diag(jac)), 0.0, atol=1e-9)
    assert act.derivative(A).shape == A.shape


@pytest.mark.parametrize("act", ELEMENTWISE, ids=repr)
def test_default_backward_is_vjp(act: Activation) -> None:
    rng = np.random.default_rng(1)
    A = away_from_zero(rng, (2, 5))
    g = rng.normal(size=A.shape)
    expected = fd_gradient(lambda a: float(np.sum(g * act.value(a))), A)
    np.testing.assert_allclose(act.backward(A, g), expected, rtol=1e-6, atol=1e-9)


def test_activation_values_against_definitions() -> None:
    A = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(Identity().value(A), A)
    np.testing.assert_array_equal(ReLU().value(A), [0, 0, 0, 0.5, 3])
    np.testing.assert_allclose(LeakyReLU(0.1).value(A), [-0.3, -0.05, 0, 0.5, 3])
    np.testing.assert_allclose(Sigmoid().value(A), 1 / (1 + np.exp(-A)), rtol=1e-15)
    np.testing.assert_allclose(Tanh().value(A), np.tanh(A))
    logits = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(Softmax().value(logits), np.exp(logits) / np.exp(logits).sum())


def test_relu_family_derivative_at_zero_uses_the_left_side() -> None:
    assert ReLU().derivative(np.array([0.0])).tolist() == [0.0]
    assert LeakyReLU(0.3).derivative(np.array([0.0])).tolist() == [0.3]


def test_sigmoid_large_inputs_are_stable() -> None:
    A = np.array([-1e308, -1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4, 1e308])
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        s = Sigmoid().value(A)
        d = Sigmoid().derivative(A)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(d))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[4] == 0.5
    # Far in the tails sigmoid(A) ~ exp(A) and sigmoid'(A) ~ exp(-|A|): full precision.
    np.testing.assert_allclose(s[3], np.exp(-50.0) / (1 + np.exp(-50.0)), rtol=1e-14)
    np.testing.assert_allclose(d[5], np.exp(-50.0), rtol=1e-14)


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)))
def test_sigmoid_property_in_unit_interval(A: np.ndarray) -> None:
    with np.errstate(all="raise"):
        s = Sigmoid().value(A)
        d = Sigmoid().derivative(A)
    assert np.all((s >= 0) & (s <= 1))
    # d <= 1/4 exactly in real arithmetic; allow one rounding near A = 0.
    assert np.all((d >= 0) & (d <= 0.25 * (1 + 1e-15)))
    # Symmetry sigmoid(-A) = 1 - sigmoid(A) holds to rounding.
    np.testing.assert_allclose(Sigmoid().value(-A), 1 - s, atol=1e-15)


def test_softmax_large_logits_are_stable() -> None:
    big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0], [1e308, 0.0, -1e308]])
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        s = Softmax().value(big)
        Softmax().backward(big, np.ones_like(big))
        Softmax().derivative(big)
    np.testing.assert_allclose(s[0], Softmax().value(np.array([0.0, 1.0, 2.0])))
    np.testing.assert_allclose(s[1], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(s.sum(axis=-1), 1.0)


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(
        np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=st.floats(-1e5, 1e5)
    )
)
def test_softmax_property_rows_are_distributions(A: np.ndarray) -> None:
    with np.errstate(all="raise"):
        s = Softmax().value(A)
    assert np.all(s >= 0)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-12)


def test_softmax_backward_matches_finite_difference_vjp() -> None:
    rng = np.random.default_rng(2)
    A = rng.normal(scale=3.0, size=(4, 5))
    g = rng.normal(size=A.shape)
    expected = fd_gradient(lambda a: float(np.sum(g * Softmax().value(a))), A)
    np.testing.assert_allclose(Softmax().backward(A, g), expected, rtol=1e-6, atol=1e-9)
    # And the directional form: J @ v against (softmax(A + h v) - softmax(A - h v)) / 2h.
    v = rng.normal(size=A.shape)
    jvp = (Softmax().value(A + H * v) - Softmax().value(A - H * v)) / (2 * H)
    np.testing.assert_allclose(Softmax().backward(A, v), jvp, rtol=1e-6, atol=1e-9)


def test_softmax_derivative_is_only_the_jacobian_diagonal() -> None:
    A = np.random.default_rng(3).normal(size=(2, 3))
    jac = fd_jacobian(Softmax().value, A)
    for row in range(A.shape[0]):
        block = jac[row, :, row, :]
        np.testing.assert_allclose(np.diag(block), Softmax().derivative(A)[row], atol=1e-9)
        # The off-diagonal part is real, which is why backward() exists.
        assert np.abs(block - np.diag(np.diag(block))).max() > 1e-3


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------


def test_mse_is_the_mean_over_all_elements() -> None:
    y_hat = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.zeros((2, 2))
    assert MSE().value(y_hat, y) == pytest.approx((1 + 4 + 9 + 16) / 4)
    np.testing.assert_allclose(MSE().derivative(y_hat, y), 2 * y_hat / 4)


@pytest.mark.parametrize("shape", [(5, 1), (4, 3)])
def test_mse_derivative_matches_finite_difference(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(4)
    y_hat, y = rng.normal(size=shape), rng.normal(size=shape)
    expected = fd_gradient(lambda p: MSE().value(p, y), y_hat)
    np.testing.assert_allclose(MSE().derivative(y_hat, y), expected, rtol=1e-6, atol=1e-10)


def test_mse_accepts_flat_target_for_single_output_and_rejects_mismatches() -> None:
    y_hat = np.array([[1.0], [2.0], [3.0]])
    assert MSE().value(y_hat, np.array([1.0, 2.0, 4.0])) == pytest.approx(1 / 3)
    assert MSE().derivative(y_hat, np.array([1.0, 2.0, 4.0])).shape == (3, 1)
    with pytest.raises(ValueError, match="shape"):
        MSE().value(y_hat, np.zeros((3, 2)))


@pytest.mark.parametrize("soft", [False, True], ids=["hard-labels", "soft-labels"])
def test_bce_derivative_matches_finite_difference(soft: bool) -> None:
    rng = np.random.default_rng(5)
    y_hat = rng.uniform(0.05, 0.95, size=(6, 2))
    y = rng.uniform(size=y_hat.shape) if soft else rng.integers(0, 2, size=y_hat.shape) * 1.0
    expected = fd_gradient(lambda p: BinaryCrossEntropy().value(p, y), y_hat)
    got = BinaryCrossEntropy().derivative(y_hat, y)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-10)


def test_bce_value_against_formula_and_clipping() -> None:
    y_hat = np.array([[0.2], [0.9]])
    y = np.array([[0.0], [1.0]])
    expected = -(np.log(0.8) + np.log(0.9)) / 2
    assert BinaryCrossEntropy().value(y_hat, y) == pytest.approx(expected, rel=1e-12)
    # Saturated, confidently wrong outputs: finite thanks to the clip at 1e-12.
    saturated = np.array([[0.0], [1.0]])
    wrong = np.array([[1.0], [0.0]])
    with np.errstate(all="raise"):
        value = BinaryCrossEntropy().value(saturated, wrong)
        deriv = BinaryCrossEntropy().derivative(saturated, wrong)
    # 1 - (1 - 1e-12) is 1e-12 only to ~1e-4 relative in float64, hence the tolerance.
    assert value == pytest.approx(-np.log(1e-12), rel=1e-5)
    # The clipped loss is flat there, so its exact derivative is 0.
    np.testing.assert_array_equal(deriv, 0.0)


@pytest.mark.parametrize("target", ["indices", "onehot", "probabilities"])
def test_cross_entropy_derivative_matches_finite_difference(target: str) -> None:
    rng = np.random.default_rng(6)
    n, k = 5, 4
    y_hat = Softmax().value(rng.normal(size=(n, k)))
    labels = rng.integers(0, k, size=n)
    if target == "indices":
        y = labels
    elif target == "onehot":
        y = np.eye(k)[labels]
    else:
        y = Softmax().value(rng.normal(size=(n, k)))
    expected = fd_gradient(lambda p: CrossEntropy().value(p, y), y_hat)
    np.testing.assert_allclose(CrossEntropy().derivative(y_hat, y), expected, rtol=1e-6)


def test_cross_entropy_value_is_mean_over_samples_and_forms_agree() -> None:
    y_hat = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    labels = np.array([0, 2])
    expected = -(np.log(0.7) + np.log(0.8)) / 2
    assert CrossEntropy().value(y_hat, labels) == pytest.approx(expected, rel=1e-12)
    assert CrossEntropy().value(y_hat, np.eye(3)[labels]) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(
        CrossEntropy().derivative(y_hat, labels),
        CrossEntropy().derivative(y_hat, np.eye(3)[labels]),
    )


def test_cross_entropy_rejects_bad_targets() -> None:
    y_hat = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="class indices"):
        CrossEntropy().value(y_hat, np.array([0, 3]))
    with pytest.raises(ValueError, match="integer"):
        CrossEntropy().value(y_hat, np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        CrossEntropy().value(y_hat, np.zeros((2, 2)))


def test_loss_names() -> None:
    assert [MSE.name, BinaryCrossEntropy.name, CrossEntropy.name] == [
        "mse",
        "binary_cross_entropy",
        "cross_entropy",
    ]


# ---------------------------------------------------------------------------
# NeuralNetwork
# ---------------------------------------------------------------------------


def test_forward_pass_hand_checked() -> None:
    W0 = np.array([[0.5, -1.0], [1.0, 2.0], [-1.0, 1.0]])  # bias row, then 2 inputs
    W1 = np.array([[0.25], [2.0], [-3.0]])
    net = NeuralNetwork(2, [2, 1], [ReLU(), Identity()], MSE(), W_init=[W0, W1])
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    A_vals, Z_vals = net.forward_pass(X)
    # Row 1: A0 = [0.5 + 1 - 2, -1 + 2 + 2] = [-0.5, 3]; Z0 = [0, 3]; A1 = .25 + 0 - 9.
    # Row 2: A0 = [0.5 + 3 + 1, -1 + 6 - 1] = [4.5, 4]; Z0 = [4.5, 4]; A1 = .25 + 9 - 12.
    np.testing.assert_allclose(A_vals[0], [[-0.5, 3.0], [4.5, 4.0]])
    np.testing.assert_allclose(Z_vals[0], [[0.0, 3.0], [4.5, 4.0]])
    np.testing.assert_allclose(A_vals[1], [[-8.75], [-2.75]])
    np.testing.assert_allclose(Z_vals[1], A_vals[1])
    np.testing.assert_allclose(net.predict(X), Z_vals[-1])
    y = np.array([[-8.75], [0.25]])
    assert net.evaluate(X, y) == pytest.approx(9.0 / 2)


def test_default_init_follows_the_nn_linear_rule() -> None:
    net = NeuralNetwork(50, [40, 3], [Tanh(), Identity()], MSE(), seed=7)
    assert [w.shape for w in net.W] == [(51, 40), (41, 3)]
    assert all(w.dtype == np.float64 for w in net.W)
    for w, n_in in zip(net.W, [50, 40]):
        bound = 1 / np.sqrt(n_in)
        assert np.abs(w).max() <= bound
        # Uniform over the whole interval, biases included: the extremes are nearly hit.
        assert np.abs(w).max() > 0.9 * bound and np.abs(w[0]).max() > 0.5 * bound
    again = NeuralNetwork(50, [40, 3], [Tanh(), Identity()], MSE(), seed=7)
    other = NeuralNetwork(50, [40, 3], [Tanh(), Identity()], MSE(), seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(net.W, again.W))
    assert not np.array_equal(net.W[0], other.W[0])


def test_attributes_and_w_init_is_copied() -> None:
    W_init = [np.zeros((3, 4)), np.ones((5, 1))]
    net = NeuralNetwork(2, [4, 1], [ReLU(), Identity()], MSE(), 0.5, W_init=W_init)
    W_init[0][0, 0] = 99.0
    assert net.W[0][0, 0] == 0.0
    assert (net.n_features, net.n_layers, net.layer_sizes) == (2, 2, [4, 1])
    assert net.learning_rate == 0.5 and isinstance(net.loss, MSE)
    assert [type(a) for a in net.activations] == [ReLU, Identity]


def test_w_init_validation_names_layer_and_shapes() -> None:
    acts = [ReLU(), Identity()]
    with pytest.raises(ValueError, match=r"W_init\[1\].*\(2, 1\).*expected \(5, 1\)"):
        NeuralNetwork(2, [4, 1], acts, MSE(), W_init=[np.zeros((3, 4)), np.zeros((2, 1))])
    with pytest.raises(ValueError, match=r"W_init\[0\].*\(2, 4\).*expected \(3, 4\)"):
        NeuralNetwork(2, [4, 1], acts, MSE(), W_init=[np.zeros((2, 4)), np.zeros((5, 1))])
    with pytest.raises(ValueError, match="2 layers"):
        NeuralNetwork(2, [4, 1], acts, MSE(), W_init=[np.zeros((3, 4))])


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="one activation per layer"):
        NeuralNetwork(2, [4, 1], [ReLU()], MSE())
    with pytest.raises(ValueError, match="layer_sizes"):
        NeuralNetwork(2, [], [], MSE())
    with pytest.raises(ValueError, match="layer_sizes"):
        NeuralNetwork(2, [0], [ReLU()], MSE())
    with pytest.raises(ValueError, match="n_features"):
        NeuralNetwork(0, [1], [ReLU()], MSE())
    with pytest.raises(ValueError, match="learning_rate"):
        NeuralNetwork(2, [1], [ReLU()], MSE(), learning_rate=float("nan"))


def test_feature_count_mismatch_names_both() -> None:
    net = NeuralNetwork(4, [3, 1], [ReLU(), Identity()], MSE())
    with pytest.raises(ValueError, match=r"3 features.*n_features=4"):
        net.forward_pass(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="2-D"):
        net.forward_pass(np.zeros(4))
    with pytest.raises(ValueError, match="n_features=4"):
        net.train(np.zeros((5, 3)), np.zeros((5, 1)), 1)


def implied_gradient(net: NeuralNetwork, X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Gradient as the network applies it: (W_before - W_after) / learning_rate."""
    before = [w.copy() for w in net.W]
    A_vals, Z_vals = net.forward_pass(X)
    deltas = net.backward_pass(A_vals, net.loss.derivative(Z_vals[-1], y))
    for delta, size in zip(deltas, net.layer_sizes):
        assert delta.shape == (X.shape[0], size)
    after = net.update_weights(X, Z_vals, deltas)
    assert after is net.W
    grads = [(b - a) / net.learning_rate for b, a in zip(before, after)]
    net.W = before
    return grads


def fd_weight_gradient(net: NeuralNetwork, X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Finite-difference gradient of loss.value(forward(X)[1][-1], y) w.r.t. each W[i]."""
    grads = []
    for i in range(net.n_layers):
        original = net.W[i]

        def loss_at(w: np.ndarray, i: int = i) -> float:
            net.W[i] = w
            return net.loss.value(net.forward_pass(X)[1][-1], y)

        grads.append(fd_gradient(loss_at, original))
        net.W[i] = original
    return grads


def _regression(rng: np.random.Generator, n: int, f: int, k: int) -> tuple[np.ndarray, ...]:
    return rng.normal(size=(n, f)), rng.normal(size=(n, k))


def _classes(rng: np.random.Generator, n: int, f: int, k: int) -> tuple[np.ndarray, ...]:
    return rng.normal(size=(n, f)), rng.integers(0, k, size=n)


def _onehot(rng: np.random.Generator, n: int, f: int, k: int) -> tuple[np.ndarray, ...]:
    return rng.normal(size=(n, f)), np.eye(k)[rng.integers(0, k, size=n)]


def _binary(rng: np.random.Generator, n: int, f: int, k: int) -> tuple[np.ndarray, ...]:
    return rng.normal(size=(n, f)), rng.integers(0, 2, size=(n, k)).astype(float)


ARCHITECTURES = {
    "relu-tanh-identity-mse": (4, [5, 3, 1], [ReLU(), Tanh(), Identity()], MSE(), _regression),
    "sigmoid-leaky-mse-2out": (3, [4, 2], [Sigmoid(), LeakyReLU(0.1)], MSE(), _regression),
    "single-identity-mse": (2, [3], [Linear()], MSE(), _regression),
    "tanh-softmax-ce-indices": (4, [3, 4], [Tanh(), Softmax()], CrossEntropy(), _classes),
    "leaky-softmax-ce-onehot": (3, [5, 3], [LeakyReLU(), Softmax()], CrossEntropy(), _onehot),
    "relu-sigmoid-bce": (4, [6, 1], [ReLU(), Sigmoid()], BinaryCrossEntropy(), _binary),
    "tanh-relu-sigmoid-bce-2out": (
        3,
        [4, 4, 2],
        [Tanh(), ReLU(), Sigmoid()],
        BinaryCrossEntropy(),
        _binary,
    ),
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_update_implies_the_finite_difference_gradient(name: str) -> None:
    n_features, sizes, acts, loss, make_data = ARCHITECTURES[name]
    rng = np.random.default_rng(list(ARCHITECTURES).index(name))
    X, y = make_data(rng, 7, n_features, sizes[-1])
    net = NeuralNetwork(n_features, sizes, acts, loss, learning_rate=0.3)
    # Weights a little larger than the default so the hidden units are not all linear-ish.
    net.W = [rng.normal(scale=0.8, size=w.shape) for w in net.W]
    got = implied_gradient(net, X, y)
    expected = fd_weight_gradient(net, X, y)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert np.abs(e).max() > 1e-6, f"layer {i}: degenerate test, zero gradient"
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-8, err_msg=f"layer {i}")


class DuckTanh:
    """An activation from outside the module: value and derivative only, no backward."""

    def value(self, A: np.ndarray) -> np.ndarray:
        return np.tanh(A)

    def derivative(self, A: np.ndarray) -> np.ndarray:
        return 1 - np.tanh(A) ** 2


def test_activation_without_backward_method_uses_derivative() -> None:
    rng = np.random.default_rng(9)
    X, y = _regression(rng, 6, 3, 1)
    net = NeuralNetwork(3, [4, 1], [DuckTanh(), Identity()], MSE())  # type: ignore[list-item]
    got = implied_gradient(net, X, y)
    for g, e in zip(got, fd_weight_gradient(net, X, y)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-9)


def test_train_decreases_the_loss_on_a_well_scaled_problem(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = np.random.default_rng(10)
    X = rng.normal(size=(64, 3))
    y = np.sin(X[:, :1]) + 0.5 * X[:, 1:2] - 0.2 * X[:, 2:3] + 0.3
    net = NeuralNetwork(3, [16, 1], [Tanh(), Identity()], MSE(), learning_rate=0.05)
    W, losses = net.train(X, y, epochs=300)
    assert W is net.W
    assert len(losses) == 300 and all(isinstance(v, float) for v in losses)
    assert losses[0] == pytest.approx(
        MSE().value(NeuralNetwork(3, [16, 1], [Tanh(), Identity()], MSE()).predict(X), y)
    )
    # A small step on a smooth loss: gradient descent should go down every epoch.
    assert np.all(np.diff(losses) <= 1e-12)
    assert losses[-1] < 0.1 * losses[0]
    assert net.evaluate(X, y) < losses[-1]
    assert capsys.readouterr().out == ""


def test_train_with_zero_epochs() -> None:
    net = NeuralNetwork(1, [1], [Identity()], MSE())
    before = net.W[0].copy()
    W, losses = net.train(np.ones((2, 1)), np.ones((2, 1)), 0)
    assert losses == [] and np.array_equal(W[0], before)


# ---------------------------------------------------------------------------
# PostedNeuralNetwork
# ---------------------------------------------------------------------------


def _pair(
    sizes: list[int], acts: list[Activation], loss: Loss, seed: int = 11
) -> tuple[NeuralNetwork, PostedNeuralNetwork]:
    correct = NeuralNetwork(3, sizes, acts, loss, learning_rate=0.2, seed=seed)
    posted = PostedNeuralNetwork(3, sizes, acts, loss, learning_rate=0.2, W_init=correct.W)
    return correct, posted


def test_posted_first_layer_bias_is_frozen_but_has_a_gradient() -> None:
    rng = np.random.default_rng(12)
    X, y = _regression(rng, 8, 3, 1)
    correct, posted = _pair([4, 3, 1], [Tanh(), Sigmoid(), Identity()], MSE())
    true_grad = fd_weight_gradient(correct, X, y)
    assert np.abs(true_grad[0][0]).min() > 1e-6  # the loss does depend on every bias

    got_posted = implied_gradient(posted, X, y)
    got_correct = implied_gradient(correct, X, y)
    np.testing.assert_array_equal(got_posted[0][0], 0.0)
    # Every other row and layer is the correct update.
    np.testing.assert_allclose(got_posted[0][1:], got_correct[0][1:], rtol=1e-12)
    for g_p, g_c, e in zip(got_posted[1:], got_correct[1:], true_grad[1:]):
        np.testing.assert_allclose(g_p, g_c, rtol=1e-12)
        np.testing.assert_allclose(g_p, e, rtol=1e-5, atol=1e-9)

    bias_before = posted.W[0][0].copy()
    posted.train(X, y, epochs=20)
    np.testing.assert_array_equal(posted.W[0][0], bias_before)


def test_posted_forward_is_unchanged() -> None:
    correct, posted = _pair([4, 2], [ReLU(), Identity()], MSE())
    X = np.random.default_rng(13).normal(size=(5, 3))
    for a, b in zip(correct.forward_pass(X), posted.forward_pass(X)):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)


def test_posted_backward_uses_only_the_softmax_diagonal() -> None:
    rng = np.random.default_rng(14)
    X, y = _classes(rng, 6, 3, 3)
    correct, posted = _pair([4, 3], [Tanh(), Softmax()], CrossEntropy())
    A_vals, Z_vals = correct.forward_pass(X)
    dL = CrossEntropy().derivative(Z_vals[-1], y)
    d_correct = correct.backward_pass(A_vals, dL)
    d_posted = posted.backward_pass(A_vals, dL)
    np.testing.assert_allclose(d_posted[-1], Softmax().derivative(A_vals[-1]) * dL)
    assert not np.allclose(d_posted[-1], d_correct[-1])

    # With elementwise activations the posted deltas are the correct ones.
    correct, posted = _pair([4, 2], [Tanh(), Sigmoid()], MSE())
    A_vals, Z_vals = correct.forward_pass(X)
    dL = MSE().derivative(Z_vals[-1], rng.normal(size=(6, 2)))
    for u, v in zip(correct.backward_pass(A_vals, dL), posted.backward_pass(A_vals, dL)):
        np.testing.assert_allclose(u, v, rtol=1e-14)


def test_posted_verbose_printing(capsys: pytest.CaptureFixture[str]) -> None:
    X = np.random.default_rng(15).normal(size=(4, 3))
    y = np.ones((4, 1))
    quiet = PostedNeuralNetwork(3, [2, 1], [ReLU(), Identity()], MSE())
    assert quiet.verbose is False
    _, quiet_losses = quiet.train(X, y, epochs=2)
    assert capsys.readouterr().out == ""

    loud = PostedNeuralNetwork(3, [2, 1], [ReLU(), Identity()], MSE(), verbose=True)
    _, loud_losses = loud.train(X, y, epochs=2)
    out = capsys.readouterr().out
    for text in (
        "after calling forward pass:",
        "A_vals:",
        "Z_vals:",
        f"Epoch 0/2: Loss={loud_losses[0]}",
        "Epoch 1/2: Loss=",
        "deltas after the backward pass:",
        "weights after the update:",
    ):
        assert text in out
    assert out.count("after calling forward pass:") == 2
    assert loud_losses == quiet_losses


def test_posted_train_loss_history_differs_only_through_the_bias() -> None:
    rng = np.random.default_rng(16)
    X = rng.normal(size=(32, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 2.0
    correct, posted = _pair([8, 1], [Tanh(), Identity()], MSE())
    _, l_correct = correct.train(X, y, epochs=50)
    _, l_posted = posted.train(X, y, epochs=50)
    assert l_correct[0] == l_posted[0]
    assert l_correct[1] != l_posted[1]


@pytest.mark.parametrize("name", ["", ".activations", ".losses", ".network", ".posted", ".arrays"])
def test_module_doctests(name: str) -> None:
    module = importlib.import_module("tinygrad_mlp.manual" + name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3
    assert result.failed == 0


def test_manual_is_numpy_only() -> None:
    """The reference side imports nothing of the package outside itself (it checks autograd)."""
    for path in pathlib.Path(manual.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                allowed = ("numpy", "collections", "typing", "__future__")
                assert node.module.split(".")[0] in allowed, path
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                raise AssertionError(f"{path.name} imports from outside manual: {node.module}")
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] in ("numpy", "re") for a in node.names), path
