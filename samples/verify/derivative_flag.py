"""An activation written the way sigmoid-style tutorials write theirs: softmax(x) forward, and
softmax(x, derivative=True) the "derivative" s(1 − s) that the network multiplies with the upstream
gradient. The softmax is right; the flagged call leaves out the off-diagonal terms of the Jacobian.

    softgrad verify samples/verify/derivative_flag.py:softmax     # FAIL: diagonal_only (the flagged call), exit 1
"""

import numpy as np


def softmax(x, derivative=False):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    s = e / np.sum(e, axis=-1, keepdims=True)
    if derivative:
        return s * (1 - s)
    return s
