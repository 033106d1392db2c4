"""`softgrad explain`: the derivation with numbers, and the wrong step beside the right one."""

from __future__ import annotations

from softgrad import explain
from tests.conftest import run, run_json

WORKED = ("explain", "--z", "1.75", "1.75", "--t", "0", "1")

EXPECTED_WRONG_GRAD = """\
softgrad explain — z = [1.75, 1.75], t = [0, 1]

1. softmax
   s = softmax(z) = exp(z − max) / Σ exp(z − max)
     = [0.5, 0.5]
   subtracting the max logit changes nothing mathematically and keeps exp from overflowing

2. cross-entropy loss
   E = −Σ_k t_k·log s_k
     = 0.693147

3. derivative of the loss with respect to s
   g = dE/ds = −t / s
     = [0, -2]
   classes with t_k = 0 contribute 0

4. softmax Jacobian, evaluated at s (not at z)
   J(s) = ds/dz = diag(s) − s sᵀ,   J_jk = s_j·(δ_jk − s_k)
     = [ 0.25  -0.25]
       [-0.25   0.25]

5. chain rule: vector–Jacobian product
   dE/dz = g · J(s),   (g·J)_k = Σ_j g_j·s_j·(δ_jk − s_k)
     = [0.5, -0.5]

6. the fused shortcut, and why the two agree
   dE/dz = s·Σt − t
     = [0.5, -0.5]
   g_j·s_j = −t_j, so Σ_j g_j·s_j·(δ_jk − s_k) = −t_k + s_k·Σ_j t_j: the chain collapses to s·Σt − t \
(= s − t for one-hot or normalised targets)

✗ jacobian_at_logits: softmax Jacobian evaluated at the logits z instead of at s = softmax(z)
  where it goes wrong: step 4, softmax Jacobian, evaluated at s (not at z)
    wrong: J(z) = diag(z) − z zᵀ      right: J(s) = diag(s) − s sᵀ
      [-1.3125  -3.0625]                [ 0.25  -0.25]
      [-3.0625  -1.3125]                [-0.25   0.25]
  which then gives: step 5, chain rule: vector–Jacobian product
    wrong: g · J(z)       right: g · J(s) = s·Σt − t
      [6.125, 2.625]        [0.5, -0.5]

status: FAIL
"""


def test_explain_worked_example_with_wrong_gradient_line_by_line() -> None:
    r = run(*WORKED, "--grad", "6.125", "2.625")
    assert r.exit_code == 1
    assert r.stderr == ""
    assert r.stdout.splitlines() == EXPECTED_WRONG_GRAD.splitlines()


def test_explain_without_user_numbers_passes() -> None:
    r = run(*WORKED)
    assert r.exit_code == 0
    assert r.stdout.rstrip().endswith("status: PASS")
    assert "J(z)" not in r.stdout


def test_explain_with_wrong_jacobian() -> None:
    r = run(*WORKED, "--jacobian", "-1.3125", "-3.0625", "-3.0625", "-1.3125")
    assert r.exit_code == 1
    assert "wrong: J(z) = diag(z) − z zᵀ      right: J(s) = diag(s) − s sᵀ" in r.stdout


def test_explain_json_has_the_same_steps() -> None:
    code, d = run_json(*WORKED, "--grad", "6.125", "2.625")
    assert code == 1
    assert [s["id"] for s in d["steps"]] == ["softmax", "loss", "dE_ds", "jacobian", "vjp", "fused"]
    steps = {s["id"]: s for s in d["steps"]}
    assert steps["softmax"]["value"] == [0.5, 0.5]
    assert steps["dE_ds"]["value"] == [0.0, -2.0]
    assert steps["jacobian"]["value"] == [[0.25, -0.25], [-0.25, 0.25]]
    assert steps["vjp"]["value"] == [0.5, -0.5]
    assert steps["fused"]["value"] == [0.5, -0.5]
    wrong = d["wrong_steps"][0]
    assert wrong["mistake"] == "jacobian_at_logits"
    assert wrong["step"] == "jacobian"
    assert wrong["wrong"]["value"] == [[-1.3125, -3.0625], [-3.0625, -1.3125]]
    assert wrong["right"]["value"] == [[0.25, -0.25], [-0.25, 0.25]]


