"""Every layer-code sample in samples/verify/ (weights_*.py, two_layer_*.py) verified through the Python API,
with its detected kind, verdict, the mistake named per quantity and the cases that fail."""

from __future__ import annotations

import pytest

import softgrad
from softgrad.commands.verify.weights_report import WeightsReport
from tests.commands.verify.test_samples import LAYER_SAMPLES, VERIFY

#: (file, function) -> (kind, status, {quantity: the first diagnosed id}, failing case names or None for any)
EXPECTED: dict[tuple[str, str], tuple[str, str, dict[str, str], set[str] | None]] = {
    ("weights_correct.py", "softmax_loss_naive"): ("weights", "pass", {}, set()),
    ("weights_correct.py", "softmax_loss_vectorized"): ("weights", "pass", {}, set()),
    ("weights_half_reg.py", "softmax_loss"): ("weights", "pass", {}, set()),
    ("weights_transposed.py", "softmax_loss_naive"): ("weights", "fail", {"dW": "dW_transposed"}, None),
    ("weights_reg_missing_2.py", "softmax_loss_vectorized"): ("weights", "fail", {"dW": "reg_gradient_factor"}, None),
    ("weights_no_max_shift.py", "softmax_loss_vectorized"): (
        "weights", "fail", {"loss": "no_max_shift", "dW": "no_max_shift"}, {"large_logits"}
    ),
    ("weights_loss_not_mean.py", "softmax_loss_naive"): ("weights", "fail", {"loss": "loss_not_mean"}, None),
    ("two_layer_correct.py", "loss"): ("loss-and-grad", "pass", {}, set()),
    ("two_layer_sigma_prime_at_activation.py", "loss"): (
        "loss-and-grad", "fail", {"W1": "sigma_prime_at_activation", "b1": "sigma_prime_at_activation"},
        {"two_layer", "two_layer_no_reg"},
    ),
    ("two_layer_bug_W2.py", "two_layer_loss"): ("loss-and-grad", "fail", {"W2": "reg_gradient_missing"}, {"two_layer"}),
}  # fmt: skip


def test_every_layer_sample_is_covered() -> None:
    on_disk = {p.name for p in VERIFY.iterdir() if p.is_file() and p.name.startswith(LAYER_SAMPLES)}
    assert on_disk == {name for name, _ in EXPECTED}


@pytest.mark.parametrize(("name", "func"), list(EXPECTED))
def test_layer_sample(name: str, func: str) -> None:
    kind, status, named, failing = EXPECTED[(name, func)]
    r = softgrad.verify(f"{VERIFY / name}:{func}")
    assert isinstance(r, WeightsReport)
    assert r.kind == kind
    assert r.kind_reason.startswith("detected: ")
    assert r.status == status, r.verdict
    first = {}
    for d in r.diagnosis:
        first.setdefault(d.quantity, d.id)
    assert first == named
    for quantity, mid in named.items():  # the named mistake explains every failing case of its quantity
        d = next(d for d in r.diagnosis if d.quantity == quantity)
        assert d.id == mid
        assert d.consistent
        assert mid in r.verdict
    if failing is not None:
        assert {c.name for c in r.failed} == failing
    if status == "pass":
        assert r.verdict.startswith("right: ")
    else:
        assert r.verdict.startswith("wrong: ")
