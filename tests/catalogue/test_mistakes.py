"""The catalogue: every entry is diagnosed as itself; ambiguity is resolved by a proposed input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softgrad import MISTAKES, check
from softgrad.catalogue.exposing import distinguishing_input
from softgrad.core import fused_gradient
from tests.conftest import run, run_json

ROW_IDS = [m.id for m in MISTAKES.rows()]
Z3, T3 = [2.0, 0.5, -1.0], [0.0, 1.0, 0.0]


def _args(xs: list[float] | tuple[float, ...]) -> list[str]:
    return [repr(float(x)) for x in xs]


def test_catalogue_has_the_required_ids() -> None:
    required = {
        "jacobian_at_logits", "diagonal_only", "missing_outer_term", "hadamard_rowsum", "no_jacobian",
        "sign_flipped", "logits_as_probabilities", "double_softmax", "nll_on_probabilities", "assumes_one_hot",
        "binary_ce_through_softmax", "missing_temperature", "no_max_shift",
    }  # fmt: skip
    assert required <= set(MISTAKES)
    for m in MISTAKES.values():
        assert m.id
        assert m.title
        assert m.formula
        assert m.exposes


def test_issue_numbers_at_the_asymmetric_example() -> None:
    r = check(Z3, T3)
    assert np.round(r.fused, 4).tolist() == [0.7856, -0.8247, 0.0391]
    got = {m.id: np.round(m.gradient, 4).tolist() for m in r.mistakes}
    assert got["jacobian_at_logits"] == [5.7048, -1.4262, -2.8524]
    assert got["double_softmax"] == [0.1769, -0.1755, -0.0014]
    assert got["nll_on_probabilities"] == [0.1377, -0.1446, 0.0069]


def test_hadamard_rowsum_is_always_zero() -> None:
    rng = np.random.default_rng(0)
    z, t = rng.normal(size=(20, 7)), rng.uniform(size=(20, 7))
    assert np.allclose(MISTAKES["hadamard_rowsum"].gradient(z, t), 0.0, atol=1e-12)


@pytest.mark.parametrize("mid", ROW_IDS)
def test_each_mistake_is_diagnosed_as_itself_at_an_exposing_input(mid: str) -> None:
    found = distinguishing_input([mid], 3, 1.0, pairwise=False)
    assert found is not None, mid
    wrong = MISTAKES[mid].gradient(np.array([found.z]), np.array([found.t]), found.temperature)[0]
    args = ["check", "--z", *_args(found.z), "--t", *_args(found.t), "--temperature", repr(found.temperature)]
    code, d = run_json(*args, "--grad", *[repr(float(x)) for x in wrong])
    assert code == 1
    assert d["user"]["verdict"] == "mistake"
    assert d["user"]["matches"][0] == mid
    right = fused_gradient(np.array([found.z]), np.array([found.t]), found.temperature)[0]
    code, d = run_json(*args, "--grad", *_args(right))
    assert code == 0
    assert d["user"]["verdict"] == "correct"
    assert d["user"]["matches"] == []


@st.composite
def asymmetric(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    k = draw(st.integers(3, 8))
    z = np.array(draw(st.lists(st.floats(-6, 6), min_size=k, max_size=k, unique=True)))
    target = draw(st.sampled_from([i for i in range(k) if i != int(np.argmax(z))]))
    if draw(st.booleans()):
        t = np.zeros(k)
        t[target] = 1.0
    else:
        t = np.array(draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)))
        t[target] += 0.5
    return z, t


@given(asymmetric())
def test_every_entry_is_diagnosed_as_itself_where_it_differs(p: tuple[np.ndarray, np.ndarray]) -> None:
    z, t = p
    for m in MISTAKES.rows():
        wrong = m.gradient(z[None], t[None])[0]
        r = check(z, t, grad=wrong)
        if r.user is None or r.user.ok:
            continue  # equals the reference here: nothing to diagnose
        ids = [x.id for x in r.user.matches]
        if m.fallback and ids and m.id not in ids:
            continue  # a generic entry is named only where no specific one explains the numbers
        assert m.id in ids, (m.id, ids)
        mine = next(x for x in r.user.matches if x.id == m.id)
        assert r.user.matches[0].ratio == mine.ratio or m.id in r.user.ambiguous


def test_ambiguous_ids_get_a_distinguishing_input_on_request() -> None:
    code, d = run_json("check", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "0.25", "-0.25")
    assert code == 1
    assert set(d["user"]["ambiguous"]) == {"double_softmax", "nll_on_probabilities"}
    assert d["user"]["distinguishing_input"] is None  # only with --rule-out
    code, d = run_json("check", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "0.25", "-0.25", "--rule-out")
    assert code == 1
    user = d["user"]
    assert set(user["matches"]) == {"double_softmax", "nll_on_probabilities"}
    assert set(user["ambiguous"]) == {"double_softmax", "nll_on_probabilities"}
    di = user["distinguishing_input"]
    assert di["command"].startswith("softgrad check --z ")
    # the user's conventions: K = 2 kept, no temperature, logits with at most two decimals
    assert len(di["z"]) == 2
    assert di["temperature"] == 1.0
    assert all(round(x, 2) == x for x in di["z"])
    z, t = np.array([di["z"]]), np.array([di["t"]])
    assert int(np.argmax(z)) != int(np.argmax(t))
    a = MISTAKES["double_softmax"].gradient(z, t)[0]
    b = MISTAKES["nll_on_probabilities"].gradient(z, t)[0]
    # at the proposed input each mistake is recognised alone
    for wrong, mid in ((a, "double_softmax"), (b, "nll_on_probabilities")):
        r = check(z[0], t[0], grad=wrong, temperature=di["temperature"])
        assert r.user is not None
        assert [m.id for m in r.user.matches] == [mid]


@pytest.mark.parametrize(
    "ids",
    [
        ["double_softmax", "nll_on_probabilities"],
        ["assumes_one_hot"],
        ["missing_temperature", "assumes_one_hot"],
        ["no_max_shift", "chained_underflow", "assumes_one_hot", "missing_temperature"],
    ],
)
def test_distinguishing_inputs_really_separate(ids: list[str]) -> None:
    found = distinguishing_input(ids, 2, 1.0, pairwise=len(ids) == 2 and "double_softmax" in ids)
    assert found is not None
    z, t = np.array([found.z]), np.array([found.t])
    ref = fused_gradient(z, t, found.temperature)[0]
    for mid in ids:
        wrong = MISTAKES[mid].gradient(z, t, found.temperature)[0]
        assert not np.allclose(wrong, ref, rtol=1e-3, atol=1e-3, equal_nan=True), mid


def test_correct_gradient_with_sum_one_notes_assumes_one_hot() -> None:
    code, d = run_json("check", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "0.5", "-0.5")
    assert code == 0
    assert d["user"]["verdict"] == "correct"
    assert d["user"]["ambiguous"] == []
    # not missing_temperature (no temperature given), nor the floating-point or generic entries; the two
    # entries that equal the reference for one-hot targets (and that soft targets tell apart)
    assert d["user"]["not_ruled_out"] == ["assumes_one_hot", "soft_targets_as_argmax"]
    assert d["user"]["distinguishing_input"] is None
    code, d = run_json("check", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "0.5", "-0.5", "--rule-out")
    di = d["user"]["distinguishing_input"]
    assert di is not None
    assert abs(sum(di["t"]) - 1.0) > 1e-3
    assert len(di["z"]) <= 4
    assert di["temperature"] == 1.0


def test_correct_gradient_with_a_label_is_a_clean_correct() -> None:
    r = run("check", "--z", "1.75", "1.75", "--label", "1", "--grad", "0.5", "-0.5")
    assert r.exit_code == 0
    assert "✓ your gradient matches the reference\n" in r.stdout
    assert "not ruled out" not in r.stdout  # with one-hot targets s − t is not a mistake
    assert "ambiguous" not in r.stdout
    assert "note:" not in r.stdout


def test_a_suggested_input_keeps_one_hot_targets() -> None:
    code, d = run_json("check", "--z", "1.75", "1.75", "--label", "1", "--grad", "0.25", "-0.25", "--rule-out")
    assert code == 1
    di = d["user"]["distinguishing_input"]
    assert di["label"] is not None
    assert sorted(di["t"]) == [0.0] * (len(di["t"]) - 1) + [1.0]
    assert f"--label {di['label']}" in di["command"]
    assert "--t " not in di["command"]
    assert "--temperature" not in di["command"]


def test_a_suggested_input_keeps_the_temperature_and_at_most_4_classes() -> None:
    z = ["0.5"] * 10
    t = ["0"] * 9 + ["1"]
    grad = [
        repr(float(x)) for x in MISTAKES["double_softmax"].gradient(np.array([[0.5] * 10]), np.eye(10)[[9]], 3.0)[0]
    ]
    code, d = run_json("check", "--z", *z, "--t", *t, "--temperature", "3", "--grad", *grad, "--rule-out")
    assert code == 1
    di = d["user"]["distinguishing_input"]
    assert di is not None
    assert len(di["z"]) <= 4
    assert di["temperature"] == 3.0


def test_unknown_mismatch_lists_the_closest() -> None:
    code, d = run_json("check", "--z", *_args(Z3), "--t", *_args(T3), "--grad", "0.3", "0.2", "0.1")
    assert code == 1
    assert d["user"]["verdict"] == "unknown"
    assert len(d["user"]["closest"]) == 3
    assert d["user"]["matches"] == []


def test_nan_from_overflow_is_no_max_shift() -> None:
    z = [1000.0, 999.0, 0.0]
    wrong = MISTAKES["no_max_shift"].gradient(np.array([z]), np.array([[0.0, 1.0, 0.0]]))[0]
    assert not np.isfinite(wrong).all()
    r = run("check", "--z", *_args(z), "--t", "0", "1", "0", "--grad", *[str(x) for x in wrong])
    assert r.exit_code == 1
    assert "it matches no_max_shift" in r.stdout
    assert "subtract the max logit" in r.stdout


def test_nan_from_underflow_is_chained_underflow() -> None:
    z, t = [0.0, -800.0, 1.0], [0.0, 1.0, 0.0]
    wrong = MISTAKES["chained_underflow"].gradient(np.array([z]), np.array([t]))[0]
    r = check(z, t, grad=wrong)
    assert r.user is not None
    assert r.user.matches[0].id == "chained_underflow"
    assert any("underflowed" in n for n in r.user.notes)


def test_worked_example_jacobian() -> None:
    code, d = run_json("check", "--z", "1.75", "1.75", "--t", "0", "1", "--jacobian", "-1.3125", "-3.0625", "-3.0625",
                       "-1.3125")  # fmt: skip
    assert code == 1
    uj = d["user_jacobian"]
    assert uj["matches"] == ["jacobian_at_logits"]
    inv = {i["name"]: i for i in uj["invariants"]}
    assert inv["rows sum to 0"]["ok"] is False
    assert "-4.375" in inv["rows sum to 0"]["detail"]
    assert inv["symmetric"]["ok"] is True
    assert inv["0 <= diagonal <= 1/4"]["ok"] is False
    assert len(uj["wrong_entries"]) == 4
    r = run("check", "--z", "1.75", "1.75", "--t", "0", "1", "--jacobian", "-1.3125", "-3.0625", "-3.0625", "-1.3125")
    assert "it matches jacobian_at_logits" in r.stdout
    assert "row sums: [-4.375, -4.375]" in r.stdout


def test_diagonal_only_jacobian_is_recognised() -> None:
    s = np.exp(Z3) / np.exp(Z3).sum()
    r = check(Z3, T3, jacobian=np.diag(s * (1 - s)).ravel())
    assert r.user_jacobian is not None
    assert r.user_jacobian.matches == ("diagonal_only",)
    inv = {i.name: i.ok for i in r.user_jacobian.invariants}
    assert inv == {"rows sum to 0": False, "symmetric": True, "0 <= diagonal <= 1/4": True}


def test_right_jacobian_passes() -> None:
    code, d = run_json("check", "--z", "1.75", "1.75", "--t", "0", "1", "--jacobian", "0.25", "-0.25", "-0.25", "0.25")
    assert code == 0
    assert d["user_jacobian"]["ok"]
    assert all(i["ok"] for i in d["user_jacobian"]["invariants"])


def test_jacobian_wrong_size_is_a_usage_error() -> None:
    r = run("check", "--z", "1", "2", "--t", "0", "1", "--jacobian", "1", "2", "3")
    assert r.exit_code == 2
    assert "--jacobian: expected K×K = 4 values" in r.stderr


def test_mistakes_listing_and_one_entry() -> None:
    r = run("mistakes")
    assert r.exit_code == 0
    for mid in MISTAKES:
        assert mid in r.stdout
    code, d = run_json("mistakes", "jacobian_at_logits", "--z", "1.75", "1.75", "--t", "0", "1")
    assert code == 0
    assert d["gradient"] == [6.125, 2.625]
    assert d["reference"] == [0.5, -0.5]
    assert d["differs"] is True
    assert d["jacobian"] == [[-1.3125, -3.0625], [-3.0625, -1.3125]]
    code, d = run_json("mistakes", "assumes_one_hot")
    assert d["at"]["found"] is True
    assert d["differs"] is True


def test_mistakes_unknown_id_suggests() -> None:
    r = run("mistakes", "asumes_one_hot")
    assert r.exit_code == 2
    assert "did you mean assumes_one_hot?" in r.stderr


def test_temperature_applies_everywhere() -> None:
    code, d = run_json("check", "--z", *_args(Z3), "--t", *_args(T3), "--temperature", "2")
    assert code == 0
    wrong = next(m for m in d["mistakes"] if m["id"] == "missing_temperature")
    assert wrong["differs"] is True
    assert np.allclose(np.array(wrong["gradient"]) / 2, d["gradients"]["fused"])


def test_readme_documents_every_catalogue_entry() -> None:
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    for m in MISTAKES.values():
        formula = m.formula.replace("|", "\\|")
        assert f"| `{m.id}` | {m.title} | `{formula}` |" in readme, m.id
