"""The motivating question, in the style of its `df2`: a softmax Jacobian built entry by entry for each
row of a batch — right, when it is given the probabilities — and a gradient that calls it with the
logits z instead of s = softmax(z).

    softgrad verify samples/verify/df2_on_logits.py:grad   # FAIL: jacobian_at_logits, exit 1
    softgrad verify samples/verify/df2_on_logits.py:df2    # PASS when given s; says what a caller passing z gets
"""

import numpy as np


def df2(d):
    """One Jacobian diag(f) − f fᵀ per row f of the batch d, entry by entry."""

    def row_jacobian(f):
        k = len(f)
        jac = np.empty((k, k))
        for i in range(k):
            for j in range(k):
                jac[i, j] = f[i] * (1 - f[i]) if i == j else -f[i] * f[j]
        return jac

    return np.apply_along_axis(row_jacobian, 1, d)


def grad(z, t):
    z = np.atleast_2d(np.asarray(z, dtype=float))
    t = np.atleast_2d(np.asarray(t, dtype=float))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    s = e / e.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        de_ds = np.where(t == 0, 0.0, -t / s)
    jac = df2(z)  # the bug: df2 wants s = softmax(z), not z
    g = np.einsum("nj,njk->nk", de_ds, jac) / len(z)
    return g[0] if g.shape[0] == 1 else g
