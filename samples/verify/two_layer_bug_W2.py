"""A two-layer relu network whose W2 gradient leaves out the regulariser's 2·reg·W2 (W1, b1, b2 are right):
only W2 fails, and only where reg ≠ 0 (verify --kind loss-and-grad: reg_gradient_missing on W2, exit 1).

    softgrad verify samples/verify/two_layer_bug_W2.py:two_layer_loss
"""

import numpy as np


def two_layer_loss(params, X, y, reg):
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    num = X.shape[0]
    hidden = np.maximum(X.dot(W1) + b1, 0)
    scores = hidden.dot(W2) + b2
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(log_probs[np.arange(num), y]) / num + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dscores = np.exp(log_probs)
    dscores[np.arange(num), y] -= 1
    dscores /= num
    grads = {}
    grads["W2"] = hidden.T.dot(dscores)  # + 2 * reg * W2 forgotten
    grads["b2"] = np.sum(dscores, axis=0)
    dhidden = dscores.dot(W2.T) * (hidden > 0)
    grads["W1"] = X.T.dot(dhidden) + 2 * reg * W1
    grads["b1"] = np.sum(dhidden, axis=0)
    return loss, grads
