"""A softmax loss whose loss value is summed over the examples while its gradient is averaged: dW is right,
the loss is N times too large in its data term (verify: loss_not_mean, exit 1).

    softgrad verify samples/verify/weights_loss_not_mean.py:softmax_loss_naive
"""

import numpy as np


def softmax_loss_naive(W, X, y, reg):
    loss = 0.0
    dW = np.zeros_like(W)
    num_train = X.shape[0]
    for i in range(num_train):
        scores = X[i] @ W
        scores -= scores.max()
        probs = np.exp(scores) / np.exp(scores).sum()
        loss += -np.log(probs[y[i]])
        probs[y[i]] -= 1
        dW += np.outer(X[i], probs)
    dW /= num_train  # the loss is not divided by num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return loss, dW
