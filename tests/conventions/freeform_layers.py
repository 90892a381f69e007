"""A regression net as a list of layers [[W, b], ...]: examples as rows, a tanh hidden
layer, a linear output, the mean squared error, and the gradients by hand in the same nested
list. Checked with compare.check_gradients(loss_fn, params, grads).
"""

import numpy as np

rng = np.random.default_rng(9)
N, D, H, K = 16, 3, 3, 3
x = rng.standard_normal((N, D))
y = rng.standard_normal((N, K))

params = [
    [rng.standard_normal((D, H)) * 0.7, rng.standard_normal(H) * 0.1],
    [rng.standard_normal((H, K)) * 0.7, rng.standard_normal(K) * 0.1],
]


def loss_fn(params):
    (W1, b1), (W2, b2) = params
    z1 = x @ W1 + b1
    a1 = np.tanh(z1)
    out = a1 @ W2 + b2
    return np.mean(np.sum((out - y) ** 2, axis=1))


def grads(params):
    (W1, b1), (W2, b2) = params
    z1 = x @ W1 + b1
    a1 = np.tanh(z1)
    out = a1 @ W2 + b2

    dout = 2 * (out - y) / N
    dW2 = a1.T @ dout
    db2 = dout.sum(axis=0)
    da1 = dout @ W2.T
    dz1 = da1 * (1 - a1 ** 2)
    dW1 = x.T @ dz1
    db1 = dz1.sum(axis=0)
    return [[dW1, db1], [dW2, db2]]
