"""Every user module in samples/verify/ is verified, with its expected kind, diagnosis and exit code."""

from __future__ import annotations

import json

import pytest

from softgrad import MISTAKES
from tests.conftest import SAMPLES, run

VERIFY = SAMPLES / "verify"

#: file -> [(function, kind, exit code, diagnosed id or None)]
EXPECTED: dict[str, list[tuple[str, str, int, str | None]]] = {
    "correct_grad.py": [("grad", "grad", 0, None)],
    "correct_jacobian.py": [("softmax_jacobian", "jacobian", 0, None)],
    "df2_on_logits.py": [("grad", "grad", 1, "jacobian_at_logits"), ("df2", "jacobian", 0, None)],
    "jacobian_diagonal_only.py": [("jacobian", "jacobian", 1, "diagonal_only")],
    "diagonal_only.py": [("grad", "grad", 1, "diagonal_only")],
    "missing_outer_term.py": [("grad", "grad", 1, "missing_outer_term")],
    "no_max_shift.py": [("grad", "grad", 1, "no_max_shift")],
    "assumes_one_hot.py": [("grad", "grad", 1, "assumes_one_hot")],
    "chained_underflow.py": [("grad", "grad", 1, "chained_underflow")],
    "raises.py": [("grad", "grad", 1, None)],
    "wrong_shape.py": [("grad", "grad", 1, None)],
    "correct_softmax.py": [("softmax", "softmax", 0, None)],
    "softmax_no_max_shift.py": [("softmax", "softmax", 1, "no_max_shift")],
    "softmax_wrong_axis.py": [("softmax", "softmax", 1, "softmax_over_batch_axis")],
    "summed_not_mean.py": [("grad", "grad", 0, None)],
    "correct_backward.py": [("softmax_backward", "backward", 0, None)],
    # the code as people write it (issue 11): classes, labels, tuples, targets first, tensor-likes
    "nnfs_softmax_loss.py": [("SoftmaxCrossEntropy", "backward", 1, "soft_targets_as_argmax")],
    "nnfs_softmax_layer.py": [("Softmax", "backward", 0, None)],
    "sigmoid_style_layer.py": [("SoftmaxLayer", "backward", 1, "diagonal_only")],
    "class_labels.py": [("softmax_cross_entropy_grad", "grad", 0, None)],
    "loss_and_grad.py": [("cross_entropy", "grad", 0, None)],
    "targets_first.py": [("compute_gradient", "grad", 0, None)],
    "library_loss.py": [("loss_fn", "grad", 0, None)],
    "qa_delta_cross_entropy.py": [("delta_cross_entropy", "grad", 1, "no_max_shift")],
    "static_backward.py": [("SoftmaxOp.backward", "backward", 0, None)],
    "summed_method.py": [("SoftmaxCrossEntropy.grad", "grad", 0, None)],
    "course_backward.py": [("softmax_cross_entropy_backward", "backward", 1, "assumes_one_hot")],
    "tensor_like.py": [("grad", "grad", 0, None)],
    "softmax_all_elements.py": [("grad", "grad", 1, "softmax_over_all_elements")],
    "columns_course.py": [("softmax_backward", "grad", 0, None)],
    "derivative_flag.py": [("softmax", "softmax", 1, "diagonal_only")],
    "derivative_flag_jacobian.py": [("softmax", "softmax", 0, None)],
    "softmax_prime.py": [("softmax_prime", "elementwise", 1, "diagonal_only")],
    "bce_loss_gradient.py": [("CrossEntropy.gradient", "loss-backward", 1, "binary_ce_through_softmax")],
    "loss_backward.py": [("cross_entropy_backward", "loss-backward", 0, None)],
    "autograd_function.py": [("SoftmaxFunction", "backward", 0, None)],
    # y_pred named like probabilities but holding logits: judged as given z (13 of 17 cases pass), not as the
    # double_softmax it would be given probabilities
    "keras_style_y_pred_logits.py": [("cross_entropy_grad", "grad", 1, "assumes_one_hot")],
}

