"""`softgrad.verify` through the Python API: the battery, detection, diagnosis, the report."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest

import softgrad
from softgrad import core
from softgrad.commands.verify.cases import battery, random_cases
from softgrad.commands.verify.judge import aggregate
from softgrad.commands.verify.report import CaseResult
from softgrad.errors import InputError
from softgrad.render.json_out import render_json

# --------------------------------------------------------------------------------- user functions


def _softmax(z: Any) -> Any:
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _mean(g: Any, z: Any) -> Any:
    return g / z.shape[0] if np.ndim(z) == 2 else g


def good_grad(z: Any, t: Any) -> Any:
    return _mean(_softmax(z) * np.sum(t, axis=-1, keepdims=True) - t, z)


def per_row_grad(z: Any, t: Any) -> Any:  # right for --reduction sum
    return _softmax(z) * np.sum(t, axis=-1, keepdims=True) - t


def one_row_only(z: Any, t: Any) -> Any:
    if np.ndim(z) != 1:
        raise ValueError("one example at a time")
    return _softmax(z) * np.sum(t) - t


def softmax_over_batch_axis(z: Any, t: Any) -> Any:
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    s = e / np.sum(e, axis=0, keepdims=True)
    return _mean(s * np.sum(t, axis=-1, keepdims=True) - t, z)


def jacobian_at(x: Any) -> Any:  # diag(x) − x xᵀ: right when given s
    return x[..., :, None] * np.eye(x.shape[-1]) - x[..., :, None] * x[..., None, :]


def jacobian_of_logits(z: Any) -> Any:  # takes the softmax itself
    return jacobian_at(_softmax(z))


def grad_with_jacobian_at(z: Any, t: Any) -> Any:  # the motivating bug, vectorised
    s = _softmax(z)
    g = np.where(t == 0, 0.0, -t / np.where(t == 0, 1.0, s))
    return _mean(np.einsum("...j,...jk->...k", g, jacobian_at(z)), z)


def backward_upstream(s: Any, upstream: Any) -> Any:
    return s * upstream - np.sum(upstream * s, axis=-1, keepdims=True) * s


def backward_targets(p: Any, y: Any) -> Any:
    return _mean(p * np.sum(y, axis=-1, keepdims=True) - y, p)


def backward_ambiguous(a: Any, b: Any) -> Any:  # names say nothing about the second argument
    return backward_upstream(a, b)


# ------------------------------------------------------------------------------------- the battery


def test_battery_has_the_inputs_the_issue_asks_for() -> None:
    cases = {c.name: c for c in battery("grad")}
    asym = cases["asymmetric"]
    assert asym.z.shape[1] >= 3
    assert len(set(asym.z[0])) == asym.z.shape[1]
    assert int(np.argmax(asym.t[0])) != int(np.argmax(asym.z[0]))
    np.testing.assert_array_equal(cases["shift_1000"].z, asym.z + 1000.0)
    gap = cases["gap_800"].z[0]
    assert np.max(gap) - gap[int(np.argmax(cases["gap_800"].t[0]))] == 800.0
    assert core.softmax(cases["gap_800"].z)[0, 1] == 0.0  # the target's probability underflows
    soft = cases["soft_targets"].t[0]
    assert np.sum(soft) == 1.0
    assert np.count_nonzero(soft) > 1
    assert np.sum(cases["unnormalised_targets"].t[0]) == 2.5
    b = cases["batch"]
    assert b.batch
    assert b.z.shape[0] >= 2
    assert b.z.shape[0] != b.z.shape[1]
    assert len({tuple(r) for r in b.z}) == b.z.shape[0]
    f32 = cases["float32"]
    assert f32.dtype == "float32"
    np.testing.assert_array_equal(f32.z.astype(np.float32).astype(np.float64), f32.z)  # exact in float32


def test_battery_per_kind() -> None:
    names = [c.name for c in battery("softmax")]
    assert "soft_targets" not in names
    assert "shift_1000" in names
    assert "float32" in names
    upstream = battery("backward", "upstream")
    for c in upstream:  # dense upstream: every class but an underflowed one gets a non-zero g
        s = core.softmax(c.z)
        assert np.all((c.t > 0) | (s == 0.0))
    assert [c.name for c in battery("backward", "targets")] == [c.name for c in battery("grad")]


def test_random_cases_are_seeded() -> None:
    a, b = random_cases("grad", None, 5, 7), random_cases("grad", None, 5, 7)
    assert all(np.array_equal(x.z, y.z) and np.array_equal(x.t, y.t) for x, y in zip(a, b, strict=True))
    c = random_cases("grad", None, 5, 8)
    assert not all(np.array_equal(x.z, y.z) for x, y in zip(a, c, strict=True))
    for case in a:
        k = case.z.shape[1]
        assert 3 <= k <= 8
        assert np.all(case.t >= 0)


# ----------------------------------------------------------------------------------- the verdicts


def test_correct_gradient_passes() -> None:
    r = softgrad.verify(good_grad)
    assert r.ok
    assert r.status == "pass"
    assert r.kind == "grad"
    assert r.layout == "both"
    assert r.kind_reason.startswith("detected: two parameters (z, t)")
    assert r.counts() == {"cases": 17, "pass": 17, "fail": 0, "error": 0, "skipped": 0}
    assert r.diagnosis == ()
    assert r.verdict.startswith("right: matches dE/dz = s·Σt − t on all 17 cases")


def test_the_motivating_bug_is_diagnosed_in_every_case() -> None:
    r = softgrad.verify(grad_with_jacobian_at, trials=4)
    assert not r.ok
    assert r.status == "fail"
    assert [c.status for c in r.cases] == ["fail"] * 11
    assert r.diagnosis[0].id == "jacobian_at_logits"
    assert r.diagnosis[0].consistent
    first = r.cases[0]
    assert first.matches[0] == "jacobian_at_logits"
    # the numbers: g·J(z) at z = (2, 1, 0.1, −1.5), t = e_2
    z, t = np.array(first.z), np.array(first.t)
    s = core.softmax(z)
    wrong = core.vjp_softmax_jacobian(core.dE_ds(t, s), z)
    np.testing.assert_allclose(first.output, wrong, rtol=1e-12)
    np.testing.assert_allclose(first.expected, core.fused_gradient(z, t), rtol=1e-15)
    assert first.command is not None
    assert first.command.startswith("softgrad check --z 2 1 0.1 -1.5 --t 0 0 1 0 --grad ")


def test_the_check_command_reproduces_the_diagnosis() -> None:
    r = softgrad.verify(grad_with_jacobian_at, trials=0)
    from tests.conftest import run_json

    for case in r.failed:
        assert case.command is not None
        code, d = run_json(*case.command.split()[1:])
        assert code == 1
        assert d["user"]["matches"][0] == "jacobian_at_logits", case.name


def test_jacobian_right_given_s_and_what_a_caller_passing_z_gets() -> None:
    r = softgrad.verify(jacobian_at)
    assert r.ok
    assert r.kind == "jacobian"
    assert r.input == "s"
    assert "given s = softmax(z) it passes every case" in r.input_reason
    assert r.verdict.startswith("right when given s = softmax(z)")
    o = r.other_input
    assert o is not None
    assert o.passed == "z"
    assert o.passes_battery is False
    assert o.z == (1.75, 1.75)
    assert o.t == (0.0, 1.0)
    assert o.output == ((-1.3125, -3.0625), (-3.0625, -1.3125))
    assert o.matches == ("jacobian_at_logits",)
    assert o.gradient == (6.125, 2.625)
    assert o.reference == (0.5, -0.5)
    assert o.command == "softgrad check --z 1.75 1.75 --t 0 1 --grad 6.125 2.625"


def test_jacobian_of_logits_is_right_given_z() -> None:
    r = softgrad.verify(jacobian_of_logits)
    assert r.ok
    assert r.input == "z"
    assert r.verdict.startswith("right when given the logits z")
    assert r.other_input is not None
    assert r.other_input.passed == "s"


def test_jacobian_pinned_to_the_wrong_input_fails_and_says_so() -> None:
    r = softgrad.verify(jacobian_at, jacobian_input="z")
    assert not r.ok
    assert r.input == "z"
    assert r.input_reason == "given: the logits z"
    assert r.diagnosis[0].id == "jacobian_at_logits"
    assert r.other_input is not None
    assert r.other_input.passed == "s"
    assert r.other_input.passes_battery is True
    assert r.verdict.startswith("wrong when given the logits z")


def test_diagonal_only_jacobian() -> None:
    def jac(s: Any) -> Any:
        return (s * (1 - s))[..., :, None] * np.eye(s.shape[-1])

    r = softgrad.verify(jac, "jacobian")
    assert not r.ok
    assert r.diagnosis[0].id == "diagonal_only"
    assert any("rows sum to 0: no" in n for n in r.cases[0].notes)
    assert r.verdict.startswith("wrong, whether given s = softmax(z) or the logits z")


def test_softmax_kind() -> None:
    r = softgrad.verify(_softmax)
    assert r.ok
    assert r.kind == "softmax"
    assert "returns (4,): probabilities" in r.kind_reason

    def naive(z: Any) -> Any:
        e = np.exp(z)
        return e / np.sum(e, axis=-1, keepdims=True)

    r = softgrad.verify(naive)
    assert [c.name for c in r.failed] == ["shift_1000"]
    assert r.diagnosis[0].id == "no_max_shift"
    assert r.diagnosis[0].consistent
    assert any("overflow encountered in exp" in n for n in r.failed[0].notes)

    r = softgrad.verify(lambda z: _softmax(_softmax(z)), "softmax")
    assert r.diagnosis[0].id == "double_softmax"


def test_softmax_over_the_wrong_axis() -> None:
    def axis0(z: Any) -> Any:
        e = np.exp(z - np.max(z, axis=0, keepdims=True))
        return e / np.sum(e, axis=0, keepdims=True)

    r = softgrad.verify(axis0, "softmax")
    assert [c.name for c in r.failed] == ["batch"]
    assert any("columns sum to 1, not its rows" in h for h in r.failed[0].hints)


def test_backward_with_a_dense_upstream() -> None:
    r = softgrad.verify(backward_upstream)
    assert r.ok
    assert r.kind == "backward"
    assert r.input == "upstream"
    assert r.input_reason == "detected from the parameter name: an upstream gradient g = dE/ds, as f(s, g)"
    assert r.reduction is None
    for c in r.cases:  # every upstream entry is non-zero unless s underflowed there
        assert c.upstream is not None
        s = core.softmax(np.array(c.z))
        assert np.all((np.array(c.upstream) != 0) | (s == 0)), c.name
    o = r.other_input
    assert o is not None
    assert o.gradient == (6.125, 2.625)
    assert o.matches[0] == "jacobian_at_logits"


def test_backward_second_argument_detected_by_behaviour() -> None:
    r = softgrad.verify(backward_ambiguous, "backward")
    assert r.ok
    assert r.input == "upstream"
    assert r.input_reason.startswith("detected: given an upstream gradient")
    r = softgrad.verify(backward_targets)
    assert r.ok
    assert r.input == "targets"
    assert r.reduction == "mean"


def test_a_one_hot_upstream_would_hide_a_wrong_column() -> None:
    """A backward that is right only on the target's row of J(s) passes one-hot upstreams but not dense ones."""

    def first_nonzero_column_only(s: Any, upstream: Any) -> Any:
        j = int(np.flatnonzero(upstream.reshape(-1, upstream.shape[-1])[0])[0])
        right = backward_upstream(s, upstream)
        return np.where(np.arange(s.shape[-1]) == j, right, 0.5 * right)

    r = softgrad.verify(first_nonzero_column_only, "backward", backward_input="upstream")
    assert not r.ok


