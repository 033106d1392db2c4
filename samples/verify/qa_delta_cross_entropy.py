"""The gradient as a popular Q&A answer gives it, for integer labels, with the softmax written without
the max shift: large logits overflow.

    softgrad verify samples/verify/qa_delta_cross_entropy.py:delta_cross_entropy    # FAIL: no_max_shift, exit 1
"""

import numpy as np


def softmax(X):
    exps = np.exp(X)
    return exps / np.sum(exps, axis=1, keepdims=True)


def delta_cross_entropy(X, y):
    m = y.shape[0]
    grad = softmax(X)
    grad[range(m), y] -= 1
    grad = grad / m
    return grad
