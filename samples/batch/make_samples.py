"""Regenerate the batch samples: python samples/batch/make_samples.py (deterministic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from softgrad.core import fused_gradient
from softgrad.catalogue.mistakes import MISTAKES

HERE = Path(__file__).resolve().parent
rng = np.random.default_rng(2026)


def fmt(x: float) -> str:
    return np.format_float_positional(x, precision=17, unique=True, trim="-")


def write(name: str, header: list[str], rows: list[list[str]]) -> None:
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    (HERE / name).write_text(text)


K = 4
mixed_ids = ["jacobian_at_logits", "no_jacobian", "sign_flipped", "diagonal_only", "double_softmax"]
header = ["id", *[f"z{i}" for i in range(K)], *[f"t{i}" for i in range(K)], *[f"g{i}" for i in range(K)]]
rows = []
for i in range(20):
    z = np.round(rng.normal(0, 2, K), 3)
    label = int(rng.integers(K))
    if label == int(np.argmax(z)):
        label = (label + 1) % K
    t = np.eye(K)[label]
    which = mixed_ids[i // 2] if i % 2 and i // 2 < len(mixed_ids) else None
    g = MISTAKES[which].gradient(z[None], t[None])[0] if which else fused_gradient(z[None], t[None])[0]
    rows.append([f"row{i}", *map(fmt, z), *map(fmt, t), *map(fmt, g)])
write("mixed.csv", header, rows)

header = [
    "step",
    *[f"logit_{i}" for i in range(K)],
    *[f"target_{i}" for i in range(K)],
    *[f"grad_{i}" for i in range(K)],
]
rows = []
for i in range(8):
    z = np.round(rng.normal(0, 2, K), 3)
    t = np.full(K, 0.1 / (K - 1))
    t[int(rng.integers(K))] = 0.9
    g = fused_gradient(z[None], t[None])[0] if i != 5 else MISTAKES["assumes_one_hot"].gradient(z[None], t[None] * 2)[0]
    if i == 5:
        t = t * 2  # unnormalised soft labels: s - t is wrong here
    rows.append([str(i), *map(fmt, z), *map(fmt, t), *map(fmt, g)])
write("soft_labels.csv", header, rows)

header = [*[f"z{i}" for i in range(K)], "label"]
rows = [[*map(fmt, np.round(rng.normal(0, 2, K), 3)), str(int(rng.integers(K)))] for _ in range(10)]
write("labels.csv", header, rows)

text = "z0,z1,z2,t0,t1,t2\n1,2,3,0,1,0\n1,abc,3,0,1,0\n1,2,3,0,-1,0\n1,2,3,0,1\n1,2,nan,0,1,0\n0.5,0.25,1,1,0,0\n"
(HERE / "bad_rows.csv").write_text(text)

z = np.round(rng.normal(0, 2, (6, 3)), 3)
labels = rng.integers(0, 3, 6)
g = fused_gradient(z, np.eye(3)[labels])
g[2] = MISTAKES["jacobian_at_logits"].gradient(z[2:3], np.eye(3)[labels[2:3]])[0]
np.savez(HERE / "arrays.npz", z=z, label=labels, grad=g)

lines = [
    '{"z": [1.75, 1.75], "t": [0, 1], "grad": [0.5, -0.5]}',
    '{"z": [1.75, 1.75], "t": [0, 1], "grad": [6.125, 2.625]}',
    '{"z": [2, 0.5], "label": 0, "grad": [-0.18242552380635635, 0.18242552380635635]}',
]
(HERE / "cases.jsonl").write_text("\n".join(lines) + "\n")

# mean-reduced gradients (per-row gradient / N) where per-row ones are expected: batch_sum_not_mean
rng_mean = np.random.default_rng(1)
z = np.round(rng_mean.normal(0, 2, (6, 3)), 3)
t = np.eye(3)[rng_mean.integers(0, 3, 6)]
g = fused_gradient(z, t) / 6
header = [*[f"z{i}" for i in range(3)], *[f"t{i}" for i in range(3)], *[f"g{i}" for i in range(3)]]
write("mean_reduced.csv", header, [[repr(float(x)) for x in r] for r in np.hstack([z, t, g])])
