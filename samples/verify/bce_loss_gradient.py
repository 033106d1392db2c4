"""A loss class in the style of "machine learning from scratch" repositories: gradient(y, p) is the
derivative of the loss with respect to the predicted probabilities p — here the binary cross-entropy's,
used after a softmax, where the categorical cross-entropy's −y/p belongs.

    softgrad verify samples/verify/bce_loss_gradient.py:CrossEntropy.gradient   # FAIL: binary_ce_through_softmax
"""

import numpy as np


class CrossEntropy:
    def loss(self, y, p):
        p = np.clip(p, 1e-15, 1 - 1e-15)
        return -y * np.log(p) - (1 - y) * np.log(1 - p)

    def gradient(self, y, p):
        return -(y / p) + (1 - y) / (1 - p)
