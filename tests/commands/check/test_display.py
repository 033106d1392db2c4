"""Reports in a notebook and in print(): the same table the terminal shows, the plain text, the JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from IPython.lib.pretty import pretty

import softgrad
from tests.conftest import SAMPLES, run


@pytest.fixture(scope="module")
def worked() -> softgrad.CheckReport:
    return softgrad.check([1.75, 1.75], [0, 1], grad=[6.125, 2.625])


def test_print_gives_the_plain_text_report(worked: softgrad.CheckReport) -> None:
    text = str(worked)
    cli = run("check", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "6.125", "2.625").stdout
    assert text == cli.rstrip("\n")  # exactly what the command prints when piped
    assert "it matches jacobian_at_logits" in text
    assert "CheckReport(" not in text
    assert "\x1b[" not in text
    assert repr(worked).startswith("CheckReport(")  # repr stays the dataclass repr


def test_ipython_text_plain_is_the_report(worked: softgrad.CheckReport) -> None:
    assert pretty(worked) == str(worked)


def test_html_is_the_terminal_table_with_colour(worked: softgrad.CheckReport) -> None:
    html = worked._repr_html_()  # type: ignore[attr-defined]
    assert html.startswith("<pre ")
    assert "white-space:pre" in html
    assert "jacobian_at_logits" in html
    assert "dE/dz" in html
    assert "style=" in html  # colours as inline styles (✗ in red, ✓ in green)
    assert "─" in html  # rich's table rule, as on a terminal
    assert "<script" not in html


def test_to_dict_stays_the_json(worked: softgrad.CheckReport) -> None:
    d = worked.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False))["user"]["matches"][0] == "jacobian_at_logits"


def test_explain_and_batch_reports_display_too() -> None:
    e = softgrad.explain([1.75, 1.75], [0, 1], grad=[6.125, 2.625])
    assert str(e).startswith("softgrad explain — z = [1.75, 1.75]")
    assert "where it goes wrong: step 4" in e._repr_html_()  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 3))
    b = softgrad.check_batch(z, labels=[0, 1, 2, 0, 1])
    assert str(b).startswith("softgrad batch")
    assert str(b).rstrip().endswith("status: PASS")
    assert "<pre " in b._repr_html_()  # type: ignore[attr-defined]
    assert pretty(b) == str(b)


def test_verify_report_displays_too() -> None:
    v = softgrad.verify(str(SAMPLES / "verify" / "df2_on_logits.py") + ":grad")
    text = str(v)
    assert "jacobian_at_logits" in text
    assert "VerifyReport(" not in text
    assert "jacobian_at_logits" in v._repr_html_()  # type: ignore[attr-defined]


def test_layer_reports_display_too() -> None:
    r = softgrad.check_layer([1, -0.5], [[2, 0.5], [2, 0.5]], [0, 0], [0, 1], dW=[[0.5, -0.5], [-0.25, 0.25]])
    assert str(r).startswith("softgrad layer — column convention")
    assert "dW_transposed" in str(r)
    assert "<pre" in r._repr_html_()
    e = softgrad.explain_layer(a=[1, -0.5], W=[[2, 0.5], [2, 0.5]], b=[0, 0], t=[0, 1])
    assert "EqA1" in str(e)
