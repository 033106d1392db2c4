"""A correct softmax Jacobian ds/dz = diag(s) − s sᵀ, written in terms of the probabilities s, for one
row (K,) -> (K, K) or a batch (N, K) -> (N, K, K).

    softgrad verify samples/verify/correct_jacobian.py:softmax_jacobian    # PASS when given s, exit 0
"""

import numpy as np


def softmax_jacobian(s):
    s = np.asarray(s, dtype=float)
    return s[..., :, None] * np.eye(s.shape[-1]) - s[..., :, None] * s[..., None, :]
