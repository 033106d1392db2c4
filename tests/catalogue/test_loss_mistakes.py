"""The layer catalogue's loss-value entries (quantity ``loss``): what they compute, where they cannot arise,
that each is diagnosed as itself, and ``mistakes ID`` showing them at an exposing input."""

from __future__ import annotations

import numpy as np
import pytest

from softgrad import MISTAKES
from softgrad.catalogue.layer import LOSS
from softgrad.catalogue.layer_diagnose import layer_candidates, layer_mistake_at, match_quantity
from softgrad.core import layer as L
from softgrad.core.tolerance import DEFAULT_TOLERANCES
from tests.conftest import run_json

TOL = DEFAULT_TOLERANCES["float64"]
LOSS_IDS = [m.id for m in MISTAKES.layers() if LOSS in m.quantities]


def _net(reg: float, n: int = 4) -> L.Network:
    rng = np.random.default_rng(1)
    X = np.round(rng.normal(size=(n, 3)), 2)
    W = np.round(rng.normal(size=(3, 3)), 2)
    return L.make_network(X, W, None, label=[i % 3 for i in range(n)], convention="row", reg=reg)


def test_loss_entries_are_layer_entries_of_the_loss() -> None:
    assert set(LOSS_IDS) == {"loss_not_mean", "loss_reg_missing"}
    for mid in LOSS_IDS:
        m = MISTAKES[mid]
        assert m.scope == "layer"
        assert m.quantities == (LOSS,)
        assert m.step == "forward"


def test_values() -> None:
    net = _net(0.1)
    fwd = L.forward(net)
    ref = L.backward(net, fwd)
    loss = L.softmax_loss(net.W, net.a, [i % 3 for i in range(4)], 0.1)[0]
    assert fwd.loss == pytest.approx(loss, rel=1e-15)
    not_mean = MISTAKES["loss_not_mean"].layer_values(net, fwd, ref)
    missing = MISTAKES["loss_reg_missing"].layer_values(net, fwd, ref)
    assert not_mean is not None
    assert missing is not None
    assert float(not_mean[LOSS]) == pytest.approx(4 * fwd.data_loss + 0.1 * float(np.sum(net.W**2)), rel=1e-14)
    assert float(missing[LOSS]) == pytest.approx(fwd.data_loss, rel=1e-15)


def test_where_they_cannot_arise() -> None:
    net = _net(0.0)
    fwd = L.forward(net)
    ref = L.backward(net, fwd)
    assert MISTAKES["loss_reg_missing"].layer_values(net, fwd, ref) is None  # reg = 0
    one = L.make_network([[1.0, 2.0]], [[0.5, -0.5], [0.25, 1.0]], None, label=[1], convention="row", reg=0.1)
    f1 = L.forward(one)
    assert MISTAKES["loss_not_mean"].layer_values(one, f1, L.backward(one, f1)) is None  # N = 1


@pytest.mark.parametrize("mid", LOSS_IDS)
def test_each_is_diagnosed_as_itself(mid: str) -> None:
    net = _net(0.25)
    fwd = L.forward(net)
    ref = L.backward(net, fwd)
    values = MISTAKES[mid].layer_values(net, fwd, ref)
    assert values is not None
    found = match_quantity(net, LOSS, values[LOSS], np.array(fwd.loss), layer_candidates(net, fwd, ref), TOL)
    assert [m.id for m in found.matches] == [mid]
    at = layer_mistake_at(mid)
    assert [q for q, _, _ in at.values] == [LOSS]


@pytest.mark.parametrize("mid", LOSS_IDS)
def test_mistakes_id_shows_the_loss_entry(mid: str) -> None:
    code, d = run_json("mistakes", mid)
    assert code == 0
    assert d["scope"] == "layer"
    assert d["quantities"] == [LOSS]
    wrong, right = d["values"][LOSS]["wrong"], d["values"][LOSS]["right"]
    assert wrong != pytest.approx(right)
