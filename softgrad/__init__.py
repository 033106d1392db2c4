"""softgrad: check the softmax + cross-entropy gradient three independent ways and name the mistake.

>>> import softgrad
>>> report = softgrad.check([1.75, 1.75], [0, 1], grad=[6.125, 2.625])
>>> report.status, report.user.matches[0].id
('fail', 'jacobian_at_logits')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name → the module that defines it; imported on first use, so that ``import softgrad`` (and the
#: ``softgrad`` command starting up) does not pay for numpy and every command before it needs them
_PUBLIC = {
    "MISTAKES": "softgrad.catalogue.mistakes",
    "Mistake": "softgrad.catalogue.mistakes",
    "check_batch": "softgrad.commands.batch.api",
    "BatchReport": "softgrad.commands.batch.report",
    "check": "softgrad.commands.check.api",
    "ExplainReport": "softgrad.commands.check.explain",
    "explain": "softgrad.commands.check.explain",
    "CheckReport": "softgrad.commands.check.report",
    "GradientVerdict": "softgrad.commands.check.report",
    "JacobianVerdict": "softgrad.commands.check.report",
    "check_layer": "softgrad.commands.layer.api",
    "LayerExplainReport": "softgrad.commands.layer.explain",
    "explain_layer": "softgrad.commands.layer.explain",
    "LayerReport": "softgrad.commands.layer.report",
    "verify": "softgrad.commands.verify.api",
    "CaseResult": "softgrad.commands.verify.report",
    "VerifyReport": "softgrad.commands.verify.report",
    "WeightsReport": "softgrad.commands.verify.weights_report",
    "DEFAULT_TOLERANCES": "softgrad.core.tolerance",
    "Tolerance": "softgrad.core.tolerance",
    "ExitCode": "softgrad.errors",
    "InputError": "softgrad.errors",
    "SoftgradError": "softgrad.errors",
}

if TYPE_CHECKING:
    from softgrad.catalogue.mistakes import MISTAKES, Mistake
    from softgrad.commands.batch.api import check_batch
    from softgrad.commands.batch.report import BatchReport
    from softgrad.commands.check.api import check
    from softgrad.commands.check.explain import ExplainReport, explain
    from softgrad.commands.check.report import CheckReport, GradientVerdict, JacobianVerdict
    from softgrad.commands.layer.api import check_layer
    from softgrad.commands.layer.explain import LayerExplainReport, explain_layer
    from softgrad.commands.layer.report import LayerReport
    from softgrad.commands.verify.api import verify
    from softgrad.commands.verify.report import CaseResult, VerifyReport
    from softgrad.commands.verify.weights_report import WeightsReport
    from softgrad.core.tolerance import DEFAULT_TOLERANCES, Tolerance
    from softgrad.errors import ExitCode, InputError, SoftgradError


def __getattr__(name: str) -> Any:
    """The public names, imported when first used (every report then prints as its plain-text report and
    shows as the terminal's table in a notebook)."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'softgrad' has no attribute {name!r}")
    from softgrad.render.display import install

    install()
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


__all__ = [
    "DEFAULT_TOLERANCES",
    "MISTAKES",
    "BatchReport",
    "CaseResult",
    "CheckReport",
    "ExitCode",
    "ExplainReport",
    "GradientVerdict",
    "InputError",
    "JacobianVerdict",
    "LayerExplainReport",
    "LayerReport",
    "Mistake",
    "SoftgradError",
    "Tolerance",
    "VerifyReport",
    "WeightsReport",
    "__version__",
    "check",
    "check_batch",
    "check_layer",
    "explain",
    "explain_layer",
    "verify",
]
