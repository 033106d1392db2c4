"""The shortcut s − t, which is right only when the targets sum to 1.

    softgrad verify samples/verify/assumes_one_hot.py:grad   # FAIL: assumes_one_hot, exit 1
"""

import numpy as np


def grad(z, t):
    z = np.asarray(z, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    g = s - np.asarray(t, dtype=float)
    return g / z.shape[0] if z.ndim == 2 else g
