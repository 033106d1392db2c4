"""A softmax Jacobian that keeps only the diagonal s(1 − s), as if softmax were applied element by element
like a sigmoid.

    softgrad verify samples/verify/jacobian_diagonal_only.py:jacobian   # FAIL: diagonal_only, exit 1
"""

import numpy as np


def jacobian(s):
    s = np.asarray(s, dtype=float)
    d = s * (1 - s)
    return d[..., :, None] * np.eye(s.shape[-1])
