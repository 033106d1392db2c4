"""A two-layer network with a sigmoid hidden layer whose backward pass applies sigmoid' to the activation
a = sigmoid(z) instead of to z: W1 and b1 are wrong, W2 and b2 right (verify --kind loss-and-grad: the
finite differences of its own loss disagree; named sigma_prime_at_activation, exit 1).

    softgrad verify samples/verify/two_layer_sigma_prime_at_activation.py:loss
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_prime(x):
    return sigmoid(x) * (1.0 - sigmoid(x))


def loss(params, X, y, reg=0.0):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    n = len(y)
    a1 = sigmoid(X @ W1 + b1)
    z2 = a1 @ W2 + b2
    z2 = z2 - z2.max(axis=1, keepdims=True)
    p = np.exp(z2) / np.exp(z2).sum(axis=1, keepdims=True)
    L = -np.mean(np.log(p[np.arange(n), y])) + reg * (np.sum(W1**2) + np.sum(W2**2))
    delta2 = p.copy()
    delta2[np.arange(n), y] -= 1
    delta2 /= n
    delta1 = (delta2 @ W2.T) * sigmoid_prime(a1)  # should be sigmoid_prime(X @ W1 + b1)
    grads = {
        "W1": X.T @ delta1 + 2 * reg * W1,
        "b1": delta1.sum(axis=0),
        "W2": a1.T @ delta2 + 2 * reg * W2,
        "b2": delta2.sum(axis=0),
    }
    return L, grads
