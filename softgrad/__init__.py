"""softgrad: check the softmax + cross-entropy gradient three independent ways and name the mistake.

>>> import softgrad
>>> report = softgrad.check([1.75, 1.75], [0, 1], grad=[6.125, 2.625])
>>> report.status, report.user.matches[0].id
('fail', 'jacobian_at_logits')
"""

from softgrad.catalogue.mistakes import MISTAKES, Mistake
from softgrad.commands.batch.api import check_batch, check_frame
from softgrad.commands.batch.report import BatchReport
from softgrad.commands.check.api import check
from softgrad.commands.check.explain import ExplainReport, explain
from softgrad.commands.check.report import CheckReport, GradientVerdict, JacobianVerdict
from softgrad.commands.layer.api import check_layer
from softgrad.commands.layer.explain import LayerExplainReport, explain_layer
from softgrad.commands.layer.report import LayerReport
from softgrad.commands.verify.api import verify
from softgrad.commands.verify.report import CaseResult, VerifyReport
from softgrad.core.tolerance import DEFAULT_TOLERANCES, Tolerance
from softgrad.errors import ExitCode, InputError, SoftgradError
from softgrad.render.display import install as _install_display

__version__ = "0.1.0"

# every report prints as its plain-text report and shows as the terminal's table in a notebook
_install_display()

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
    "__version__",
    "check",
    "check_batch",
    "check_frame",
    "check_layer",
    "explain",
    "explain_layer",
    "verify",
]
