"""The softgrad pytest plugin, registered through the ``pytest11`` entry point (installing softgrad is
enough): the ``softgrad`` marker and ``--softgrad-report=FILE``.

.. code-block:: python

    import pytest
    import mymodel

    @pytest.mark.softgrad(mymodel.grad, "grad", reduction="sum")
    def test_gradient(softgrad_report):
        assert softgrad_report.kind == "grad"   # the body runs only once the function passed

The marker takes the function (a callable, ``"file.py:func"`` or ``"module:func"``), optionally the kind,
and any keyword of :func:`softgrad.verify` (``layout``, ``reduction``, ``jacobian_input``,
``backward_input``, ``trials``, ``seed``, ``rtol``, ``atol``). The test fails with the diagnosed mistake and
the reproducing calls if a case fails. ``--softgrad-report=FILE`` writes every verification made in the
session (by markers and by the ``softgrad.testing`` helpers) to FILE as one JSON document.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from softgrad.commands.verify.report import VerifyReport
from softgrad.commands.verify.weights_report import WeightsReport

_RESULTS = pytest.StashKey[list[dict[str, Any]]]()
_REPORT = pytest.StashKey[VerifyReport | WeightsReport]()
_MARKER = (
    "softgrad(fn, kind=None, **options): verify fn (a callable, 'file.py:func' or 'module:func') with "
    "softgrad.verify before the test body runs; options are verify's keywords (reduction, rtol, ...)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("softgrad")
    group.addoption(
        "--softgrad-report",
        metavar="FILE",
        default=None,
        help="Write every softgrad verification of the session (markers and softgrad.testing helpers) to FILE as JSON.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)
    if config.getoption("softgrad_report", None):
        from softgrad import testing

        results: list[dict[str, Any]] = []
        config.stash[_RESULTS] = results

        def record(test: str | None, report: VerifyReport | WeightsReport) -> None:
            results.append(
                {
                    "test": test or os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0] or None,
                    "report": report.to_dict(),
                }
            )

        testing.RECORDERS.append(record)
        config.add_cleanup(lambda: testing.RECORDERS.remove(record))


def _verify(item: pytest.Item) -> VerifyReport | WeightsReport | None:
    marker = item.get_closest_marker("softgrad")
    if marker is None:
        return None
    from softgrad.testing import verify_and_assert

    if not marker.args and "fn" not in marker.kwargs:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.softgrad needs the function to verify")
    kwargs = dict(marker.kwargs)
    fn = marker.args[0] if marker.args else kwargs.pop("fn")
    kind = marker.args[1] if len(marker.args) > 1 else kwargs.pop("kind", None)
    return verify_and_assert(fn, kind, test=item.nodeid, **kwargs)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A marked test fails, before its body, when its function does not pass."""
    __tracebackhide__ = True
    if _REPORT not in item.stash:
        report = _verify(item)
        if report is not None:
            item.stash[_REPORT] = report


@pytest.fixture
def softgrad_report(request: pytest.FixtureRequest) -> VerifyReport | WeightsReport:
    """The report of the test's ``@pytest.mark.softgrad`` verification (run now, if it has not been)."""
    __tracebackhide__ = True
    item: pytest.Item = request.node
    if _REPORT not in item.stash:
        report = _verify(item)
        if report is None:
            raise pytest.UsageError(f"{item.nodeid}: the softgrad_report fixture needs @pytest.mark.softgrad")
        item.stash[_REPORT] = report
    return item.stash[_REPORT]


def pytest_unconfigure(config: pytest.Config) -> None:
    path = config.getoption("softgrad_report", None)
    if not path or _RESULTS not in config.stash:
        return
    data = {"verifications": config.stash[_RESULTS]}
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, allow_nan=False)
        fh.write("\n")
    os.replace(tmp, path)
