"""A softmax loss whose dW is laid out C×D, as if W were (C, D): the transpose of the gradient. With D = C
the shapes agree and only the values tell (verify: dW_transposed, exit 1).

    softgrad verify samples/verify/weights_transposed.py:softmax_loss_naive
"""

import numpy as np


def softmax_loss_naive(W, X, y, reg):
    num_train, dim = X.shape
    num_classes = W.shape[1]
    loss = 0.0
    dW = np.zeros((num_classes, dim))  # one row per class
    for i in range(num_train):
        f = X[i] @ W
        f -= f.max()
        p = np.exp(f) / np.sum(np.exp(f))
        loss -= np.log(p[y[i]])
        for j in range(num_classes):
            dW[j] += (p[j] - (j == y[i])) * X[i]
    loss = loss / num_train + reg * np.sum(W * W)
    dW = dW / num_train + 2 * reg * W.T
    return loss, dW
