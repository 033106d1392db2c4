"""Targets first, then the predictions (which here are the raw scores, whatever the name says).

    softgrad verify samples/verify/targets_first.py:compute_gradient    # PASS, exit 0
"""

import numpy as np


def compute_gradient(y_true, y_pred):
    exps = np.exp(y_pred - np.max(y_pred, axis=-1, keepdims=True))
    probs = exps / np.sum(exps, axis=-1, keepdims=True)
    return probs * np.sum(y_true, axis=-1, keepdims=True) - y_true
