"""A correct, stable softmax over the last axis, for one row (K,) or a batch (N, K).

    softgrad verify samples/verify/correct_softmax.py:softmax   # PASS, exit 0
"""

import numpy as np


def softmax(z):
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
