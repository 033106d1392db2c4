"""The textbook chain rule (−t/s)·J(s) with the Jacobian built explicitly: right, until a target sits on a
class whose probability underflows to 0 — then −t/s is infinite and the gradient is NaN.

    softgrad verify samples/verify/chained_underflow.py:grad   # FAIL: chained_underflow, exit 1
"""

import numpy as np


def grad(z, t):
    z = np.asarray(z, dtype=float)
    t = np.asarray(t, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    jac = s[..., :, None] * np.eye(s.shape[-1]) - s[..., :, None] * s[..., None, :]
    de_ds = -t / s
    g = np.einsum("...j,...jk->...k", de_ds, jac)
    return g / z.shape[0] if z.ndim == 2 else g
