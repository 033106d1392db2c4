"""The ten-line numpy script a user would write instead of softgrad batch (the issue's comparison):
loadtxt, the fused formula, isclose. No finite difference, no chained product, no diagnosis.

python benchmarks/user_script.py FILE.csv K
"""

import sys

import numpy as np

path, k = sys.argv[1], int(sys.argv[2])
a = np.loadtxt(path, delimiter=",", skiprows=1)
z, t, g = a[:, :k], a[:, k : 2 * k], a[:, 2 * k : 3 * k]
e = np.exp(z - z.max(axis=1, keepdims=True))
s = e / e.sum(axis=1, keepdims=True)
ok = np.isclose(g, s * t.sum(axis=1, keepdims=True) - t, rtol=1e-7, atol=1e-12).all(axis=1)
print(f"{ok.sum()} of {len(ok)} rows pass")
