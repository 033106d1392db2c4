"""The chain rule with the softmax Jacobian taken as diag(s): the − s sᵀ term is dropped, and the result
is −t whatever the logits.

    softgrad verify samples/verify/missing_outer_term.py:grad   # FAIL: missing_outer_term, exit 1
"""

import numpy as np


def grad(z, t):
    z = np.asarray(z, dtype=float)
    t = np.asarray(t, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    g = (-t / s) * s
    return g / z.shape[0] if z.ndim == 2 else g
