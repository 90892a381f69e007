"""Nielsen's network.py of the checker's catalogue (tests/conventions/nielsen_network.py) as
a learner adapts it for regression: ReLU hidden layers and a linear output layer; the
quadratic cost, update_mini_batch and SGD are the book's.

Written the way a learner writes it, for the diagnosis tests; nothing here knows tinygrad_mlp.
"""

import numpy as np
from nielsen_network import Network as SigmoidNetwork


def relu(z):
    return np.maximum(z, 0)


def relu_prime(z):
    return (z > 0).astype(float)


class Network(SigmoidNetwork):

    def __init__(self, sizes, seed=0):
        super().__init__(sizes)
        rng = np.random.default_rng(seed)
        self.biases = [np.zeros((y, 1)) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)) * np.sqrt(2.0 / x)
                        for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases[:-1], self.weights[:-1]):
            a = relu(np.dot(w, a) + b)
        return np.dot(self.weights[-1], a) + self.biases[-1]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for i, (b, w) in enumerate(zip(self.biases, self.weights)):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = relu(z) if i < len(self.weights) - 1 else z
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * relu_prime(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)
