"""A two-layer net in the style of Stanford's CS231n assignments: examples as rows, weights
(in, out), a ReLU, the softmax cross-entropy, and the gradients by hand. Checked with
compare.check_gradients(loss_fn, params, grads).
"""

import numpy as np

rng = np.random.default_rng(5)
N, D, H, C = 20, 4, 4, 4
X = rng.standard_normal((N, D))
y = rng.integers(0, C, N)

params = {
    "W1": rng.standard_normal((D, H)) * 0.5,
    "b1": rng.standard_normal(H) * 0.1,
    "W2": rng.standard_normal((H, C)) * 0.5,
    "b2": rng.standard_normal(C) * 0.1,
}


def loss_fn(params):
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    hidden = np.maximum(0, np.dot(X, W1) + b1)
    scores = np.dot(hidden, W2) + b2
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    probs = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    return loss


def grads(params):
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    hidden = np.maximum(0, np.dot(X, W1) + b1)
    scores = np.dot(hidden, W2) + b2
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    probs = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)

    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dW2 = np.dot(hidden.T, dscores)
    db2 = np.sum(dscores, axis=0)
    dhidden = np.dot(dscores, W2.T)
    dhidden[hidden <= 0] = 0
    dW1 = np.dot(X.T, dhidden)
    db1 = np.sum(dhidden, axis=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
