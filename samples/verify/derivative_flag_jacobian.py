"""A softmax whose derivative flag returns the full Jacobian diag(s) − s sᵀ (one per row for a batch).

    softgrad verify samples/verify/derivative_flag_jacobian.py:softmax    # PASS, exit 0 (both calls)
"""

import numpy as np


def softmax(z, return_deriv=False):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    s = e / np.sum(e, axis=-1, keepdims=True)
    if not return_deriv:
        return s
    eye = np.eye(s.shape[-1])
    return s[..., :, None] * eye - s[..., :, None] * s[..., None, :]
