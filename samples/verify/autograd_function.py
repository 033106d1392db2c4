"""A custom autograd function in the style of framework extensions, written with numpy: static forward
and backward that take a context first; forward saves s, backward reads it back.

    softgrad verify samples/verify/autograd_function.py:SoftmaxFunction    # PASS, exit 0
"""

import numpy as np


class SoftmaxFunction:
    @staticmethod
    def forward(ctx, logits):
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        s = e / e.sum(axis=-1, keepdims=True)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_output):
        (s,) = ctx.saved_tensors
        return s * (grad_output - (grad_output * s).sum(axis=-1, keepdims=True))
