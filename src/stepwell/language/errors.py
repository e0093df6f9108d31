"""Errors of the States Language, as values and as exceptions.

Two audiences, two roots:

* ``StatesError`` is an ASL runtime error (``States.Runtime``, ``States.TaskFailed``, a
  task's own ``errorType`` …). The interpreter routes it through Retry and Catch; it is
  data, not a crash. Every evaluator in ``language/`` raises it with AWS's error name and
  a cause; the interpreter prefixes the cause with the state it happened in.
* ``ExpressionSyntaxError`` is a mistake in a definition found while compiling a path,
  an intrinsic function, a JSONata expression or a template. The validator turns it into
  a diagnostic with a location; it never reaches a running execution.
"""

from __future__ import annotations

from typing import Final

# The predefined error names (States Language specification, "Errors").
ALL: Final = "States.ALL"
HEARTBEAT_TIMEOUT: Final = "States.HeartbeatTimeout"
TIMEOUT: Final = "States.Timeout"
TASK_FAILED: Final = "States.TaskFailed"
PERMISSIONS: Final = "States.Permissions"
RESULT_PATH_MATCH_FAILURE: Final = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE: Final = "States.ParameterPathFailure"
QUERY_EVALUATION_ERROR: Final = "States.QueryEvaluationError"
BRANCH_FAILED: Final = "States.BranchFailed"
NO_CHOICE_MATCHED: Final = "States.NoChoiceMatched"
INTRINSIC_FAILURE: Final = "States.IntrinsicFailure"
EXCEED_TOLERATED_FAILURE_THRESHOLD: Final = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED: Final = "States.ItemReaderFailed"
RESULT_WRITER_FAILED: Final = "States.ResultWriterFailed"
RUNTIME: Final = "States.Runtime"
DATA_LIMIT_EXCEEDED: Final = "States.DataLimitExceeded"


class StatesError(Exception):
    """An ASL error: a name that Retry/Catch match on, and a human-readable cause.

    ``location`` names the field a JSONata expression failed in (``Output/v``,
    ``Choices[1]/Condition``), for the ``EvaluationFailed`` history event; "" otherwise.
    """

    __slots__ = ("cause", "error", "location")

    def __init__(self, error: str, cause: str = "", location: str = "") -> None:
        super().__init__(error, cause)
        self.error = error
        self.cause = cause
        self.location = location

    def __str__(self) -> str:
        return f"{self.error}: {self.cause}" if self.cause else self.error


class ExpressionSyntaxError(ValueError):
    """A path, intrinsic function, JSONata expression or template that does not parse.

    ``position`` is the 0-based offset of the offending character within ``text`` when
    known. The message stays structured; ``__str__`` renders it with a caret.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.position = position

    def __str__(self) -> str:
        if self.position is None or not self.text:
            return self.message
        return f"{self.message}\n  {self.text}\n  {' ' * self.position}^"
