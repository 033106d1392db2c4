"""The loss half of a separately chained softmax + cross-entropy: dE/ds = −t/s for the mean loss over a
batch; the softmax layer's own backward multiplies it with the Jacobian.

    softgrad verify samples/verify/loss_backward.py:cross_entropy_backward     # PASS, exit 0 (loss-backward)
"""


def cross_entropy_backward(probs, targets):
    n = probs.shape[0] if probs.ndim == 2 else 1
    return -targets / probs / n
