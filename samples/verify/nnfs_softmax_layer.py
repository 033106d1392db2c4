"""A softmax activation layer in the "from scratch" style: forward stores its output, backward turns the
upstream gradient dvalues into self.dinputs one sample at a time through the full Jacobian.

    softgrad verify samples/verify/nnfs_softmax_layer.py:Softmax      # PASS, exit 0
"""

import numpy as np


class Softmax:
    def forward(self, inputs):
        self.inputs = inputs
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)

    def backward(self, dvalues):
        self.dinputs = np.empty_like(dvalues)
        for index, (single_output, single_dvalues) in enumerate(zip(self.output, dvalues)):
            single_output = single_output.reshape(-1, 1)
            jacobian_matrix = np.diagflat(single_output) - np.dot(single_output, single_output.T)
            self.dinputs[index] = np.dot(jacobian_matrix, single_dvalues)
