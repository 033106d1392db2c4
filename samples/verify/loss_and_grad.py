"""A loss function that returns the loss and its gradient together, as (loss, grad).

    softgrad verify samples/verify/loss_and_grad.py:cross_entropy     # PASS, exit 0 (item 1 is the gradient)
"""

import numpy as np


def cross_entropy(logits, targets):
    m = logits.max(axis=-1, keepdims=True)
    log_z = m + np.log(np.sum(np.exp(logits - m), axis=-1, keepdims=True))
    log_p = logits - log_z
    loss = -np.sum(targets * log_p)
    grad = np.exp(log_p) * targets.sum(axis=-1, keepdims=True) - targets
    return loss, grad
