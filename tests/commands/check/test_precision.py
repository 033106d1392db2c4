"""Numbers as people type them: each compared to the decimals it was written with, for the reference and for
every catalogued mistake alike; pasted printouts; --exact; softgrad's own table typed back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from softgrad import MISTAKES, check, explain
from softgrad.core import fused_gradient
from softgrad.core.tolerance import DEFAULT_TOLERANCES
from tests.conftest import run, run_json

Z3 = ("--z", "2", "0.5", "-1")
ROUNDED = ("--grad", "0.7856", "-0.8247", "0.0391")  # the reference (0.785597, -0.82471, 0.0391126) to 4 decimals
ROW_IDS = [m.id for m in MISTAKES.rows()]


def test_a_correct_gradient_typed_to_4_decimals_is_correct() -> None:
    r = run("check", *Z3, "--label", "1", *ROUNDED)
    assert r.exit_code == 0, r.stdout
    assert r.stderr == ""
    assert "✓ your gradient matches the reference to the 4 decimals you gave\n" in r.stdout
    assert "your numbers may also be off by half a unit in the last digit you wrote" in r.stdout
    assert r.stdout.rstrip().endswith("status: PASS")


def test_the_json_reports_the_precision_per_element() -> None:
    code, d = run_json("check", *Z3, "--label", "1", "--grad", "0.786", "-0.8247", "0.04")
    assert code == 0
    assert d["user"]["verdict"] == "correct"
    assert d["user"]["precision"] == [5e-4, 5e-5, 5e-3]
    assert d["user"]["within_precision"] is True
    assert d["tolerance"]["precision"] == "as written"
    assert d["tolerance"]["formula"] == "|a − b| <= atol + rtol·|ref| + precision"


def test_an_integer_is_exact() -> None:
    code, d = run_json("check", *Z3, "--label", "1", "--grad", "0.7856", "-0.8247", "0")
    assert code == 1  # 0 is exact, and the reference's third element is 0.0391
    assert d["user"]["precision"] == [5e-5, 5e-5, 0.0]


def test_a_wrong_gradient_typed_to_4_decimals_is_named() -> None:
    # diagonal_only at z = (2, 0.5, -1), label 1: (0, -0.8247, 0) exactly -0.824710... in the middle
    r = run("check", *Z3, "--label", "1", "--grad", "0", "-0.8247", "0")
    assert r.exit_code == 1
    assert "it matches diagonal_only to the 4 decimals you gave" in r.stdout
    _, d = run_json("check", *Z3, "--label", "1", "--grad", "0", "-0.8247", "0")
    assert d["user"]["matches"][0] == "diagonal_only"
    assert d["user"]["match_details"][0]["within_precision"] is True


def test_exact_compares_at_the_tolerance_alone() -> None:
    code, d = run_json("check", *Z3, "--label", "1", *ROUNDED, "--exact")
    assert code == 1
    assert d["user"]["verdict"] == "unknown"
    assert d["user"]["precision"] == [0.0, 0.0, 0.0]
    assert d["tolerance"]["precision"] == "exact"
    assert any("without --exact" in n for n in d["user"]["notes"])


def test_explicit_tolerances_win_alone() -> None:
    code, d = run_json("check", *Z3, "--label", "1", *ROUNDED, "--atol", "1e-9")
    assert code == 1  # --atol 1e-9 is the whole tolerance: no precision on top
    assert d["tolerance"]["precision"] == "rtol/atol given"
    code, d = run_json("check", *Z3, "--label", "1", *ROUNDED, "--rtol", "1e-3")
    assert code == 0
    assert d["user"]["precision"] == [0.0, 0.0, 0.0]


def test_full_precision_text_is_compared_exactly() -> None:
    ref = fused_gradient(np.array([[2.0, 0.5, -1.0]]), np.array([[0.0, 1.0, 0.0]]), 1.0)[0]
    off = [f"{x + 1e-6:.17g}" for x in ref]  # 17 significant digits: exact, and 1e-6 off
    code, d = run_json("check", *Z3, "--label", "1", "--grad", *off)
    assert code == 1
    assert d["user"]["precision"] == [0.0, 0.0, 0.0]


def test_python_floats_are_exact_text_is_not() -> None:
    floats = check([2, 0.5, -1], label=1, grad=[0.7856, -0.8247, 0.0391])
    assert floats.user is not None
    assert floats.user.verdict == "unknown"
    text = check([2, 0.5, -1], label=1, grad="0.7856 -0.8247 0.0391")
    assert text.user is not None
    assert text.user.verdict == "correct"
    assert text.user.within_precision
    strings = check([2, 0.5, -1], label=1, grad=["0.7856", "-0.8247", "0.0391"])
    assert strings.ok
    assert not check([2, 0.5, -1], label=1, grad="0.7856 -0.8247 0.0391", exact=True).ok


@pytest.mark.parametrize(
    "pasted",
    [
        "[0.7856, -0.8247, 0.0391]",
        "array([ 0.7856, -0.8247,  0.0391])",
        "tensor([ 0.7856, -0.8247,  0.0391], dtype=torch.float64)",
        "tensor([[ 0.7856, -0.8247,  0.0391]], grad_fn=<SubBackward0>)",
        "[0.7856 -0.8247  0.0391]",
    ],
)
def test_pasted_printouts_are_numbers(pasted: str) -> None:
    code, d = run_json("check", *Z3, "--label", "1", "--grad", pasted)
    assert code == 0, d
    assert d["user"]["precision"] == [5e-5, 5e-5, 5e-5]


def test_an_unquoted_bracketed_list_works_too() -> None:
    code, _ = run_json("check", *Z3, "--label", "1", "--grad", "[0.7856,", "-0.8247,", "0.0391]")
    assert code == 0


def test_nested_printouts_for_the_jacobian(tmp_path: Path) -> None:
    code, d = run_json("check", "--z", "1.75", "1.75", "--t", "0", "1", "--jacobian", "[[0.25, -0.25], [-0.25, 0.25]]")
    assert code == 0
    assert d["user_jacobian"]["ok"]
    jf = tmp_path / "J.txt"
    jf.write_text("array([[-1.3125, -3.0625],\n       [-3.0625, -1.3125]])\n")
    code, d = run_json("check", "--z", "1.75", "1.75", "--t", "0", "1", "--jacobian-file", str(jf))
    assert code == 1
    assert d["user_jacobian"]["matches"] == ["jacobian_at_logits"]
    assert d["user_jacobian"]["precision"] == [[5e-5, 5e-5], [5e-5, 5e-5]]


def test_a_rounded_jacobian_passes_with_its_invariants() -> None:
    # J(s) at z = (2, 0.5, -1), rounded to 4 decimals: its rows sum to 1e-4 at most, not to 0
    s = np.exp([2, 0.5, -1]) / np.exp([2, 0.5, -1]).sum()
    jac = np.diag(s) - np.outer(s, s)
    text = [f"{x:.4f}" for x in jac.ravel()]
    code, d = run_json("check", *Z3, "--label", "1", "--jacobian", *text)
    assert code == 0, d["user_jacobian"]
    assert all(i["ok"] for i in d["user_jacobian"]["invariants"])
    assert d["user_jacobian"]["within_precision"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--grad", "[0.7856, -0.8247"), "--grad: value 1: '[' is never closed"),
        (("--grad", "0.7856, -0.8247]"), "--grad: value 3: ']' closes nothing"),
        (("--grad", "[0.7856, abc, 0.1]"), "--grad: value 2: 'abc' is not a number"),
        (("--grad", "array([0.1, ..., 0.3])"), "--grad: value 2: the printout is cut short"),
        (("--jacobian", "[[1, 2, 3], [4, 5, 6], [7, 8]]"), "--jacobian: row 3 has 2 values, row 1 has 3"),
    ],
)
def test_bad_printouts_get_one_line_with_the_place(args: tuple[str, ...], message: str) -> None:
    r = run("check", *Z3, "--label", "1", *args)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_printout_in_a_file_names_line_and_column(tmp_path: Path) -> None:
    gf = tmp_path / "g.txt"
    gf.write_text("tensor([0.7856,\n        -0.8247, oops])\n")
    r = run("check", *Z3, "--label", "1", "--grad-file", str(gf))
    assert r.exit_code == 2
    assert f"{gf}:2:18: 'oops' is not a number" in r.stderr


def test_case_file_numbers_keep_their_text(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_text('{"z": [2, 0.5, -1], "label": 1, "grad": [0.7856, -0.8247, 0.0391]}')
    code, d = run_json("check", "--case", str(case))
    assert code == 0
    assert d["user"]["precision"] == [5e-5, 5e-5, 5e-5]
    case.write_text('{"z": [2, 0.5, -1], "label": 1, "jacobian": [[0.1685, -0.1377], [1, 2]]}')
    r = run("check", "--case", str(case))
    assert r.exit_code == 2
    assert "key 'jacobian'" in r.stderr


def test_grad_file_with_rounded_numbers(tmp_path: Path) -> None:
    gf = tmp_path / "g.txt"
    gf.write_text("0.7856\n-0.8247\n0.0391\n")
    code, d = run_json("check", *Z3, "--label", "1", "--grad-file", str(gf))
    assert code == 0
    assert d["user"]["precision"] == [5e-5, 5e-5, 5e-5]


def _table_row(stdout: str, label: str, k: int) -> list[str]:
    for row in stdout.splitlines():
        if row.startswith(label):
            return row.split()[-k - 1 : -1]
    raise AssertionError(f"no row {label!r}")


@pytest.mark.parametrize(
    "args",
    [
        ("--z", "2", "0.5", "-1", "--label", "1"),
        ("--z", "0.3", "-1.2", "2.5", "0", "1.1", "--t", "0.1", "0.2", "0.3", "0.2", "0.2"),
        ("--z", "1", "2", "3", "--t", "0", "0", "1", "--temperature", "0.7"),
        ("--z", "-3.5", "8", "0.25", "1e-3", "--label", "0"),
        ("--z", "-4", "3", "--label", "0", "--temperature", "0.5"),  # -1.9999983 is shown as -2.00000, not -2
    ],
)
def test_a_row_of_softgrads_table_typed_back_is_correct(args: tuple[str, ...]) -> None:
    first = run("check", *args)
    k = args.index("--label") - 1 if "--label" in args else args.index("--t") - 1
    fused = _table_row(first.stdout, "fused", k)
    again = run("check", *args, "--grad", *fused)
    assert again.exit_code == 0, again.stdout
    assert "✓ your gradient matches the reference" in again.stdout
    # and the classic mistake's row typed back is named
    wrong = _table_row(first.stdout, "jacobian_at_logits", k)
    named = run("check", *args, "--grad", *wrong)
    assert named.exit_code == 1
    assert "it matches jacobian_at_logits" in named.stdout


def test_a_column_of_the_vertical_table_typed_back_is_correct() -> None:
    z = [str(round(0.37 * i - 1, 2)) for i in range(8)]
    first = run("check", "--z", *z, "--label", "5")
    rows = [r.split() for r in first.stdout.splitlines() if r.split() and r.split()[0].isdigit() and len(r.split()) > 5]
    fused = [r[4] for r in rows]
    assert len(fused) == 8
    again = run("check", "--z", *z, "--label", "5", "--grad", *fused)
    assert again.exit_code == 0, again.stdout


def test_with_a_temperature_the_right_line_is_tempered() -> None:
    wrong = fused_gradient(np.array([[2.0, 0.5, -1.0]]), np.array([[0.0, 1.0, 0.0]]), 2.0)[0] * 2
    r = run("check", *Z3, "--label", "1", "--temperature", "2", "--grad", *[repr(float(x)) for x in wrong])
    assert r.exit_code == 1
    assert "right: (−t/s)·J(s)/τ = (s·Σt − t)/τ" in r.stdout


def test_closest_is_never_a_mistake_that_is_nan_here() -> None:
    # at z = (800, 0) the softmax without max shift overflows: no_max_shift is NaN where yours is finite
    code, d = run_json("check", "--z", "800", "0", "--t", "0", "1", "--grad", "0.3", "-0.2")
    assert code == 1
    assert d["user"]["verdict"] == "unknown"
    closest = d["user"]["closest"]
    assert closest
    assert all(c["max_abs_err"] is not None and c["max_abs_err"] > 0 for c in closest)
    assert "no_max_shift" not in [c["id"] for c in closest]


def test_scaled_gradient_shows_its_factor_in_json_and_explain() -> None:
    ref = fused_gradient(np.array([[2.0, 0.5, -1.0]]), np.array([[0.0, 1.0, 0.0]]), 1.0)[0]
    third = [f"{x / 3:.4f}" for x in ref]
    code, d = run_json("check", *Z3, "--label", "1", "--grad", *third)
    assert code == 1
    detail = d["user"]["match_details"][0]
    assert detail["id"] == "scaled_gradient"
    assert detail["factor"] == "÷ K = 3"
    assert "len(y)" in detail["advice"]
    e = explain([2, 0.5, -1], label=1, grad=" ".join(third)).to_dict()
    wrong = e["wrong_steps"][0]
    assert wrong["mistake"] == "scaled_gradient"
    assert wrong["factor"] == "÷ K = 3"
    assert wrong["wrong"]["formula"] == "(s·Σt − t) ÷ K = 3"
    r = run("explain", *Z3, "--label", "1", "--grad", *third)
    assert "✗ scaled_gradient to the 4 decimals you gave" in r.stdout
    assert "did you divide by len(y)" in r.stdout


@st.composite
def inputs(draw: st.DrawFn) -> tuple[list[float], list[float], int | None, float]:
    k = draw(st.integers(2, 5))
    z = [round(x, 2) for x in draw(st.lists(st.floats(-4, 4), min_size=k, max_size=k))]
    tau = draw(st.sampled_from([1.0, 1.0, 0.5, 2.0]))
    if draw(st.booleans()):
        label = draw(st.integers(0, k - 1))
        t = [0.0] * k
        t[label] = 1.0
        return z, t, label, tau
    t = [round(x, 2) for x in draw(st.lists(st.floats(0, 1), min_size=k, max_size=k))]
    assume(sum(t) > 0.05)
    return z, t, None, tau


def _typed(values: np.ndarray, d: int) -> str:
    return " ".join(f"{x:.{d}f}" for x in values)


@settings(max_examples=40)
@given(inputs(), st.integers(2, 8))
def test_any_gradient_rounded_to_d_decimals_passes(
    p: tuple[list[float], list[float], int | None, float], d: int
) -> None:
    z, t, label, tau = p
    ref = fused_gradient(np.array([z]), np.array([t]), tau)[0]
    kwargs = {"label": label} if label is not None else {"t": t}
    r = check(z, grad=_typed(ref, d), temperature=tau, **kwargs)  # type: ignore[arg-type]
    assert r.user is not None
    assert r.user.verdict == "correct", (r.user.comparison, _typed(ref, d))


@settings(max_examples=60)
@given(inputs(), st.integers(2, 8), st.sampled_from(ROW_IDS))
def test_any_mistake_rounded_to_d_decimals_is_named(
    p: tuple[list[float], list[float], int | None, float], d: int, mid: str
) -> None:
    z, t, label, tau = p
    zz, tt = np.array([z]), np.array([t])
    ref = fused_gradient(zz, tt, tau)[0]
    wrong = MISTAKES[mid].gradient(zz, tt, tau)[0]
    assume(np.all(np.isfinite(wrong)))
    tol = DEFAULT_TOLERANCES["float64"]
    half = 0.5 * 10.0**-d
    # where the mistake differs from the reference by more than the rounding, it must be named
    assume(np.any(np.abs(wrong - ref) > 2 * half + tol.atol + tol.rtol * np.abs(ref) + 1e-12))
    kwargs = {"label": label} if label is not None else {"t": t}
    r = check(z, grad=_typed(wrong, d), temperature=tau, **kwargs)  # type: ignore[arg-type]
    assert r.user is not None
    assert r.user.verdict == "mistake", (mid, r.user.verdict, [m.id for m in r.user.closest])
    ids = [m.id for m in r.user.matches]
    if MISTAKES[mid].fallback:
        assert mid in ids or all(not MISTAKES[i].fallback for i in ids)
    else:
        assert mid in ids, (mid, ids)


def test_a_rounded_gradient_in_a_notebook_reads_in_words() -> None:
    r = check([2, 0.5, -1], label=1, grad="[0.1769, -0.1755, -0.0014]")
    text = str(r)
    assert "it matches double_softmax to the 4 decimals you gave" in text
    assert json.loads(json.dumps(r.to_dict()))["user"]["precision"] == [5e-5, 5e-5, 5e-5]


@settings(max_examples=40)
@given(inputs())
def test_the_numbers_softgrad_prints_typed_back_pass(p: tuple[list[float], list[float], int | None, float]) -> None:
    from softgrad.render.layout import num

    z, t, label, tau = p
    kwargs = {"label": label} if label is not None else {"t": t}
    shown = check(z, temperature=tau, **kwargs)  # type: ignore[arg-type]
    typed = " ".join(num(x) for x in shown.fused)  # exactly as the table prints them
    again = check(z, grad=typed, temperature=tau, **kwargs)  # type: ignore[arg-type]
    assert again.user is not None
    assert again.user.verdict == "correct", typed


def test_closest_leaves_out_entries_that_are_the_reference_here() -> None:
    # Σt = 1: assumes_one_hot, missing_temperature (τ = 1) and chained_underflow all give the reference here,
    # so as "closest" they would only repeat the distance to the reference
    code, d = run_json(
        "check", "--z", "0.5", "1.2", "-0.3", "2", "--t", "0.1", "0.7", "0.1", "0.1", "--grad", "0.1182", "-0.461",
        "-0.0418", "0.3846",
    )  # fmt: skip
    assert code == 1
    ids = [c["id"] for c in d["user"]["closest"]]
    assert len(ids) == 3
    assert not {"assumes_one_hot", "missing_temperature", "chained_underflow", "no_max_shift"} & set(ids)


def test_a_typeset_minus_and_a_tuple_are_numbers_too() -> None:
    code, d = run_json("check", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "(0.5, −0.5)")
    assert code == 0
    assert d["user"]["gradient"] == [0.5, -0.5]
    assert d["user"]["precision"] == [0.05, 0.05]
    assert d["user"]["within_precision"] is False  # it matches exactly: the precision was not needed


def test_a_list_written_by_a_program_is_exact_throughout() -> None:
    # one number with 17 significant digits: the list came from repr (as verify's commands do), so its
    # short numbers are exact values; 0.5 is not 0.5 ± 0.05 here
    ref = fused_gradient(np.array([[2.0, 0.5, -1.0]]), np.array([[0.0, 1.0, 0.0]]), 1.0)[0]
    typed = [repr(float(ref[0])), "-0.82", repr(float(ref[2]))]
    code, d = run_json("check", *Z3, "--label", "1", "--grad", *typed)
    assert code == 1
    assert d["user"]["precision"] == [0.0, 0.0, 0.0]
    code, d = run_json("check", *Z3, "--label", "1", "--grad", "0.786", "-0.82", "0.039")
    assert code == 0  # the same short numbers, typed by hand: to the decimals written


def test_verify_commands_reproduce_exactly() -> None:
    from softgrad.catalogue.exposing import check_command

    z, t = np.array([2.0, 1.0, 0.1, -1.5]), np.array([0.0, 0.0, 1.0, 0.0])
    wrong = fused_gradient(z[None], t[None], 1.0)[0] + np.array([0.0, 0.0, 1e-6, -1e-6])
    command = check_command(z, t, grad=wrong).split()[2:]
    code, d = run_json("check", *command)
    assert code == 1, d["user"]


def test_the_precision_note_quotes_one_of_the_users_own_numbers() -> None:
    r = run("check", "--z", "2", "0.5", "-1", "--label", "1", "--grad", "0.79", "-0.82", "0.04")
    assert "(0.79: ±5e-3)" in r.stdout


def test_a_jacobian_without_the_one_over_tau_is_missing_temperature() -> None:
    """With a temperature, check compares ∂s/∂z = J(s)/τ; J(s) itself (typed to 4 decimals) is the forgotten
    1/τ, and the verdict says which Jacobian it was compared with."""
    jac = "[[0.2419,-0.1643,-0.0776],[-0.1643,0.2010,-0.0367],[-0.0776,-0.0367,0.1143]]"
    r = run("check", "--z", "2", "0.5", "-1", "--label", "1", "--temperature", "2", "--jacobian", jac)
    assert r.exit_code == 1
    assert "differs from ∂s/∂z = J(s)/τ = (diag(s) − s sᵀ)/2" in r.stdout
    assert "it matches missing_temperature" in r.stdout
