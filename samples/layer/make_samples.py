"""Regenerate the layer samples: python samples/layer/make_samples.py (deterministic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.core.layer import backward, forward, make_network, user_layout

HERE = Path(__file__).resolve().parent


def write(name: str, case: dict[str, Any]) -> None:
    text = json.dumps({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in case.items()})
    (HERE / name).write_text(text + "\n")


# the worked example: z = W a + b = (1.75, 1.75), t = (0, 1), a = (1, −0.5)
worked = {"a": [1, -0.5], "W": [[2, 0.5], [2, 0.5]], "b": [0, 0], "t": [0, 1]}
write("worked_example.json", {**worked, "dW": [[0.5, -0.25], [-0.5, 0.25]], "db": [0.5, -0.5]})
write("wrong_dW.json", {**worked, "dW": [[0.5, -0.5], [-0.25, 0.25]]})

# one sigmoid hidden layer: D = 3 inputs, H = 2 hidden units, K = 3 classes, the label 2
hidden = {
    "a_in": [1.0, -2.0, 0.5],
    "W_h": [[0.3, -0.1, 0.8], [-0.5, 0.4, 0.2]],
    "b_h": [0.1, -0.2],
    "activation": "sigmoid",
    "W": [[0.7, -1.2], [0.4, 0.9], [-0.3, 0.5]],
    "b": [0.05, -0.1, 0.2],
    "label": 2,
}
net = make_network(
    None, hidden["W"], hidden["b"], None, label=2, a_in=hidden["a_in"], W_h=hidden["W_h"], b_h=hidden["b_h"],
    activation="sigmoid",
)  # fmt: skip
fwd = forward(net)
ref = backward(net, fwd)
right = {q: user_layout(net, q, v) for q, v in ref.items()}
write("hidden_layer.json", {**hidden, **{q: right[q] for q in ("dW", "db", "delta_h", "dW_h", "db_h")}})
wrong = MISTAKES["sigma_prime_at_activation"].layer_values(net, fwd, ref)
assert wrong is not None
write(
    "sigma_prime_at_activation.json",
    {**hidden, "dW": right["dW"], **{q: user_layout(net, q, wrong[q]) for q in ("delta_h", "dW_h", "db_h")}},
)

# the course assignment: softmax_loss(W, X, y, reg) in the row convention, no bias, a mean over N = 5 rows;
# the user's dW forgot the regulariser's 2·reg·W
rng = np.random.default_rng(2026)
X = np.round(rng.normal(0, 1, (5, 4)), 3)
W = np.round(rng.normal(0, 0.1, (4, 3)), 4)
y = np.array([0, 2, 1, 2, 0])
course = make_network(X, W, None, None, label=y.tolist(), convention="row", reg=0.1)
cf = forward(course)
dW = MISTAKES["reg_gradient_missing"].layer_values(course, cf, backward(course, cf))
assert dW is not None
np.savez(
    HERE / "course_batch.npz", a=X, W=W, label=y, reg=np.array(0.1), convention=np.array("row"), dW=dW["dW"]
)
