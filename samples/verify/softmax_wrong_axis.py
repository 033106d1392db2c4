"""A stable softmax over axis 0: right for a single row, wrong for a batch (N, K), where it normalises
over the batch instead of over the classes.

    softgrad verify samples/verify/softmax_wrong_axis.py:softmax   # FAIL on the batch case, exit 1
"""

import numpy as np


def softmax(z):
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)