# ------------------------------------------------------------------------------ layout and reduction


def test_reduction_is_detected_and_either_passes() -> None:
    r = softgrad.verify(per_row_grad)
    assert r.ok
    assert r.reduction == "sum"
    assert r.reduction_reason.startswith("detected: given a batch of N = 3 each row is its own gradient (a summed")
    r = softgrad.verify(good_grad)
    assert r.ok
    assert r.reduction == "mean"
    assert r.reduction_reason.startswith("detected")
    assert softgrad.verify(per_row_grad, reduction="none").ok


def test_reduction() -> None:
    r = softgrad.verify(per_row_grad, reduction="mean")
    assert [c.name for c in r.failed] == ["batch"]
    assert "N = 3 times the mean-reduced gradient" in r.failed[0].hints[0]
    assert "(reduction sum)" in r.verdict
    assert softgrad.verify(per_row_grad, reduction="sum").ok
    r = softgrad.verify(good_grad, reduction="sum")
    assert "divided by N = 3: it is the gradient of the mean loss" in r.failed[0].hints[0]


def test_softmax_over_the_batch_axis_in_a_gradient() -> None:
    r = softgrad.verify(softmax_over_batch_axis)
    assert [c.name for c in r.failed] == ["batch"]
    assert any("softmax over axis 0" in h for h in r.failed[0].hints)


