"""A softmax layer whose backward borrows the sigmoid's derivative s(1 − s): element by element, the
off-diagonal terms of the Jacobian lost. The result goes to self.grad.

    softgrad verify samples/verify/sigmoid_style_layer.py:SoftmaxLayer    # FAIL: diagonal_only, exit 1
"""

import numpy as np


class SoftmaxLayer:
    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        self.out = e / e.sum(axis=-1, keepdims=True)
        return self.out

    def backward(self, grad_output):
        self.grad = grad_output * self.out * (1 - self.out)
