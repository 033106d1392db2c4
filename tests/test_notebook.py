"""The sample notebook, executed for real in a Jupyter kernel (nbclient + ipykernel), its outputs checked."""

from __future__ import annotations

from typing import Any

import nbclient
import nbformat
import pytest

from tests.conftest import SAMPLES

NOTEBOOK = SAMPLES / "notebook" / "motivating_question.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    home = tmp_path_factory.mktemp("jupyter")
    with pytest.MonkeyPatch.context() as mp:
        # connection files and IPython's profile in a temporary folder, not in the home directory
        mp.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
        mp.setenv("IPYTHONDIR", str(home / "ipython"))
        # the kernel is this interpreter (jupyter_client runs a kernel spec's "python" as sys.executable)
        client = nbclient.NotebookClient(
            nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        )
        client.execute()
    return [c for c in nb.cells if c.cell_type == "code"]


def _outputs(cell: dict[str, Any], mime: str) -> str:
    parts = []
    for out in cell["outputs"]:
        assert out["output_type"] != "error", out
        if out["output_type"] == "stream":
            parts.append(out["text"])
        else:
            parts.append(out.get("data", {}).get(mime, ""))
    return "".join(parts)


def test_every_cell_runs_and_reports_display_once(executed: list[dict[str, Any]]) -> None:
    for cell in executed:
        # each report is one output (not one per line, as rich's own notebook printing would give)
        assert len(cell["outputs"]) <= 1, cell["source"]


def test_the_numbers_the_mistake_and_the_fix(executed: list[dict[str, Any]]) -> None:
    by_source = {c["source"].splitlines()[-1]: c for c in executed}
    plain = _outputs(by_source["softgrad.check([1.75, 1.75], [0, 1])"], "text/plain")
    assert "softmax(z) = [0.5, 0.5]" in plain
    assert "status: PASS" in plain
    assert _outputs(by_source["asked"], "text/plain") == "array([6.125, 2.625])"
    mistake = by_source["report"]
    assert "it matches jacobian_at_logits" in _outputs(mistake, "text/plain")
    html = _outputs(mistake, "text/html")
    assert html.startswith("<pre ")
    assert "jacobian_at_logits" in html
    assert "status: FAIL" not in _outputs(mistake, "text/plain").splitlines()[0]
    assert _outputs(by_source["report.status, report.user.matches[0].id"], "text/plain") == (
        "('fail', 'jacobian_at_logits')"
    )
    explained = _outputs(by_source["softgrad.explain(z, t, grad=asked)"], "text/plain")
    assert "where it goes wrong: step 4, softmax Jacobian, evaluated at s (not at z)" in explained
    fixed = _outputs(by_source["softgrad.check(z, t, grad=fixed)"], "text/plain")
    assert "✓ your gradient matches the reference" in fixed
    assert fixed.rstrip().endswith("status: PASS")


def test_numbers_typed_by_hand(executed: list[dict[str, Any]]) -> None:
    by_source = {c["source"].splitlines()[-1]: c for c in executed}
    typed = _outputs(by_source['softgrad.check([2, 0.5, -1], label=1, grad="0.7856 -0.8247 0.0391")'], "text/plain")
    assert "✓ your gradient matches the reference to the 4 decimals you gave" in typed
    printed = _outputs(by_source["print(wrong)"], "text/plain")
    assert "it matches double_softmax to the 4 decimals you gave" in printed
    assert "CheckReport(" not in printed
    last = _outputs(by_source['wrong.to_dict()["user"]["matches"], wrong.to_dict()["user"]["precision"]'], "text/plain")
    assert last == "(['double_softmax'], [5e-05, 5e-05, 5e-05])"