def test_layout_detection() -> None:
    r = softgrad.verify(one_row_only)
    assert r.ok
    assert r.layout == "row"
    assert "ValueError: one example at a time" in r.layout_reason
    batch = next(c for c in r.cases if c.name == "batch")
    assert batch.status == "skipped"
    assert any("batch case was skipped" in n for n in r.notes)
    r = softgrad.verify(one_row_only, layout="both")
    assert [c.name for c in r.failed] == ["batch"]
    assert r.failed[0].status == "error"


def test_batch_only_function_gets_single_examples_as_one_row_batches() -> None:
    def batch_only(d: Any) -> Any:
        return np.apply_along_axis(lambda f: jacobian_at(f), 1, d)

    r = softgrad.verify(batch_only)
    assert r.ok
    assert r.layout == "batch"
    assert r.kind == "jacobian"
    assert "AxisError" in r.layout_reason
    assert r.cases[0].shape == (1, 4)


# ------------------------------------------------------------------ what the user's code does wrong


def test_exceptions_are_failed_cases_with_the_message_and_input() -> None:
    def boom(z: Any, t: Any) -> Any:
        raise RuntimeError("kaboom\nsecond line")

    r = softgrad.verify(boom)
    assert not r.ok
    assert all(c.status == "error" for c in r.cases)
    c = r.cases[0]
    assert c.error is not None
    assert c.error.startswith("raised RuntimeError: kaboom (at ")
    assert "test_verify.py:" in c.error
    assert c.command == "softgrad check --z 2 1 0.1 -1.5 --t 0 0 1 0"
    assert r.verdict == "wrong: 17 of 17 cases fail (17 raised an exception)"


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (None, "returned None (a missing return statement?); expected an array of shape (4,)"),
        ("abc", "returned a str of <U3 values, not numbers"),
        (3.0, "returned a single number, expected an array of shape (4,)"),
        ([1.0, 2.0], "returned shape (2,), expected an array of shape (4,)"),
        ([[1.0, 2.0, 3.0, 4.0]], "returned shape (1, 4), expected an array of shape (4,)"),
        (np.ones(4) * 1j, "returned complex numbers"),
        ((0.5, (1.0, 2.0)), "returned a tuple of 2 items of different shapes"),
    ],
)
def test_wrong_shape_or_type_is_a_failed_case(returned: Any, message: str) -> None:
    r = softgrad.verify(lambda z, t: returned, "grad", trials=0, layout="row")
    c = r.cases[0]
    assert c.status == "error"
    assert c.error is not None
    assert c.error.startswith(message), c.error


