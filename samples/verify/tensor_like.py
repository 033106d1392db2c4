"""A gradient written for a small tensor class (as framework code returns tensors): softgrad reads the
values through __array__.

    softgrad verify samples/verify/tensor_like.py:grad      # PASS, exit 0
"""

import numpy as np


class Tensor:
    def __init__(self, data):
        self.data = np.asarray(data, dtype=float)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self):
        return f"Tensor({self.data!r})"


def grad(z, t):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    g = s * t.sum(axis=-1, keepdims=True) - t
    return Tensor(g / z.shape[0] if z.ndim == 2 else g)
