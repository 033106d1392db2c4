"""A correct dE/dz for softmax + cross-entropy: one example (K,) or a batch (N, K) whose loss is the mean
over its rows.

    softgrad verify samples/verify/correct_grad.py:grad          # PASS, exit 0
"""

import numpy as np


def grad(z, t):
    z = np.asarray(z, dtype=float)
    t = np.asarray(t, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))  # shift by the max: no overflow
    s = e / e.sum(axis=-1, keepdims=True)
    g = s * t.sum(axis=-1, keepdims=True) - t  # also right for soft and unnormalised targets
    return g / z.shape[0] if z.ndim == 2 else g
