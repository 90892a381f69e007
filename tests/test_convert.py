"""Conversions between the hand-written network and nn.MLP: exact both ways, and in training."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import convert, manual, nn, optim
from tinygrad_mlp.convert import (
    ProbabilityCrossEntropyLoss,
    from_mlp,
    from_nn_loss,
    to_mlp,
    to_nn_loss,
    train_side_by_side,
)

RNG = np.random.default_rng(7)
X = RNG.normal(size=(24, 3))
Y_REG = np.sin(X[:, :1]) + 0.5 * X[:, 1:2]
LABELS = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)


def _net(acts, sizes=(5, 4, 1), loss=None, lr=0.05, seed=0):
    return manual.NeuralNetwork(3, list(sizes), acts, loss or manual.MSE(), learning_rate=lr,
                                seed=seed)


ACTIVATION_SETS = [
    [manual.ReLU(), manual.Tanh(), manual.Identity()],
    [manual.LeakyReLU(0.2), manual.Sigmoid(), manual.Identity()],
    [manual.Sigmoid(), manual.Sigmoid(), manual.Sigmoid()],
    [manual.Linear(), manual.ReLU(), manual.Tanh()],
]


@pytest.mark.parametrize("acts", ACTIVATION_SETS, ids=lambda a: "-".join(x.name for x in a))
def test_round_trip_manual_mlp_manual_is_exact(acts):
    net = _net(acts)
    model = to_mlp(net)
    assert all(p.dtype == np.float64 for p in model.parameters())
    back = from_mlp(model, loss=manual.MSE(), learning_rate=net.learning_rate)
    assert len(back.W) == len(net.W)
    for a, b in zip(back.W, net.W):
        assert np.array_equal(a, b)  # bit for bit: the conversion only moves numbers
    assert [a.name for a in back.activations] == [a.name for a in net.activations]
    # Same function: the two compute identical products, so identical outputs.
    np.testing.assert_allclose(model(tg.Tensor(X)).numpy(), net.predict(X), rtol=0, atol=1e-15)


def test_layout_bias_row_and_transposed_weight():
    net = _net([manual.ReLU(), manual.ReLU(), manual.Identity()])
    model = to_mlp(net)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for w, lin in zip(net.W, linears):
        assert np.array_equal(lin.bias.numpy(), w[0])
        assert np.array_equal(lin.weight.numpy(), w[1:].T)
        assert lin.weight.shape == (w.shape[1], w.shape[0] - 1)


def test_leaky_slope_and_mixed_hidden_activations_survive():
    net = _net([manual.LeakyReLU(0.3), manual.Tanh(), manual.Identity()])
    model = to_mlp(net)
    assert isinstance(model[1], nn.LeakyReLU) and model[1].negative_slope == 0.3
    assert isinstance(model[3], nn.Tanh)
    assert len(model) == 5  # identity output: no output module
    back = from_mlp(model)
    assert back.activations[0].negative_slope == 0.3


def test_round_trip_mlp_manual_mlp_is_exact():
    tg.manual_seed(1)
    model = nn.MLP([3, 6, 2], activation="tanh", output_activation="sigmoid").double()
    again = to_mlp(from_mlp(model, loss="bce"))
    before, after = model.state_dict(), again.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        assert np.array_equal(before[key], after[key])


def test_float32_model_and_weights_become_float64_exactly():
    tg.manual_seed(2)
    model = nn.MLP([3, 4, 1])  # float32 parameters
    net = from_mlp(model)
    assert all(w.dtype == np.float64 for w in net.W)
    assert np.array_equal(net.W[0][1:].T, model[0].weight.numpy().astype(np.float64))
    w32 = [w.astype(np.float32) for w in net.W]
    net32 = manual.NeuralNetwork(3, [4, 1], [manual.ReLU(), manual.Identity()], manual.MSE(),
                                 W_init=w32)
    assert all(p.dtype == np.float64 for p in to_mlp(net32).parameters())


def test_to_mlp_draws_no_random_numbers():
    tg.manual_seed(5)
    expected = tg.randn(4).numpy()
    tg.manual_seed(5)
    to_mlp(_net([manual.ReLU(), manual.ReLU(), manual.Identity()]))
    assert np.array_equal(tg.randn(4).numpy(), expected)


def test_posted_network_converts_too():
    net = manual.PostedNeuralNetwork(3, [4, 1], [manual.ReLU(), manual.Identity()], manual.MSE())
    model = to_mlp(net)
    np.testing.assert_allclose(model(tg.Tensor(X)).numpy(), net.predict(X), atol=1e-15)


def test_linear_without_bias_gets_a_zero_bias_row():
    tg.manual_seed(3)
    model = nn.MLP([3, 4, 1], bias=False).double()
    net = from_mlp(model)
    assert np.array_equal(net.W[0][0], np.zeros(4))
    np.testing.assert_allclose(net.predict(X), model(tg.Tensor(X)).numpy(), atol=1e-15)


def test_unconvertible_models_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="Softplus"):
        from_mlp(nn.Sequential(nn.Linear(3, 2), nn.Softplus()))
    with pytest.raises(ValueError, match="second activation"):
        from_mlp(nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Tanh()))
    with pytest.raises(ValueError, match="before the first Linear"):
        from_mlp(nn.Sequential(nn.ReLU(), nn.Linear(3, 2)))

    class Cube(manual.Activation):
        def value(self, A):
            return np.asarray(A) ** 3

    with pytest.raises(ValueError, match="Cube"):
        to_mlp(_net([Cube(), manual.ReLU(), manual.Identity()]))


def test_losses_map_both_ways_with_equal_values():
    p = 1 / (1 + np.exp(-X[:, :1]))
    target = (X[:, 1:2] > 0).astype(float)
    assert isinstance(to_nn_loss(manual.MSE()), nn.MSELoss)
    assert isinstance(to_nn_loss(manual.BinaryCrossEntropy()), nn.BCELoss)
    assert isinstance(to_nn_loss(manual.CrossEntropy()), ProbabilityCrossEntropyLoss)
    pairs = [
        (manual.MSE(), X[:, :1], Y_REG),
        (manual.BinaryCrossEntropy(), p, target),
    ]
    for loss, yhat, y in pairs:
        ours = loss.value(yhat, y)
        theirs = to_nn_loss(loss)(tg.Tensor(yhat), tg.Tensor(y)).item()
        assert ours == pytest.approx(theirs, rel=1e-12)
        assert type(from_nn_loss(to_nn_loss(loss))) is type(loss)
    probs = manual.Softmax().value(X)
    assert manual.CrossEntropy().value(probs, LABELS % 3) == pytest.approx(
        ProbabilityCrossEntropyLoss()(tg.Tensor(probs), LABELS % 3).item(), rel=1e-12)
    with pytest.raises(ValueError, match="reduction"):
        from_nn_loss(nn.MSELoss(reduction="sum"))
    with pytest.raises(ValueError, match="logits"):
        from_nn_loss(nn.CrossEntropyLoss())


def test_side_by_side_regression_agrees_to_round_off_for_many_steps():
    net = _net([manual.Tanh(), manual.ReLU(), manual.Identity()], lr=0.1)
    before = [w.copy() for w in net.W]
    run = train_side_by_side(net, X, Y_REG, epochs=300)
    assert run.agree(rtol=1e-12)
    assert max(run.max_weight_diff) < 1e-13
    assert run.mlp_losses[-1] < 0.5 * run.mlp_losses[0]
    assert all(np.array_equal(a, b) for a, b in zip(before, net.W))  # net itself untouched


def test_side_by_side_classification_softmax_and_sigmoid():
    soft = _net([manual.Tanh(), manual.Tanh(), manual.Softmax()], sizes=(6, 5, 3),
                loss=manual.CrossEntropy(), lr=0.5)
    run = train_side_by_side(soft, X, LABELS, epochs=150)
    assert run.agree(rtol=1e-11)
    assert run.manual_losses[-1] < run.manual_losses[0]
    sig = _net([manual.ReLU(), manual.Tanh(), manual.Sigmoid()], loss=manual.BinaryCrossEntropy(),
               lr=0.5)
    run = train_side_by_side(sig, X, (X[:, :1] > 0).astype(float), epochs=150)
    assert run.agree(rtol=1e-11)


def test_hand_loop_manual_network_against_mlp_with_sgd():
    """The side-by-side claim checked without the helper: manual train() vs MLP + SGD."""
    net = _net([manual.ReLU(), manual.Sigmoid(), manual.Identity()], lr=0.2, seed=4)
    model = to_mlp(net)
    opt = optim.SGD(model.parameters(), lr=0.2)
    loss_fn = nn.MSELoss()  # mean over all elements, like manual.MSE (derivative with 1/n)
    Xt, yt = tg.Tensor(X), tg.Tensor(Y_REG)
    for step in range(200):
        _, (loss_manual,) = net.train(X, Y_REG, epochs=1)
        opt.zero_grad()
        loss = loss_fn(model(Xt), yt)
        loss.backward()
        opt.step()
        assert loss.item() == pytest.approx(loss_manual, rel=1e-12, abs=1e-15), step
    for w, lin in zip(net.W, [m for m in model if isinstance(m, nn.Linear)]):
        np.testing.assert_allclose(lin.weight.numpy(), w[1:].T, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(lin.bias.numpy(), w[0], rtol=1e-11, atol=1e-14)


def test_doctests():
    result = doctest.testmod(convert, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_activations_and_losses_are_read_from_the_one_table_in_any_spelling():
    """A learner's own classes are recognised by name, as nn.activations spells them."""

    class Logistic:  # an alias of sigmoid, by class name
        def value(self, A):
            return 1 / (1 + np.exp(-np.asarray(A)))

    class MyLeaky:
        name = "Leaky-ReLU"
        negative_slope = 0.2

        def value(self, A):
            A = np.asarray(A)
            return np.where(A > 0, A, 0.2 * A)

    net = _net([Logistic(), MyLeaky(), manual.Identity()])
    model = to_mlp(net)
    assert isinstance(model[1], nn.Sigmoid) and isinstance(model[3], nn.LeakyReLU)
    assert model[3].negative_slope == 0.2
    np.testing.assert_allclose(model(tg.Tensor(X)).numpy(), net.predict(X), atol=1e-14)
    back = from_mlp(model)
    assert [type(a).__name__ for a in back.activations] == ["Sigmoid", "LeakyReLU", "Identity"]
    assert back.activations[1].negative_slope == 0.2

    class SquaredError:  # a loss by its name only
        name = "mean_squared_error"

    assert isinstance(to_nn_loss(SquaredError()), nn.MSELoss)
    assert type(from_mlp(model, loss="Binary-Cross-Entropy").loss) is manual.BinaryCrossEntropy
    with pytest.raises(ValueError, match="unknown loss name 'hinge'"):
        from_mlp(model, loss="hinge")
    with pytest.raises(ValueError, match="no nn loss for object"):
        to_nn_loss(object())
