"""A loss object in the style of a small deep-learning library: a module-level instance whose forward
computes the mean loss and keeps what backward needs; backward() returns dE/dlogits.

    softgrad verify samples/verify/library_loss.py:loss_fn      # PASS, exit 0
"""

import numpy as np


class CrossEntropyLoss:
    def forward(self, logits, target):
        logits = np.atleast_2d(logits)
        target = np.atleast_2d(target)
        shifted = logits - logits.max(axis=1, keepdims=True)
        self.probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        self.target = target
        self.squeeze = logits.shape[0] == 1 and np.ndim(target) == 1
        return -np.mean(np.sum(target * np.log(self.probs + 1e-300), axis=1))

    def backward(self):
        n = self.probs.shape[0]
        return (self.probs * self.target.sum(axis=1, keepdims=True) - self.target) / n


loss_fn = CrossEntropyLoss()
