"""The combined softmax activation + categorical cross-entropy of "from scratch" code: forward, then a
backward that stores dE/dz in self.dinputs. One-hot targets are turned into class indices with argmax,
which is right for hard labels and wrong for soft ones.

    softgrad verify samples/verify/nnfs_softmax_loss.py:SoftmaxCrossEntropy               # FAIL, exit 1
    softgrad verify samples/verify/nnfs_softmax_loss.py:SoftmaxCrossEntropy --targets onehot   # PASS
"""

import numpy as np


class Softmax:
    def forward(self, inputs):
        self.inputs = inputs
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)


class SoftmaxCrossEntropy:
    def __init__(self):
        self.activation = Softmax()

    def forward(self, inputs, y_true):
        self.activation.forward(inputs)
        self.output = self.activation.output
        clipped = np.clip(self.output, 1e-7, 1 - 1e-7)
        if len(y_true.shape) == 1:
            confidences = clipped[range(len(clipped)), y_true]
        else:
            confidences = np.sum(clipped * y_true, axis=1)
        return np.mean(-np.log(confidences))

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        if len(y_true.shape) == 2:  # one-hot rows become class indices
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples
