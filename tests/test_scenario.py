"""The posted network's scenario: its data, its reconstructed loss, the fixed twin."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from tinygrad_mlp import diagnose, manual, scenario


def test_posted_mse_derivative_is_n_times_the_gradient_of_its_printed_value():
    rng = np.random.default_rng(0)
    y_hat, y = rng.normal(size=(7, 1)), rng.normal(size=(7, 1))
    loss = scenario.PostedMSE()
    h = 1e-6
    numeric = np.zeros_like(y_hat)
    for i in range(7):
        up, down = y_hat.copy(), y_hat.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (loss.value(up, y) - loss.value(down, y)) / (2 * h)
    np.testing.assert_allclose(loss.derivative(y_hat, y), 7 * numeric, rtol=1e-6)
    assert loss.value(y_hat, y) == manual.MSE().value(y_hat, y)
    # A 1-D target is taken as the column it stands for, not broadcast to (n, n).
    assert loss.derivative(y_hat, y.ravel()).shape == (7, 1)


def test_posted_and_fixed_setups_share_their_initial_weights():
    posted, X, y = scenario.posted_setup()
    fixed, Xs, ys = scenario.fixed_setup()
    assert isinstance(posted, manual.PostedNeuralNetwork) and type(fixed) is manual.NeuralNetwork
    assert all(np.array_equal(a, b) for a, b in zip(posted.W, fixed.W))
    assert X.shape == (442, 10) and y.shape == (442, 1) and 25 <= y.min() < y.max() <= 346
    np.testing.assert_allclose(Xs.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Xs.std(0), 1, rtol=1e-12)
    np.testing.assert_allclose(ys, (y - y.mean()) / y.std(), rtol=1e-12)
    assert posted.learning_rate == 0.01 and fixed.learning_rate == 0.1
    # Each call builds fresh objects: changing one changes no other.
    posted.W[0][0, 0] = 1e6
    assert scenario.posted_setup()[0].W[0][0, 0] != 1e6


def test_setup_by_name_and_the_names_diagnose_keeps():
    assert type(scenario.setup("fixed")[0]) is manual.NeuralNetwork
    with pytest.raises(ValueError, match="'posted' or 'fixed', got 'mine'"):
        scenario.setup("mine")
    assert scenario.diabetes_feature_names()[:3] == ["age", "sex", "bmi"]
    # The README and the examples import these from diagnose.
    assert diagnose.PostedMSE is scenario.PostedMSE
    assert diagnose.posted_setup is scenario.posted_setup
    assert diagnose.fixed_setup is scenario.fixed_setup
