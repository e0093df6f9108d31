"""Stepwell: run Amazon States Language state machines exactly as AWS Step Functions does."""

__version__ = "0.1.0"

from stepwell.integrations.functions import TaskError, lambda_function
from stepwell.language.compiler import InvalidDefinition, load_state_machine
from stepwell.runtime.local import ExecutionResult, run
from stepwell.service.test_state.api import test_state

__all__ = [
    "ExecutionResult",
    "InvalidDefinition",
    "TaskError",
    "lambda_function",
    "load_state_machine",
    "run",
    "test_state",
]
