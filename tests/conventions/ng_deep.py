"""An L-layer network in Andrew Ng's deeplearning.ai convention, as the "Building your Deep
Neural Network: Step by Step" assignment has it: [LINEAR -> RELU] * (L-1) -> LINEAR ->
SIGMOID, caches of ((A_prev, W, b), Z), and L_model_backward(AL, Y, caches) -> grads with
dA{l}, dW{l}, db{l}.

The activations of the hidden layers and of the output are arguments with the course's
defaults, as learners add them when they try tanh or a softmax; the cost follows the
output: cross-entropy for a sigmoid or a softmax, the mean squared error for "identity".
X is (n_x, m); Y is (n_y, m).
"""

import numpy as np


def initialize_parameters_deep(layer_dims):
    rng = np.random.default_rng(3)
    parameters = {}
    L = len(layer_dims)
    for l in range(1, L):
        parameters["W" + str(l)] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) / np.sqrt(layer_dims[l - 1])
        parameters["b" + str(l)] = rng.standard_normal((layer_dims[l], 1)) * 0.1
    return parameters


def sigmoid(Z):
    A = 1 / (1 + np.exp(-Z))
    cache = Z
    return A, cache


def relu(Z):
    A = np.maximum(0, Z)
    cache = Z
    return A, cache


def tanh(Z):
    A = np.tanh(Z)
    cache = Z
    return A, cache


def softmax(Z):
    e = np.exp(Z - np.max(Z, axis=0, keepdims=True))
    A = e / np.sum(e, axis=0, keepdims=True)
    cache = Z
    return A, cache


def identity(Z):
    return Z, Z


def linear_forward(A, W, b):
    Z = np.dot(W, A) + b
    cache = (A, W, b)
    return Z, cache


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    functions = {"sigmoid": sigmoid, "relu": relu, "tanh": tanh, "softmax": softmax,
                 "identity": identity}
    A, activation_cache = functions[activation](Z)
    cache = (linear_cache, activation_cache)
    return A, cache


def L_model_forward(X, parameters, hidden="relu", output="sigmoid"):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A_prev = A
        A, cache = linear_activation_forward(A_prev, parameters["W" + str(l)], parameters["b" + str(l)], hidden)
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], output)
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y, output="sigmoid"):
    m = Y.shape[1]
    if output == "sigmoid":
        cost = (-1 / m) * np.sum(np.multiply(Y, np.log(AL)) + np.multiply(1 - Y, np.log(1 - AL)))
    elif output == "softmax":
        cost = (-1 / m) * np.sum(Y * np.log(AL))
    else:
        cost = (1 / m) * np.sum((AL - Y) ** 2)
    cost = np.squeeze(cost)
    return cost


def relu_backward(dA, cache):
    Z = cache
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


def sigmoid_backward(dA, cache):
    Z = cache
    s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)
    return dZ


def tanh_backward(dA, cache):
    Z = cache
    dZ = dA * (1 - np.tanh(Z) ** 2)
    return dZ


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = 1 / m * np.dot(dZ, A_prev.T)
    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def linear_activation_backward(dA, cache, activation):
    linear_cache, activation_cache = cache
    if activation == "relu":
        dZ = relu_backward(dA, activation_cache)
    elif activation == "tanh":
        dZ = tanh_backward(dA, activation_cache)
    elif activation == "sigmoid":
        dZ = sigmoid_backward(dA, activation_cache)
    else:
        dZ = dA
    dA_prev, dW, db = linear_backward(dZ, linear_cache)
    return dA_prev, dW, db


def L_model_backward(AL, Y, caches, hidden="relu", output="sigmoid"):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    current_cache = caches[L - 1]
    if output == "sigmoid":
        dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
        grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_activation_backward(dAL, current_cache, "sigmoid")
    elif output == "softmax":
        dZL = AL - Y
        grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_backward(dZL, current_cache[0])
    else:
        dAL = 2 * (AL - Y)
        grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_activation_backward(dAL, current_cache, "identity")

    for l in reversed(range(L - 1)):
        current_cache = caches[l]
        dA_prev_temp, dW_temp, db_temp = linear_activation_backward(grads["dA" + str(l + 1)], current_cache, hidden)
        grads["dA" + str(l)] = dA_prev_temp
        grads["dW" + str(l + 1)] = dW_temp
        grads["db" + str(l + 1)] = db_temp
    return grads


def update_parameters(params, grads, learning_rate):
    parameters = params.copy()
    L = len(parameters) // 2
    for l in range(L):
        parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - learning_rate * grads["dW" + str(l + 1)]
        parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - learning_rate * grads["db" + str(l + 1)]
    return parameters
