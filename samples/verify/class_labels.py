"""The gradient of the mean cross-entropy for integer class labels, as course notebooks write it.

    softgrad verify samples/verify/class_labels.py:softmax_cross_entropy_grad    # PASS, exit 0
"""

import numpy as np


def softmax_cross_entropy_grad(logits, labels):
    logits = np.atleast_2d(logits)
    labels = np.atleast_1d(labels)
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    probs[np.arange(n), labels] -= 1.0
    return probs / n
