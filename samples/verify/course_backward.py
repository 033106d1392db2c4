"""A course assignment's backward: given the softmax probabilities and one-hot targets, the shortcut
(probs − y) / m, which is right only when every row of targets sums to 1.

    softgrad verify samples/verify/course_backward.py:softmax_cross_entropy_backward                  # FAIL
    softgrad verify samples/verify/course_backward.py:softmax_cross_entropy_backward --targets onehot # PASS
"""


def softmax_cross_entropy_backward(probs, y_onehot):
    m = probs.shape[0] if probs.ndim == 2 else 1
    return (probs - y_onehot) / m
