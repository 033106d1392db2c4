"""verify takes code as it is written: targets probed, tuples, methods, instances, the layer protocol,
targets first, the reduction detected — each detection stated, each overridable."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

import softgrad
from softgrad.commands.verify.calls import Outcome, describe
from softgrad.commands.verify.detect import pick
from softgrad.commands.verify.session import CallFailed, InProcessSession
from softgrad.commands.verify.user_code import UserFunction
from softgrad.errors import InputError


def _softmax(z: Any) -> Any:
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _onehot(labels: Any, k: int) -> Any:
    return np.eye(k)[labels]


def labels_only(logits: Any, labels: Any) -> Any:
    """Class indices: an int for one example, an int array for a batch (mean)."""
    s = _softmax(logits)
    if s.ndim == 1:
        return s - _onehot(labels, s.shape[0])
    return (s - _onehot(labels, s.shape[1])) / s.shape[0]


def argmax_of_soft(z: Any, y: Any) -> Any:
    """Takes floats or indices; floats reduced to their argmax (right for hard labels only)."""
    idx = np.argmax(y, axis=-1) if np.ndim(y) == np.ndim(z) else y
    s = _softmax(z)
    g = s - _onehot(idx, s.shape[-1])
    return g / s.shape[0] if s.ndim == 2 else g


def right(z: Any, t: Any) -> Any:
    g = _softmax(z) * np.sum(t, axis=-1, keepdims=True) - t
    return g / z.shape[0] if z.ndim == 2 else g


def test_class_indices_are_detected_and_tested() -> None:
    r = softgrad.verify(labels_only, trials=3)
    assert r.ok, r.verdict
    assert r.targets == ("index",)
    assert r.targets_reason.startswith("detected: it takes class indices (given one-hot floats it ")
    assert r.targets_reason.endswith("tested with class indices")
    assert r.call == "f(z, labels)"
    assert {c.call for c in r.cases} == {"f(z, labels)"}
    assert "soft_targets" not in {c.name for c in r.cases}


def test_floats_and_indices_both_tested_and_argmax_of_soft_targets_diagnosed() -> None:
    r = softgrad.verify(argmax_of_soft, trials=3)
    assert not r.ok
    assert r.targets == ("soft", "index")
    assert r.diagnosis[0].id == "soft_targets_as_argmax"
    assert r.diagnosis[0].consistent
    assert any("--targets onehot" in n for n in r.notes)
    assert {c.name for c in r.cases} >= {"asymmetric_labels", "batch_labels"}
    for targets in ("onehot", "index"):
        fixed = softgrad.verify(argmax_of_soft, targets=targets, trials=3)
        assert fixed.ok, fixed.verdict
        assert fixed.targets_reason.startswith("given")


def test_a_correct_float_function_is_not_tested_with_indices() -> None:
    r = softgrad.verify(right, trials=3)
    assert r.ok
    assert r.targets == ("soft",)
    assert "tested with one-hot, soft and unnormalised floats" in r.targets_reason
    # hard labels only: no soft case at all
    r = softgrad.verify(right, targets="onehot", trials=3)
    assert r.ok
    assert all(int(np.count_nonzero(np.array(c.t))) == len(c.t) for c in r.cases)


def test_a_loss_grad_tuple_gives_the_item_of_the_gradients_shape() -> None:
    def loss_and_grad(z: Any, t: Any) -> Any:
        return 0.25, right(z, t)

    r = softgrad.verify(loss_and_grad, trials=2)
    assert r.ok
    assert r.result == "item 1 of the 2-tuple it returns"
    assert r.result_reason == "the only item of shape (4,)"
    wrong = softgrad.verify(loss_and_grad, returns=0, trials=2)
    assert not wrong.ok
    assert wrong.cases[0].error == "returned a single number, expected an array of shape (4,)"
    beyond = softgrad.verify(loss_and_grad, returns=5, trials=0)
    assert beyond.cases[0].error is not None
    assert beyond.cases[0].error.startswith("returned a tuple of 2 items: it has no item 5")


def test_pick_refuses_to_guess_between_items_of_the_same_shape() -> None:
    got = pick(Outcome((np.zeros(3), np.ones(3), 1.0)), (3,), None)
    assert got.arr is None
    assert got.problem == "returned a tuple whose items 0, 1 all have shape (3,); expected an array of shape (3,)"
    assert pick(Outcome((np.zeros(3), np.ones(3), 1.0)), (3,), 1).where == "item 1 of the 3-tuple it returns"


def test_pick_names_the_attribute_backward_set() -> None:
    out = Outcome(None, attributes=(("cache", np.zeros((2, 2))), ("grad", np.ones(3)), ("dinputs", np.ones(3))))
    got = pick(out, (3,), None)
    assert got.where == "self.dinputs"
    assert got.why == "backward returns None and sets self.dinputs (3,) (also of that shape: self.grad)"
    none = pick(Outcome(None, attributes=(("cache", np.zeros((2, 2))),)), (3,), None)
    assert none.problem == "backward returned None and set no attribute of shape (3,) (self.cache (2, 2))"


class Layer:
    """A from-scratch softmax + cross-entropy layer: the gradient goes to self.dinputs."""

    def forward(self, inputs: Any, y_true: Any) -> float:
        self.output = _softmax(inputs)
        return 0.0

    def backward(self, dvalues: Any, y_true: Any) -> None:
        self.dinputs = (dvalues * np.sum(y_true, axis=-1, keepdims=True) - y_true) / len(dvalues)


def test_the_layer_protocol_runs_forward_then_backward_and_reads_the_attribute() -> None:
    r = softgrad.verify(Layer, trials=2, layout="batch")
    assert r.ok, r.verdict
    assert r.kind == "backward"
    assert r.call == "forward(z, t); backward(s, t)"
    assert r.result == "self.dinputs"
    assert r.call_reason == "a new Layer(): forward first, then backward"
    assert (
        softgrad.verify(Layer(), trials=0, layout="batch").call_reason
        == "the instance of Layer: forward first, then backward"
    )


class NeedsArguments:
    def __init__(self, k: int) -> None:
        self.k = k

    def grad(self, z: Any, t: Any) -> Any:
        return right(z, t)


def test_a_class_that_needs_arguments_is_a_clear_input_error() -> None:
    with pytest.raises(InputError, match=r"instantiating NeedsArguments\(\) with no arguments raised TypeError"):
        softgrad.verify(NeedsArguments.grad)


def test_describe_self_is_never_an_input() -> None:
    d = describe(Layer.backward)
    assert d.what == "method"
    assert d.forward == "forward"
    assert d.backward_params is not None
    assert d.backward_params.names == ("dvalues", "y_true")


def test_targets_first_with_logits_named_like_probabilities() -> None:
    def grad(y_true: Any, y_pred: Any) -> Any:
        return right(y_pred, y_true)

    r = softgrad.verify(grad, trials=2)
    assert r.ok, r.verdict
    assert r.call == "f(t, z)"
    assert r.input_reason == "detected: given the logits z it passes every case"


def test_probabilities_named_like_logits_are_probed() -> None:
    def backward(x: Any, y: Any) -> Any:  # x holds the softmax output here
        return x * np.sum(y, axis=-1, keepdims=True) - y

    r = softgrad.verify(backward, trials=2)
    assert r.ok, r.verdict
    assert r.kind == "backward"
    assert r.input == "targets"


def test_a_call_that_does_not_come_back_is_a_failed_case_never_a_pass() -> None:
    class Dying(InProcessSession):
        def apply(self, step: Any, *payload: Any) -> Any:
            if step.__name__ == "call" and self.calls > 6:
                raise CallFailed("exited with code 0 while computing the case (os._exit or sys.exit in your code?)")
            return super().apply(step, *payload)

    user = UserFunction(right, None, dict(np.geterr()), Dying(right, "right", None))
    from softgrad.commands.verify.api import _verify

    options = {"layout": "auto", "reduction": "auto", "jacobian_input": "auto", "backward_input": "auto"}
    options |= {"trials": 2, "seed": 0, "rtol": None, "atol": None, "targets": "auto", "returns": None, "call": None}
    options["array"] = "auto"
    with np.errstate(all="ignore"):
        r = _verify(user, "right", None, options)
    assert not r.ok
    assert r.failed[0].error is not None
    assert r.failed[0].error.startswith("exited with code 0")


def test_reduction_given_and_not_done_fails_by_catalogue_id() -> None:
    def summed(z: Any, t: Any) -> Any:
        return _softmax(z) * np.sum(t, axis=-1, keepdims=True) - t

    assert softgrad.verify(summed, trials=0).reduction == "sum"
    r = softgrad.verify(summed, reduction="mean", trials=0)
    assert r.diagnosis[0].id == "batch_sum_not_mean"
    assert r.reduction_reason == "given"


def test_a_scaled_gradient_names_its_factor() -> None:
    def over_k(z: Any, t: Any) -> Any:
        return (_softmax(z) - t) / len(z)

    r = softgrad.verify(over_k, layout="row", trials=0)
    assert "your gradient is the reference ÷ K = 4: did you divide by len(y)" in r.verdict


def test_tensor_likes_are_converted() -> None:
    class Tensor:
        def __init__(self, data: Any) -> None:
            self._data = np.asarray(data)

        def detach(self) -> Tensor:
            return self

        def numpy(self) -> Any:
            return self._data

    r = softgrad.verify(lambda z, t: Tensor(right(z, t)), "grad", trials=2)
    assert r.ok, r.verdict


def test_setup_replace_keeps_roles() -> None:
    from softgrad.commands.verify.kinds import Setup, call_text

    s = Setup("grad", None, "mean")
    assert call_text(s) == "f(z, t)"
    assert call_text(replace(s, roles=("t", "z")), labels=True) == "f(labels, z)"


def test_columns_are_detected_only_where_a_row_cannot_be_right() -> None:
    def columns(zc: Any, yc: Any) -> Any:  # (K, N) only
        s = _softmax(zc.T).T
        return (s * np.sum(yc, axis=0, keepdims=True) - yc) / yc.shape[1]

    r = softgrad.verify(columns, "grad", trials=2)
    assert r.ok, r.verdict
    assert r.layout == "columns"
    assert r.layout_reason.startswith("detected: given a (3, 4) batch as rows it is wrong; as (4, 3) columns")

    def axis0(z: Any) -> Any:  # right for one (K,) example, over the batch axis for (N, K)
        e = np.exp(z - np.max(z, axis=0))
        return e / np.sum(e, axis=0)

    r = softgrad.verify(axis0, "softmax", trials=0)
    assert not r.ok
    assert r.layout == "both"
    assert any("--layout columns" in n for n in r.notes)
    assert softgrad.verify(axis0, "softmax", layout="columns", trials=0).ok


def test_a_call_template_says_what_detection_cannot() -> None:
    def f(a1: Any, a2: Any) -> Any:  # names that say nothing; class indices first, then logits
        return labels_only(a2, a1)

    with pytest.raises(InputError, match="cannot tell what it computes from its signature"):
        softgrad.verify(f)
    r = softgrad.verify(f, call="f(labels, z)", trials=2)
    assert r.ok, r.verdict
    assert r.kind == "grad"
    assert r.kind_reason == "given: the call f(labels, z)"
    assert r.targets == ("index",)
    assert r.call == "f(labels, z)"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("f(s, q)", "unknown name 'q' in 'f(s, q)'; each argument is one of z, s, t, labels, upstream"),
        ("f(z, s)", "'f(z, s)' is none of the calls verify makes"),
        ("f(z, z)", "an argument appears twice"),
        ("f z t", "expected a call such as f(t, s)"),
        ("f()", "no arguments"),
    ],
)
def test_bad_call_templates_name_the_template(template: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        softgrad.verify(right, call=template)
    assert err.value.where == "call"


def test_a_call_template_through_the_cli() -> None:
    from tests.conftest import SAMPLES, run

    target = f"{SAMPLES / 'verify' / 'targets_first.py'}:compute_gradient"
    r = run("verify", target, "--call", "f(t, z)", "--trials", "1")
    assert r.exit_code == 0
    assert "  kind       grad — given: the call f(t, z)" in r.stdout
    bad = run("verify", target, "--call", "f(t, p)")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("softgrad: error: --call: unknown name 'p'")


class _FakeTensor:
    """A minimal tensor: what torch code receives and returns, without torch."""

    def __init__(self, data: Any) -> None:
        self._data = np.asarray(data)

    def __sub__(self, other: Any) -> _FakeTensor:
        return _FakeTensor(self._data - np.asarray(other._data if isinstance(other, _FakeTensor) else other))

    def softmax(self, dim: int) -> _FakeTensor:
        return _FakeTensor(_softmax(self._data))

    def detach(self) -> _FakeTensor:
        return self

    def numpy(self) -> Any:
        return self._data


def test_tensors_of_the_framework_its_module_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    fake = types.ModuleType("torch")
    fake.from_numpy = lambda a: _FakeTensor(a)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", fake)
    module = types.ModuleType("user_torch_code")
    module.torch = fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "user_torch_code", module)

    def grad(logits: Any, target: Any) -> Any:
        assert isinstance(logits, _FakeTensor)  # given tensors, not numpy arrays
        return logits.softmax(dim=-1) - target

    grad.__module__ = "user_torch_code"
    r = softgrad.verify(grad, targets="onehot", layout="row", trials=2)
    assert r.ok, r.verdict
    assert r.array == "torch"
    assert r.array_reason == "detected: its module imports torch; it is given float64 torch tensors"
    numpy_given = softgrad.verify(grad, targets="onehot", layout="row", array="numpy", trials=0)
    assert not numpy_given.ok
    assert numpy_given.array_reason == "given"


def test_a_framework_that_is_not_installed_is_a_failed_case() -> None:
    import importlib.util

    if importlib.util.find_spec("jax") is not None:
        pytest.skip("jax is installed here")
    r = softgrad.verify(right, array="jax", trials=0)
    assert not r.ok
    assert r.cases[0].error is not None
    assert "No module named 'jax'" in r.cases[0].error
    assert "(it is written for jax arrays)" in r.cases[0].error


def test_a_mistake_that_is_nan_at_the_input_is_never_closest() -> None:
    r = softgrad.check([1000.0, 0.0, -3.0], [0.0, 1.0, 0.0], grad=[0.3, 0.2, 0.1])
    assert r.user is not None
    assert r.user.closest
    assert "no_max_shift" not in [m.id for m in r.user.closest]  # NaN there: not at distance 0
    assert all(0.0 < m.max_abs_err < float("inf") for m in r.user.closest)


def test_the_report_shows_each_detection_line_and_why() -> None:
    from softgrad.render.plain import render_plain
    from softgrad.render.verify_doc import verify_document

    text = render_plain(verify_document(softgrad.verify(labels_only, trials=0)))
    for head in ("kind", "call", "input", "targets", "layout", "reduction"):
        assert f"\n  {head.ljust(9)}  " in text, head


def test_a_loss_half_passes_as_such_and_says_what_it_would_be_as_dE_dz() -> None:
    def backward(probs: Any, targets: Any) -> Any:
        return -targets / probs

    r = softgrad.verify(backward, reduction="sum", trials=2)
    assert r.ok, r.verdict
    assert r.kind == "loss-backward"
    assert any("that is the mistake no_jacobian" in n for n in r.notes)
    pinned = softgrad.verify(backward, "backward", backward_input="targets", reduction="sum", trials=2)
    assert not pinned.ok
    assert pinned.diagnosis[0].id == "no_jacobian"
