"""A gradient summed over the classes: one number per example instead of one per logit.

    softgrad verify samples/verify/wrong_shape.py:grad   # FAIL: every case reports the shape, exit 1
"""

import numpy as np


def grad(z, t):
    z = np.asarray(z, dtype=float)
    t = np.asarray(t, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    return (s * t.sum(axis=-1, keepdims=True) - t).sum(axis=-1)
