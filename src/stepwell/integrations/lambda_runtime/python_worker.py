"""The process a Python Lambda function runs in (started by ``processes.py``).

It is run as a script, not imported from the package, so that it loads nothing of
Stepwell: the function sees only its own code folder, the environment and the packages
of the interpreter, as in Lambda. Requests arrive as JSON lines on one pipe, answers
leave on another; the function's own prints go to stdout and stderr, which the parent
shows prefixed with the function's name.

Protocol, one JSON object a line: ``{"event", "requestId", "deadline"}`` in;
``{"result"}`` or ``{"errorType", "errorMessage", "stackTrace"}`` out, each with ``"log"``:
the end of what the invocation printed (for the Lambda API's ``LogType: Tail``).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from typing import IO, Any

KEPT_LOG_CHARACTERS = 8192  # more than the 4 KB that Invoke's LogType Tail returns


class Tee:
    """A text stream that writes through and keeps the end of what an invocation wrote."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.kept: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        self.keep(text)
        return self.stream.write(text)

    def keep(self, text: str) -> None:
        self.kept.append(text)
        self._size += len(text)
        if self._size > 2 * KEPT_LOG_CHARACTERS:
            joined = "".join(self.kept)[-KEPT_LOG_CHARACTERS:]
            self.kept, self._size = [joined], len(joined)

    def take(self) -> str:
        text = "".join(self.kept)[-KEPT_LOG_CHARACTERS:]
        self.kept, self._size = [], 0
        return text

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class LambdaContext:
    """The context object Lambda's Python runtime passes to handlers."""

    def __init__(self, request_id: str, deadline: float) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        region = os.environ.get("AWS_REGION", "us-east-1")
        account = os.environ.get("STEPWELL_ACCOUNT_ID", "123456789012")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:{account}:function:{self.function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def load_handler(handler: str) -> Callable[..., Any]:
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        raise HandlerError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as problem:  # what the module raised while importing
        name = module_name.replace("/", ".")
        raise HandlerError(
            "Runtime.ImportModuleError", f"Unable to import module '{name}': {problem}"
        ) from None
    function = getattr(module, function_name, None)
    if function is None:
        raise HandlerError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    found: Callable[..., Any] = function
    return found


class HandlerError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def answer_error(error_type: str, message: str, frames: list[str]) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message, "stackTrace": frames}


def serve(code_dir: str, handler: str, requests: Iterable[str], answers: IO[str]) -> None:
    sys.path[0] = code_dir
    os.chdir(code_dir)
    # One tee for both streams, so the kept log has their lines in the order written.
    log = Tee(sys.stdout)
    sys.stdout = log
    sys.stderr = _Redirected(log, sys.stderr)
    function: Callable[..., Any] | None = None
    failed_init: dict[str, Any] | None = None
    try:
        function = load_handler(handler)
    except HandlerError as problem:
        failed_init = answer_error(problem.error_type, str(problem), [])
    for line in requests:
        request = json.loads(line)
        answer: dict[str, Any]
        if function is None:
            answer = failed_init or answer_error("Runtime.Unknown", "no handler", [])
        else:
            context = LambdaContext(request["requestId"], request["deadline"])
            try:
                result = function(request["event"], context)
                answer = {"result": json.loads(json.dumps(result))}
            except TypeError as problem:
                if "JSON serializable" in str(problem):
                    answer = answer_error(
                        "Runtime.MarshalError", f"Unable to marshal response: {problem}", []
                    )
                else:
                    answer = _raised(problem)
            except Exception as problem:
                answer = _raised(problem)
        sys.stdout.flush()
        sys.stderr.flush()
        answer["log"] = log.take()
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


class _Redirected:
    """stderr: written through to itself, kept in the shared tee's log."""

    def __init__(self, log: Tee, stream: IO[str]) -> None:
        self._log = log
        self._stream = stream

    def write(self, text: str) -> int:
        self._log.keep(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _raised(problem: BaseException) -> dict[str, Any]:
    frames = [line.rstrip() for line in traceback.format_tb(problem.__traceback__)[1:]]
    return answer_error(type(problem).__name__, str(problem), frames)


if __name__ == "__main__":
    code, handler_name, read_fd, write_fd = sys.argv[1:5]
    with os.fdopen(int(read_fd), "r") as incoming, os.fdopen(int(write_fd), "w") as outgoing:
        serve(code, handler_name, incoming, outgoing)