def test_explain_temperature_step() -> None:
    code, d = run_json("explain", "--z", "2", "0.5", "-1", "--t", "0", "1", "0", "--temperature", "2")
    assert code == 0
    assert d["steps"][-1]["id"] == "temperature"


def test_explain_unstable_input_says_why() -> None:
    r = run("explain", "--z", "0", "-800", "--t", "0", "1")
    assert r.exit_code == 0
    assert "s[1] underflows to 0" in r.stdout


def test_explain_api() -> None:
    rep = explain([1.75, 1.75], [0, 1], grad=[6.125, 2.625])
    assert rep.status == "fail"
    assert not rep.ok
    assert rep.to_dict()["wrong_steps"][0]["mistake"] == "jacobian_at_logits"


def test_explain_reports_ambiguity_as_check_does() -> None:
    args = ("explain", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "0.25", "-0.25")
    r = run(*args)
    assert r.exit_code == 1
    both = "✗ your gradient matches double_softmax and nll_on_probabilities: this input cannot tell them apart"
    assert both in r.stdout
    # each at the step where its formula departs: the softmax (applied twice), dE/ds (fed probabilities)
    assert "✗ double_softmax: softmax applied twice" in r.stdout
    assert "where it goes wrong: step 1, softmax" in r.stdout
    assert "✗ nll_on_probabilities:" in r.stdout
    assert "where it goes wrong: step 3, derivative of the loss with respect to s" in r.stdout
    assert "scaled_gradient" not in r.stdout  # a generic entry, named only when nothing specific matches
    assert "to tell them apart, compute your gradient at: softgrad check --z " in r.stdout
    code, d = run_json(*args)
    assert code == 1
    steps = {w["mistake"]: w["step"] for w in d["wrong_steps"]}
    assert steps == {"double_softmax": "softmax", "nll_on_probabilities": "dE_ds"}
    assert set(d["user"]["ambiguous"]) == {"double_softmax", "nll_on_probabilities"}
    assert d["user"]["distinguishing_input"]["command"].startswith("softgrad check --z ")


def test_explain_with_a_temperature_labels_the_steps_by_z_over_tau() -> None:
    r = run("explain", "--z", "2", "0.5", "-1", "--t", "0", "1", "0", "--temperature", "2")
    assert r.exit_code == 0
    assert "J(s) = ∂s/∂(z/τ) = diag(s) − s sᵀ" in r.stdout
    assert "∂E/∂(z/τ) = g · J(s)" in r.stdout
    assert "∂E/∂(z/τ) = s·Σt − t" in r.stdout
    assert "dE/dz = (s·Σt − t) / τ" in r.stdout
    assert "ds/dz/τ" not in r.stdout


def test_explain_a_forgotten_temperature_points_at_the_temperature_step() -> None:
    rep = explain([2, 0.5, -1], [0, 1, 0], temperature=2, grad=[0.589798, -0.721399, 0.131602], rtol=1e-5)
    wrong = rep.to_dict()["wrong_steps"]
    assert [(w["mistake"], w["step"]) for w in wrong] == [("missing_temperature", "temperature")]


def test_explain_with_rounded_numbers_says_to_how_many_decimals() -> None:
    r = run("explain", "--z", "2", "0.5", "-1", "--label", "1", "--grad", "0.7856", "-0.8247", "0.0391")
    assert r.exit_code == 0
    assert "✓ your gradient matches dE/dz to the 4 decimals you gave" in r.stdout
    r = run("explain", "--z", "2", "0.5", "-1", "--label", "1", "--grad", "0", "-0.8247", "0")
    assert r.exit_code == 1
    assert "✗ diagonal_only to the 4 decimals you gave:" in r.stdout
    assert "where it goes wrong: step 4, softmax Jacobian" in r.stdout


def test_explain_a_correct_gradient_suggests_an_input_for_what_it_cannot_rule_out() -> None:
    r = run("explain", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "0.5", "-0.5")
    assert r.exit_code == 0
    # the two entries that equal the reference for one-hot targets, told apart by soft ones
    assert "not ruled out by this input: assumes_one_hot, soft_targets_as_argmax" in r.stdout
    assert "to rule them out, compute your gradient at: softgrad check --z " in r.stdout
