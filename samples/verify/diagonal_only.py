"""The chain rule through a softmax "derivative" s(1 − s) taken element by element, like a sigmoid's: the
off-diagonal terms −s_i s_j of the Jacobian are lost.

    softgrad verify samples/verify/diagonal_only.py:grad   # FAIL: diagonal_only, exit 1
"""

import numpy as np


def grad(z, t):
    z = np.asarray(z, dtype=float)
    t = np.asarray(t, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    de_ds = -t / s
    g = de_ds * s * (1 - s)
    return g / z.shape[0] if z.ndim == 2 else g