#: (file:function, options, exit code, what the JSON says) for the conventions that are detected
DETECTED: list[tuple[str, tuple[str, ...], int, dict[str, object]]] = [
    ("nnfs_softmax_loss.py:SoftmaxCrossEntropy", (), 1, {"targets": ["soft", "index"], "layout": "batch"}),
    ("nnfs_softmax_loss.py:SoftmaxCrossEntropy", ("--targets", "onehot"), 0, {"targets": ["onehot"]}),
    ("nnfs_softmax_loss.py:SoftmaxCrossEntropy", ("--targets", "index"), 0, {"targets": ["index"]}),
    ("nnfs_softmax_layer.py:Softmax", (), 0, {"result": "self.dinputs", "call": "forward(z); backward(g)"}),
    ("sigmoid_style_layer.py:SoftmaxLayer", (), 1, {"result": "self.grad"}),
    ("class_labels.py:softmax_cross_entropy_grad", (), 0, {"targets": ["index"], "call": "f(z, labels)"}),
    ("loss_and_grad.py:cross_entropy", (), 0, {"result": "item 1 of the 2-tuple it returns", "reduction": "sum"}),
    (
        "loss_and_grad.py:cross_entropy",
        ("--returns", "0"),
        1,
        {"result": "item 0 of the 2-tuple it returns", "result_reason": "given"},
    ),
    ("targets_first.py:compute_gradient", (), 0, {"call": "f(t, z)", "call_reason": "targets first"}),
    ("library_loss.py:loss_fn", (), 0, {"call": "forward(z, t); backward()", "layout": "batch"}),
    ("static_backward.py:SoftmaxOp.backward", (), 0, {"call_reason": "a @staticmethod of SoftmaxOp"}),
    ("summed_method.py:SoftmaxCrossEntropy.grad", (), 0, {"reduction": "sum"}),
    ("summed_method.py:SoftmaxCrossEntropy.grad", ("--reduction", "mean"), 1, {"reduction": "mean"}),
    ("summed_method.py:SoftmaxCrossEntropy.grad", ("--reduction", "sum"), 0, {"reduction_reason": "given"}),
    ("course_backward.py:softmax_cross_entropy_backward", ("--targets", "onehot"), 0, {"targets": ["onehot"]}),
    ("summed_not_mean.py:grad", ("--reduction", "mean"), 1, {"reduction": "mean"}),
    ("columns_course.py:softmax_backward", (), 0, {"layout": "columns", "reduction": "mean"}),
    ("columns_course.py:softmax_backward", ("--layout", "columns"), 0, {"layout": "columns"}),
    ("columns_course.py:softmax_backward", ("--layout", "batch"), 1, {"layout": "batch"}),
    ("derivative_flag_jacobian.py:softmax", (), 0, {"flagged": "with return_deriv=True, J(softmax(z))"}),
    ("bce_loss_gradient.py:CrossEntropy.gradient", ("--reduction", "sum"), 1, {"call": "f(t, s)"}),
    ("loss_backward.py:cross_entropy_backward", (), 0, {"reduction": "mean", "call": "f(s, t)"}),
    ("autograd_function.py:SoftmaxFunction", (), 0, {"call": "forward(ctx, z); backward(ctx, g)"}),
]


def test_the_binary_cross_entropy_derivative_is_named_at_the_loss_level() -> None:
    target = f"{VERIFY / 'bce_loss_gradient.py'}:CrossEntropy.gradient"
    d = json.loads(run("verify", target, "--reduction", "sum", "--format", "json").stdout)
    assert d["kind"] == "loss-backward"
    assert d["diagnosis"][0]["id"] == "binary_ce_through_softmax"
    assert d["diagnosis"][0]["consistent"]


def test_a_derivative_flag_is_tested_as_what_it_computes() -> None:
    d = json.loads(run("verify", f"{VERIFY / 'derivative_flag.py'}:softmax", "--format", "json").stdout)
    plain = [c for c in d["cases"] if not c["name"].endswith("_derivative")]
    flagged = [c for c in d["cases"] if c["name"].endswith("_derivative")]
    assert {c["status"] for c in plain} == {"pass"}
    assert {c["status"] for c in flagged} == {"fail"}
    assert {c["call"] for c in flagged} == {"f(z, derivative=True)"}
    assert all("diagonal_only" in c["matches"] for c in flagged)
    assert "f(x, derivative=True): given (4,) it returns (4,): an element-wise derivative" in d["kind_reason"]


@pytest.mark.parametrize(("target", "options", "code", "fields"), DETECTED)
def test_detected_conventions_and_their_options(
    target: str, options: tuple[str, ...], code: int, fields: dict[str, object]
) -> None:
    r = run("verify", str(VERIFY / target), "--trials", "3", "--format", "json", *options)
    assert r.exit_code == code, r.stdout[-2000:]
    d = json.loads(r.stdout)
    for key, value in fields.items():
        assert d[key] == value, (key, d[key])