def test_changing_an_argument_in_place_is_noted() -> None:
    def shifts_in_place(z: Any, t: Any) -> Any:
        z -= np.max(z, axis=-1, keepdims=True)
        return good_grad(z, t)

    r = softgrad.verify(shifts_in_place)
    assert r.ok
    assert "your function changed its argument z in place" in r.notes


def test_float32_functions_fail_float64_cases_with_a_hint() -> None:
    def in_float32(z: Any, t: Any) -> Any:
        return good_grad(np.asarray(z, np.float32), np.asarray(t, np.float32))

    r = softgrad.verify(in_float32)
    assert next(c for c in r.cases if c.name == "float32").status == "pass"
    assert any("within 0.1% of the reference" in n for c in r.failed for n in c.notes)
    assert softgrad.verify(in_float32, rtol=1e-4, atol=1e-6).ok


def test_ranking_prefers_the_mistake_consistent_with_every_case() -> None:
    def chained(z: Any, t: Any) -> Any:  # right except where −t/s blows up
        s = _softmax(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _mean(np.einsum("...j,...jk->...k", -t / s, jacobian_at(s)), z)

    r = softgrad.verify(chained)
    assert [c.name for c in r.failed] == ["gap_800"]
    assert len(r.failed[0].matches) > 1  # several mistakes give NaN there
    assert r.diagnosis[0].id == "chained_underflow"
    assert r.diagnosis[0].consistent
    assert not any(d.consistent for d in r.diagnosis[1:])


def test_aggregate_reports_ties() -> None:
    def result(name: str, status: str) -> CaseResult:
        return CaseResult(name, "", "float64", ((0.0,),), ((0.0,),), None, "f(z, t)", (1,), status)

    results = [result("a", "fail"), result("b", "fail"), result("c", "pass")]
    found: list[dict[str, float]] = [
        {"double_softmax": 0.0, "nll_on_probabilities": 0.0},
        {"double_softmax": 0.0, "nll_on_probabilities": 0.0},
        {"double_softmax": 0.0, "nll_on_probabilities": 0.0, "sign_flipped": 0.0},
    ]
    diagnosis, tied = aggregate(results, found)
    assert tied == ("double_softmax", "nll_on_probabilities")
    assert [d.cases for d in diagnosis] == [("a", "b"), ("a", "b")]


# ------------------------------------------------------------------------------- the report itself


def test_report_is_frozen_and_to_dict_is_the_json() -> None:
    r = softgrad.verify(grad_with_jacobian_at, trials=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.kind = "softmax"  # type: ignore[misc]
    d = json.loads(render_json(r.to_dict()))
    assert d["status"] == "fail"
    assert d["kind"] == "grad"
    assert d["summary"]["fail"] == 9
    assert d["diagnosis"][0]["id"] == "jacobian_at_logits"
    assert d["diagnosis"][0]["consistent"] is True
    gap = next(c for c in d["cases"] if c["name"] == "gap_800")
    assert None in gap["output"][0]  # inf becomes null
    assert isinstance(softgrad.VerifyReport, type)
    assert isinstance(r, softgrad.VerifyReport)


def test_seed_and_trials() -> None:
    r = softgrad.verify(good_grad, trials=3, seed=5)
    assert [c.name for c in r.cases][-3:] == ["random_1", "random_2", "random_3"]
    assert r.trials == 3
    assert r.seed == 5
    assert len(softgrad.verify(good_grad, trials=0).cases) == 7


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"kind": "hessian"}, "kind"),
        ({"layout": "diagonal"}, "layout"),
        ({"reduction": "max"}, "reduction"),
        ({"jacobian_input": "t"}, "jacobian_input"),
        ({"backward_input": "z"}, "backward_input"),
        ({"trials": -1}, "trials"),
        ({"seed": -3}, "seed"),
        ({"rtol": float("nan")}, "rtol"),
        ({"atol": -1.0}, "atol"),
    ],
)
def test_bad_options_raise_input_error(kwargs: dict[str, Any], where: str) -> None:
    with pytest.raises(InputError) as exc:
        softgrad.verify(good_grad, **kwargs)
    assert exc.value.where == where


