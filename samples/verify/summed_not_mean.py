"""A batch gradient of the *summed* loss, given where the mean loss was meant (softgrad verify's default
--reduction mean): every row is N times too large. Expected diagnosis: batch_sum_not_mean."""

import numpy as np


def grad(z, t):
    z = np.atleast_2d(np.asarray(z, dtype=float))
    t = np.atleast_2d(np.asarray(t, dtype=float))
    s = np.exp(z - z.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    g = s * t.sum(axis=1, keepdims=True) - t  # forgot to divide by the batch size
    return g if g.shape[0] > 1 else g[0]
