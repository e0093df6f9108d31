"""Python callables standing in for Lambda functions.

A Task reaches a function three ways, as on AWS: its Resource is a Lambda function ARN
(``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``) or a bare function name,
and the function gets the state's input; or its Resource is the optimized integration
``arn:aws:states:::lambda:invoke``, the function is named by ``FunctionName`` and gets
``Payload``, and the result comes back in Lambda's invoke response shape (``Payload``,
``StatusCode``, ``ExecutedVersion``, ``SdkHttpMetadata``, ``SdkResponseMetadata``).

A function that raises fails the task with the error named after the exception's class
and a cause shaped like Lambda's error payload, as Lambda reports ``errorType``. Raise
``TaskError("Lambda.ServiceException", "...")`` to fail with any name, e.g. to exercise
a Retry on Lambda's transient errors.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from stepwell.language.resource_arns import integration_target
from stepwell.language.verbatim import compact_json, parse_json

JSON = Any


class TaskError(Exception):
    """Fail a task with exactly this error name and cause."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(error, cause)
        self.error = error
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an invocation came to: ``output`` on success, else ``error`` and ``cause``.
    ``submitted``: the resource took the task (``output`` is its answer) and the task's
    end comes later (``.sync`` job, ``.waitForTaskToken``), as AWS's TaskSubmitted;
    ``then`` is that end when it is known at once (a child run inline)."""

    output: JSON = None
    error: str | None = None
    cause: str = ""
    submitted: bool = False
    then: Outcome | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class LambdaContext:
    """The handful of Lambda context attributes handlers commonly read."""

    function_name: str
    aws_request_id: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 128
    # Where a function that keeps logs (a worker process) puts this invocation's lines,
    # for the Lambda API's ``LogType: Tail``; None when nobody asked.
    log_lines: list[str] | None = None


def is_lambda_invoke(resource: str) -> bool:
    """The ``lambda:invoke`` integration in any partition, with or without region and
    account (``arn:aws-cn:states:::lambda:invoke``, ``arn:aws:states:us-east-1:1:…``)."""
    target = integration_target(resource)
    return target is not None and target.split(".", 1)[0] == "lambda:invoke"


def function_name(reference: str) -> str:
    """NAME from a function ARN, a partial ARN (``ACCOUNT:function:NAME``) or a name,
    dropping any version or alias qualifier."""
    parts = reference.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


# Functions registered with @lambda_function, for every registry in this process.
_DECORATED: dict[str, tuple[Callable[..., Any], bool]] = {}

Fn = TypeVar("Fn", bound=Callable[..., Any])


def lambda_function(name: str | None = None) -> Callable[[Fn], Fn]:
    """Make a Python function the Lambda function ``name`` (default: its own name) for
    every Stepwell in this process — ``stepwell.run``, the server, the workers::

        @stepwell.lambda_function()
        def greet(event, context): ...

    A registry's own functions (``functions=`` / settings) take precedence.
    """

    def register(fn: Fn) -> Fn:
        _DECORATED[function_name(name or fn.__name__)] = (fn, _takes_context(fn))
        return fn

    return register


class FunctionRegistry:
    """Named Python callables, invoked the way Step Functions invokes Lambda."""

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.region = region
        self.account = account
        self._functions: dict[str, tuple[Callable[..., Any], bool]] = {}
        for name, fn in (functions or {}).items():
            self.register(name, fn)

    def register(self, name: str, fn: Callable[..., Any]) -> None:
        self._functions[function_name(name)] = (fn, _takes_context(fn))

    def names(self) -> list[str]:
        """Every function's name, this registry's and ``@lambda_function``'s, sorted."""
        return sorted({*self._functions, *_DECORATED})

    def lookup(self, name: str) -> Callable[..., Any] | None:
        """The callable bound to the function ``name``, if any."""
        entry = self._functions.get(name) or _DECORATED.get(name)
        return None if entry is None else entry[0]

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"

    def call(
        self, reference: str, event: JSON, request_id: str, log_lines: list[str] | None = None
    ) -> Outcome:
        """Run one function as Lambda's Invoke does: its result, or its error with Lambda's
        error payload as ``cause``; lines it logs are added to ``log_lines``."""
        return self._call(reference, event, request_id, log_lines)

    def handles(self, resource: str) -> bool:
        return (
            is_lambda_invoke(resource)
            or resource.split(":")[2:3] == ["lambda"]  # arn:PARTITION:lambda:...
            or not resource.startswith("arn:")
        )

    def invoke(self, resource: str, payload: JSON, request_id: str) -> Outcome:
        if is_lambda_invoke(resource):
            if not isinstance(payload, dict) or "FunctionName" not in payload:
                return Outcome(
                    error="States.Runtime",
                    cause="The lambda:invoke integration needs a FunctionName.",
                )
            outcome = self._call(str(payload["FunctionName"]), payload.get("Payload"), request_id)
            if not outcome.ok:
                return outcome
            return Outcome(output=_invoke_response(outcome.output, request_id))
        return self._call(resource, payload, request_id)

    def _call(
        self, reference: str, event: JSON, request_id: str, log_lines: list[str] | None = None
    ) -> Outcome:
        name = function_name(reference)
        entry = self._functions.get(name) or _DECORATED.get(name)
        arn = self.arn(name)
        if entry is None:
            return Outcome(
                error="Lambda.ResourceNotFoundException",
                cause=f"Function not found: {arn} (Service: Lambda, Status Code: 404, "
                f"Request ID: {request_id})",
            )
        fn, with_context = entry
        try:
            context = LambdaContext(name, request_id, arn, log_lines=log_lines)
            result = fn(event, context) if with_context else fn(event)
            return Outcome(output=parse_json(compact_json(result)))
        except TaskError as failure:
            return Outcome(error=failure.error, cause=failure.cause)
        except TypeError as failure:
            if "not JSON serializable" in str(failure) or "Type is not" in str(failure):
                return Outcome(
                    error="Runtime.MarshalError",
                    cause=_error_payload(failure, request_id, "Runtime.MarshalError"),
                )
            return _failed(failure, request_id)
        except Exception as failure:
            return _failed(failure, request_id)


def _failed(failure: Exception, request_id: str) -> Outcome:
    error_type = type(failure).__name__
    return Outcome(error=error_type, cause=_error_payload(failure, request_id, error_type))


def _error_payload(failure: Exception, request_id: str, error_type: str) -> str:
    frames = traceback.format_tb(failure.__traceback__)[1:]  # not Stepwell's own frame
    return orjson.dumps(
        {
            "errorMessage": str(failure),
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": [line.rstrip() for line in frames],
        }
    ).decode()


def _invoke_response(payload: JSON, request_id: str) -> JSON:
    headers = {
        "Connection": "keep-alive",
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
    }
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {key: [value] for key, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def _takes_context(fn: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


def load_functions(reference: str) -> dict[str, Callable[..., Any]]:
    """Python functions by name from ``module``, ``path/to/file.py`` or ``module:function``
    (that one only). A module gives every public function defined in it."""
    target, _, only = (
        reference.partition(":") if not reference.endswith(".py") else (reference, "", "")
    )
    path = Path(target)
    if path.suffix == ".py":
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot load functions from {reference}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    if only:
        return {only: getattr(module, only)}
    return {
        name: value
        for name, value in vars(module).items()
        if inspect.isfunction(value)
        and not name.startswith("_")
        and value.__module__ == module.__name__
    }
