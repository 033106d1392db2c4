"""The fused gradient s·Σt − t with a softmax that does not subtract the max logit: exp overflows for
logits above about 709 and the gradient is NaN.

    softgrad verify samples/verify/no_max_shift.py:grad   # FAIL: no_max_shift, exit 1
"""

import numpy as np


def grad(z, t):
    z = np.asarray(z, dtype=float)
    t = np.asarray(t, dtype=float)
    e = np.exp(z)
    s = e / e.sum(axis=-1, keepdims=True)
    g = s * t.sum(axis=-1, keepdims=True) - t
    return g / z.shape[0] if z.ndim == 2 else g
