"""A gradient method on a loss class, for a summed (not averaged) batch loss.

    softgrad verify samples/verify/summed_method.py:SoftmaxCrossEntropy.grad                    # PASS (sum detected)
    softgrad verify samples/verify/summed_method.py:SoftmaxCrossEntropy.grad --reduction mean   # FAIL, exit 1
"""

import numpy as np


class SoftmaxCrossEntropy:
    def __init__(self, eps=1e-12):
        self.eps = eps

    def softmax(self, z):
        e = np.exp(z - np.max(z, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)

    def grad(self, z, t):
        return self.softmax(z) * np.sum(t, axis=-1, keepdims=True) - t