def test_not_callable_and_undetectable_kinds() -> None:
    with pytest.raises(InputError, match="expected a function, got an int"):
        softgrad.verify(3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="say which with --kind"):
        softgrad.verify(lambda a, b, c: a)
    with pytest.raises(InputError, match="names that do not say"):
        softgrad.verify(lambda m, n: m)
    with pytest.raises(InputError, match="softmax or its Jacobian"):
        softgrad.verify(lambda x: "nope")


def _diagonal_only_backward(s: Any, upstream: Any) -> Any:
    return upstream * s * (1 - s)


def _diagonal_only_jacobian(s: Any) -> Any:
    return (s * (1 - s))[..., :, None] * np.eye(s.shape[-1])


def _naive_softmax(z: Any) -> Any:
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


@pytest.mark.parametrize(
    ("fn", "kind", "mistake", "key"),
    [
        (_diagonal_only_backward, "backward", "diagonal_only", "user"),
        (_diagonal_only_jacobian, "jacobian", "diagonal_only", "user_jacobian"),
        (_naive_softmax, "softmax", "no_max_shift", "user"),
    ],
)
def test_every_kinds_check_command_reproduces_its_diagnosis(fn: Any, kind: str, mistake: str, key: str) -> None:
    from tests.conftest import run_json

    r = softgrad.verify(fn, kind, trials=1)
    assert r.diagnosis[0].id == mistake
    for case in r.failed:
        assert case.command is not None
        code, d = run_json(*case.command.split()[1:])
        assert code == 1, case.command
        assert d[key]["matches"][0] == mistake, case.name
