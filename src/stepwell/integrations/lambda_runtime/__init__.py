"""Lambda functions of an application, each in worker processes of its own
(``processes.py``), with the checks ``stepwell up`` makes before starting them
(``requirements.py``)."""

from stepwell.integrations.lambda_runtime.processes import (
    FunctionSpec,
    ProcessFunction,
    supported_runtime,
)
from stepwell.integrations.lambda_runtime.requirements import unmet_requirements

__all__ = ["FunctionSpec", "ProcessFunction", "supported_runtime", "unmet_requirements"]
