"""A batch gradient whose softmax divides by the sum over the whole array (np.sum(e) with no axis), not
over each row: right for one example, wrong for a batch.

    softgrad verify samples/verify/softmax_all_elements.py:grad   # FAIL: softmax_over_all_elements, exit 1
"""

import numpy as np


def grad(z, t):
    e = np.exp(z - np.max(z))
    s = e / np.sum(e)
    g = s * t.sum(axis=-1, keepdims=True) - t
    return g / z.shape[0] if z.ndim == 2 else g
