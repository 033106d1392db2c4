"""Examples are columns, as in courses that write Z of shape (classes, examples): the softmax is taken
down each column and the gradient of the mean loss is (A − Y) / m.

    softgrad verify samples/verify/columns_course.py:softmax_backward      # PASS, exit 0 (layout columns)
"""

import numpy as np


def softmax_backward(Z, Y):
    A = np.exp(Z - np.max(Z, axis=0, keepdims=True))
    A = A / np.sum(A, axis=0, keepdims=True)
    m = Y.shape[1]
    return (A * np.sum(Y, axis=0, keepdims=True) - Y) / m
