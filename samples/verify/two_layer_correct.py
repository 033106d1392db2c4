"""A correct two-layer network's loss, the course layout: params = {W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)},
X (N, D), y (N,) class indices, relu hidden layer, mean cross-entropy + reg·(‖W1‖² + ‖W2‖²).

    softgrad verify samples/verify/two_layer_correct.py:loss   # loss-and-grad, right, exit 0
"""

import numpy as np


def loss(params, X, y, reg):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    h = np.maximum(0, X @ W1 + b1)
    scores = h @ W2 + b2
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    data_loss = -np.log(probs[np.arange(N), y]).mean()
    total = data_loss + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

    dscores = probs
    dscores[np.arange(N), y] -= 1
    dscores /= N
    grads = {"W2": h.T @ dscores + 2 * reg * W2, "b2": dscores.sum(axis=0)}
    dh = dscores @ W2.T
    dh[h <= 0] = 0
    grads["W1"] = X.T @ dh + 2 * reg * W1
    grads["b1"] = dh.sum(axis=0)
    return total, grads
