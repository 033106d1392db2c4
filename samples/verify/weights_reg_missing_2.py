"""The loss is regularised with reg·‖W‖², but its gradient adds reg·W: the 2 of d(reg·W²)/dW = 2·reg·W is
missing (verify: reg_gradient_factor, exit 1).

    softgrad verify samples/verify/weights_reg_missing_2.py:softmax_loss_vectorized
"""

import numpy as np


def softmax_loss_vectorized(W, X, y, reg):
    N = X.shape[0]
    scores = X.dot(W)
    scores -= np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    loss = np.sum(-np.log(probs[range(N), y])) / N
    loss += reg * np.sum(W * W)
    probs[range(N), y] -= 1
    dW = X.T.dot(probs) / N
    dW += reg * W  # should be 2 * reg * W for reg * sum(W * W)
    return loss, dW
