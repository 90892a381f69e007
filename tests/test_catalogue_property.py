"""Correct networks of random sizes and activations are never flagged (hypothesis).

Whatever the reference (exact through the NumPy protocol, or finite differences where the
engine cannot run NumPy code on Tensors), a network whose backprop is right must pass.
"""

from __future__ import annotations

import functools

import numpy as np
from catalogue import load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_mlp.compare import check_backprop, check_gradients

NG_DEEP = load("ng_deep")
NIELSEN = {"network": load("nielsen_network"), "network2": load("nielsen_network2")}
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def deep_networks(draw):
    depth = draw(st.integers(1, 3))
    hidden = draw(st.sampled_from(["relu", "tanh", "sigmoid"]))
    output = draw(st.sampled_from(["sigmoid", "softmax", "identity"]))
    dims = [draw(st.integers(1, 5)) for _ in range(depth)]
    dims.append(draw(st.integers(2 if output == "softmax" else 1, 4)))
    m = draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2 ** 16))
    return dims, hidden, output, m, seed


@SETTINGS
@given(deep_networks())
def test_a_correct_deep_network_is_never_flagged(case):
    dims, hidden, output, m, seed = case
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dims[0], m))
    if output == "softmax":
        Y = np.eye(dims[-1])[rng.integers(0, dims[-1], m)].T
    elif output == "sigmoid":
        Y = (rng.random((dims[-1], m)) < 0.5).astype(float)
    else:
        Y = rng.standard_normal((dims[-1], m))
    parameters = NG_DEEP.initialize_parameters_deep(dims)
    report = check_backprop(
        parameters, X, Y,
        forward=functools.partial(NG_DEEP.L_model_forward, hidden=hidden, output=output),
        backward=functools.partial(NG_DEEP.L_model_backward, hidden=hidden, output=output),
        cost=functools.partial(NG_DEEP.compute_cost, output=output),
        update=NG_DEEP.update_parameters, learning_rate=0.05)
    assert report.ok, str(report)


@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=2, max_size=4), st.integers(1, 7),
       st.sampled_from(["network", "network2 cross-entropy", "network2 quadratic"]),
       st.integers(0, 2 ** 16))
def test_a_correct_nielsen_network_is_never_flagged(sizes, n, which, seed):
    module = NIELSEN[which.split()[0]]
    if which.endswith("quadratic"):
        net = module.Network(sizes, cost=module.QuadraticCost)
    else:
        net = module.Network(sizes)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]))
    y = (rng.random((n, sizes[-1])) < 0.5).astype(float)
    report = check_backprop(net, X, y)
    assert report.ok, str(report)


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 6), st.integers(2, 10), st.integers(0, 2 ** 16),
       st.sampled_from(["rows", "columns"]))
def test_correct_free_form_gradients_are_never_flagged(n_in, n_hidden, m, seed, layout):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((m, n_in)), rng.standard_normal((m, 1))
    rows = layout == "rows"
    params = {"W": rng.standard_normal((n_in, n_hidden) if rows else (n_hidden, n_in)),
              "v": rng.standard_normal((n_hidden, 1) if rows else (1, n_hidden))}

    def loss_fn(p):
        h = np.tanh(X @ p["W"]) if rows else np.tanh(p["W"] @ X.T)
        out = h @ p["v"] if rows else (p["v"] @ h).T
        return np.mean((out - y) ** 2)

    def grads(p):
        h = np.tanh(X @ p["W"]) if rows else np.tanh(p["W"] @ X.T)
        out = h @ p["v"] if rows else (p["v"] @ h).T
        d_out = 2 * (out - y) / m
        if rows:
            dv = h.T @ d_out
            dW = X.T @ ((d_out @ p["v"].T) * (1 - h ** 2))
        else:
            dv = d_out.T @ h.T
            dW = ((p["v"].T @ d_out.T) * (1 - h ** 2)) @ X
        return {"dW": dW, "dv": dv}

    report = check_gradients(loss_fn, params, grads)
    assert report.ok, str(report)
