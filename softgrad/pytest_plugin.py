"""The softgrad pytest plugin (registered through the ``pytest11`` entry point, so nothing is imported by
hand): the ``softgrad`` marker and ``--softgrad-report=FILE``.

.. code-block:: python

    import pytest

    @pytest.mark.softgrad("mymodel.py:grad", kind="grad", reduction="mean")
    def test_gradient():
        pass  # the marked function is verified before the body runs

``--softgrad-report=FILE`` writes every verify run by a marker as one JSON document.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_REPORTS = pytest.StashKey[list[dict[str, Any]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("softgrad")
    group.addoption(
        "--softgrad-report",
        metavar="FILE",
        default=None,
        help="Write the reports of every @pytest.mark.softgrad verification to FILE as JSON.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "softgrad(target, kind=None, **options): verify TARGET (a callable, 'file.py:func' or 'module:func') "
        "with softgrad.verify before the test body runs; the options are verify's (reduction, rtol, ...).",
    )
    config.stash[_REPORTS] = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    marker = item.get_closest_marker("softgrad")
    if marker is None:
        return
    from softgrad.testing import verify_and_assert

    if not marker.args:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.softgrad needs the function to verify")
    target, *rest = marker.args
    kind = rest[0] if rest else marker.kwargs.get("kind")
    options = {k: v for k, v in marker.kwargs.items() if k != "kind"}
    report = verify_and_assert(target, kind, **options, _record=item.config.stash[_REPORTS], _test=item.nodeid)
    del report


def pytest_unconfigure(config: pytest.Config) -> None:
    path = config.getoption("--softgrad-report", None)
    if not path or _REPORTS not in config.stash:
        return
    data = {"reports": config.stash[_REPORTS]}
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, allow_nan=False)
        fh.write("\n")
    os.replace(tmp, path)
