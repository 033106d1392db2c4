"""The softmax layer's backward on its own, correct: given s = softmax(z) and an upstream gradient
g = dE/ds, return dE/dz = J(s)ᵀ·g = s⊙g − (g·s)·s, without building the K×K Jacobian.

    softgrad verify samples/verify/correct_backward.py:softmax_backward   # PASS, exit 0
"""

import numpy as np


def softmax_backward(s, upstream):
    s = np.asarray(s)
    g = np.asarray(upstream)
    return s * g - np.sum(g * s, axis=-1, keepdims=True) * s
