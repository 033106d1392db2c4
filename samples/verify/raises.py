"""A gradient that raises on every call: the sum is taken over an axis the arrays do not have.

    softgrad verify samples/verify/raises.py:grad   # FAIL: every case reports the AxisError, exit 1
"""

import numpy as np


def grad(z, t):
    e = np.exp(z - np.max(z))
    s = e / np.sum(e, axis=2)
    return s - t
