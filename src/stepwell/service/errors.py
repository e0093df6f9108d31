"""API errors, named after the AWS Step Functions error types they stand for.

The service raises these; the API layer turns one into an HTTP 400 response whose
``__type`` is the class's ``aws_type`` and whose ``message`` is the exception's text.
A user mistake never becomes anything else: no traceback, no 500.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Root of the errors a Step Functions API caller can get back."""

    aws_type = "ServiceException"
    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class ValidationException(ServiceError):
    """The input fails to satisfy the constraints of the API.

    ``reason`` is the model's ``ValidationExceptionReason`` when one applies, e.g.
    ``INVALID_ROUTING_CONFIGURATION`` or ``API_DOES_NOT_SUPPORT_LABELED_ARNS``.
    """

    aws_type = "ValidationException"

    def __init__(self, message: str = "", reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidArn(ServiceError):
    """The provided Amazon Resource Name (ARN) is not valid."""

    aws_type = "InvalidArn"


class InvalidName(ServiceError):
    """The provided name is not valid."""

    aws_type = "InvalidName"


class InvalidDefinition(ServiceError):
    """The provided Amazon States Language definition is not valid."""

    aws_type = "InvalidDefinition"


class InvalidExecutionInput(ServiceError):
    """The provided JSON input data is not valid."""

    aws_type = "InvalidExecutionInput"


class InvalidOutput(ServiceError):
    """The provided JSON output data is not valid."""

    aws_type = "InvalidOutput"


class InvalidToken(ServiceError):
    """The provided token is not valid."""

    aws_type = "InvalidToken"


class InvalidLoggingConfiguration(ServiceError):
    """The logging configuration is not valid."""

    aws_type = "InvalidLoggingConfiguration"


class InvalidTracingConfiguration(ServiceError):
    """The tracing configuration is not valid."""

    aws_type = "InvalidTracingConfiguration"


class StateMachineDoesNotExist(ServiceError):
    """The specified state machine does not exist."""

    aws_type = "StateMachineDoesNotExist"


class StateMachineAlreadyExists(ServiceError):
    """A state machine with the same name but a different definition or role ARN already exists."""

    aws_type = "StateMachineAlreadyExists"


class StateMachineDeleting(ServiceError):
    """The specified state machine is being deleted."""

    aws_type = "StateMachineDeleting"


class StateMachineTypeNotSupported(ServiceError):
    """This operation is not supported for this state machine type."""

    aws_type = "StateMachineTypeNotSupported"


class StateMachineLimitExceeded(ServiceError):
    """The maximum number of state machines has been reached."""

    aws_type = "StateMachineLimitExceeded"


class ExecutionDoesNotExist(ServiceError):
    """The specified execution does not exist."""

    aws_type = "ExecutionDoesNotExist"


class ExecutionAlreadyExists(ServiceError):
    """The execution has the same name as another execution (but a different input)."""

    aws_type = "ExecutionAlreadyExists"


class ExecutionLimitExceeded(ServiceError):
    """The maximum number of running executions has been reached."""

    aws_type = "ExecutionLimitExceeded"


class ExecutionNotRedrivable(ServiceError):
    """The execution cannot be redriven."""

    aws_type = "ExecutionNotRedrivable"


class ActivityDoesNotExist(ServiceError):
    """The specified activity does not exist."""

    aws_type = "ActivityDoesNotExist"


class ActivityAlreadyExists(ServiceError):
    """An activity with the same name already exists."""

    aws_type = "ActivityAlreadyExists"


class ActivityLimitExceeded(ServiceError):
    """The maximum number of activities has been reached."""

    aws_type = "ActivityLimitExceeded"


class ActivityWorkerLimitExceeded(ServiceError):
    """The maximum number of workers concurrently polling for activity tasks has been reached."""

    aws_type = "ActivityWorkerLimitExceeded"


class TaskDoesNotExist(ServiceError):
    """The task token does not name a task that is waiting."""

    aws_type = "TaskDoesNotExist"


class TaskTimedOut(ServiceError):
    """The task has already timed out."""

    aws_type = "TaskTimedOut"


class ResourceNotFound(ServiceError):
    """The specified resource could not be found."""

    aws_type = "ResourceNotFound"

    def __init__(self, message: str = "", resource_name: str | None = None) -> None:
        super().__init__(message)
        self.resource_name = resource_name


class ConflictException(ServiceError):
    """The request conflicts with the current state of the resource."""

    aws_type = "ConflictException"


class TooManyTags(ServiceError):
    """The resource has too many tags."""

    aws_type = "TooManyTags"

    def __init__(self, message: str = "", resource_name: str | None = None) -> None:
        super().__init__(message)
        self.resource_name = resource_name


class MissingRequiredParameter(ServiceError):
    """A required parameter is missing."""

    aws_type = "MissingRequiredParameter"


class UnrecognizedClientException(ServiceError):
    """The security token included in the request is invalid."""

    aws_type = "UnrecognizedClientException"
    status = 403


class InvalidSignatureException(ServiceError):
    """The request signature does not match."""

    aws_type = "InvalidSignatureException"


class AccessDeniedException(ServiceError):
    """You do not have sufficient access to perform this action."""

    aws_type = "AccessDeniedException"


class UnknownOperationException(ServiceError):
    """The operation is not known."""

    aws_type = "UnknownOperationException"


class SerializationException(ServiceError):
    """The request body could not be read."""

    aws_type = "SerializationException"


class ServiceQuotaExceededException(ServiceError):
    """A service quota would be exceeded."""

    aws_type = "ServiceQuotaExceededException"
    status = 402


class ServiceUnavailable(ServiceError):
    """The database behind Stepwell cannot be used now (unreachable, deleted, corrupt or
    full); the message says which. HTTP 503, which AWS SDKs retry with back-off."""

    aws_type = "ServiceUnavailable"
    status = 503
