"""Ng's 2-layer network of the checker's catalogue (tests/conventions/ng_planar.py) with the
tanh hidden layer swapped for a ReLU, as a learner tries it: the forward and backward pass.

Written the way a learner writes it, for the diagnosis tests; nothing here knows tinygrad_mlp.
"""

import numpy as np


def forward_propagation_relu(X, parameters):
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    A1 = np.maximum(0, Z1)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    A2 = 1 / (1 + np.exp(-Z2))
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def backward_propagation_relu(parameters, cache, X, Y):
    m = X.shape[1]
    dZ2 = cache["A2"] - Y
    dW2 = np.dot(dZ2, cache["A1"].T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = np.dot(parameters["W2"].T, dZ2)
    dZ1 = dA1 * (cache["Z1"] > 0)
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