def test_soft_targets_as_argmax_says_right_for_hard_labels_and_how_to_test_only_those() -> None:
    r = run("verify", f"{VERIFY / 'nnfs_softmax_loss.py'}:SoftmaxCrossEntropy", "--trials", "3")
    assert r.exit_code == 1
    assert "right for hard labels, wrong for soft ones" in r.stdout
    assert "(--targets onehot)" in r.stdout
    assert "  targets    soft/index — detected: it takes float targets and class indices" in r.stdout
    assert "  result     self.dinputs — backward returns None and sets self.dinputs (3, 4)" in r.stdout


def test_summed_method_with_a_mean_asked_for_names_batch_sum_not_mean() -> None:
    args = ("--reduction", "mean", "--format", "json")
    d = json.loads(run("verify", f"{VERIFY / 'summed_method.py'}:SoftmaxCrossEntropy.grad", *args).stdout)
    assert d["diagnosis"][0]["id"] == "batch_sum_not_mean"


CASES = [(name, *spec) for name, specs in EXPECTED.items() for spec in specs]


#: layer code (--kind weights, loss-and-grad): tests/commands/verify/test_weights_samples.py
LAYER_SAMPLES = ("weights_", "two_layer_")


def test_every_sample_is_covered() -> None:
    on_disk = {p.name for p in VERIFY.iterdir() if p.is_file() and not p.name.startswith(LAYER_SAMPLES)}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize(("name", "func", "kind", "code", "diagnosed"), CASES)
def test_sample(name: str, func: str, kind: str, code: int, diagnosed: str | None) -> None:
    r = run("verify", f"{VERIFY / name}:{func}", "--format", "json")
    assert r.exit_code == code, r.stderr
    d = json.loads(r.stdout)
    assert d["kind"] == kind
    assert d["kind_reason"].startswith("detected")
    assert d["status"] == ("pass" if code == 0 else "fail")
    if diagnosed is None:
        assert d["diagnosis"] == []
    else:
        assert d["diagnosis"][0]["id"] == diagnosed
        flagged = any(c["name"].endswith("_derivative") for c in d["cases"])
        unreduced = name == "bce_loss_gradient.py"  # per element: its batch is neither a mean nor a sum
        if (
            MISTAKES[diagnosed].scope == "row" and not flagged and not unreduced
        ):  # a batch-level mistake: the batch cases only
            assert d["diagnosis"][0]["consistent"]
        assert all(diagnosed in c["matches"] for c in d["cases"] if c["status"] == "fail" and c["name"] != "batch")
    for case in d["cases"]:
        if case["status"] == "fail":
            assert case["command"].startswith("softgrad check --z ")
    # the table renders too, with the same exit code
    assert run("verify", f"{VERIFY / name}:{func}", "--trials", "2").exit_code == code


def test_the_motivating_df2_sample_states_what_a_caller_passing_z_gets() -> None:
    d = json.loads(run("verify", f"{VERIFY / 'df2_on_logits.py'}:df2", "--format", "json").stdout)
    assert d["input"] == "s"
    assert d["layout"] == "batch"
    other = d["other_input"]
    assert other["matches"] == ["jacobian_at_logits"]
    assert other["gradient"] == [6.125, 2.625]
    assert other["reference"] == [0.5, -0.5]


def test_raising_and_wrong_shape_samples_say_what_happened() -> None:
    d = json.loads(run("verify", f"{VERIFY / 'raises.py'}:grad", "--format", "json").stdout)
    assert {c["status"] for c in d["cases"]} == {"error"}
    assert d["cases"][0]["error"].startswith("raised AxisError: axis 2 is out of bounds")
    assert "raises.py:11)" in d["cases"][0]["error"]
    d = json.loads(run("verify", f"{VERIFY / 'wrong_shape.py'}:grad", "--format", "json").stdout)
    assert d["cases"][0]["error"] == "returned a single number, expected an array of shape (4,)"
    batch = next(c for c in d["cases"] if c["name"] == "batch")
    assert batch["error"] == "returned shape (3,), expected an array of shape (3, 4)"


def test_softmax_wrong_axis_sample_names_the_axis() -> None:
    d = json.loads(run("verify", f"{VERIFY / 'softmax_wrong_axis.py'}:softmax", "--format", "json").stdout)
    assert [c["name"] for c in d["cases"] if c["status"] == "fail"] == ["batch"]
    assert "axis 0" in d["verdict"]
