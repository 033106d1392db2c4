"""A correct softmax loss with the other regularisation convention, ½·reg·‖W‖² (so dW gets + reg·W), and
one-hot targets Y (N, C) instead of class indices. verify reads the convention from the loss it returns
and the targets' form from how it takes them.

    softgrad verify samples/verify/weights_half_reg.py:softmax_loss   # right, exit 0
"""

import numpy as np


def softmax_loss(W, X, y, reg):
    logits = X @ W
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    n = X.shape[0]
    loss = -np.sum(y * log_probs) / n + 0.5 * reg * np.sum(W**2)
    dW = X.T @ (np.exp(log_probs) - y) / n + reg * W
    return loss, dW
