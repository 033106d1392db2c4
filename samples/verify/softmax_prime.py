"""An element-wise "derivative" of the softmax, as for a sigmoid: given s = softmax(z), s(1 − s), meant to
be multiplied with the upstream gradient element by element.

    softgrad verify samples/verify/softmax_prime.py:softmax_prime    # FAIL: diagonal_only, exit 1
"""


def softmax_prime(s):
    return s * (1 - s)
