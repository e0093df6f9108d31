"""The Lambda API on Stepwell's endpoint, through boto3 and the AWS CLI (issue 11).

Invoke in its three invocation types over the functions Task states call: Python
callables in the server's process and functions in worker processes of their own (as
``stepwell up`` runs template functions). What each answer looks like follows the Lambda
API Reference ("Invoke": 200 for RequestResponse, 202 for Event, 204 for DryRun;
``FunctionError`` and the error payload; ``LogResult``, "the last 4 KB of the execution
log, which is base64-encoded") and the Lambda Developer Guide ("Configure Lambda function
timeout", "Lambda function errors in Python").
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepwell.integrations import functions as package_module
from stepwell.integrations.functions import Outcome
from stepwell.integrations.lambda_runtime import FunctionSpec, ProcessFunction
from stepwell.service.host import Host
from tests.e2e.server import ROLE, aws_cli, running_host, service_client, wait_until_done

HANDLERS = """
import time

def chatty(event, context):
    for n in range(event.get("lines", 1)):
        print(f"line {n:04d} of {context.function_name}")
    return {"printed": event.get("lines", 1)}

def sleepy(event, context):
    time.sleep(event["seconds"])
    return "awake"

def broken(event, context):
    raise KeyError("missing")
"""


def echo(event: Any, context: Any) -> Any:
    return {"event": event, "function": context.function_name, "arn": context.invoked_function_arn}


def fail(event: Any) -> Any:
    raise ValueError(f"cannot handle {event}")


RECEIVED: list[Any] = []


def record(event: Any) -> Any:
    RECEIVED.append(event)
    return None


def process_function(code: Path, name: str, handler: str, timeout: float = 3) -> ProcessFunction:
    spec = FunctionSpec(
        name=name,
        runtime="python3.12",
        handler=handler,
        code=code,
        environment={"STAGE": "test"},
        timeout=timeout,
        memory=256,
    )
    return ProcessFunction(spec, "http://127.0.0.1:9", lambda function, line: None)


@pytest.fixture(scope="module")
def stepwell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Host]]:
    folder = tmp_path_factory.mktemp("lambda-api")
    code = folder / "code"
    code.mkdir()
    (code / "handlers.py").write_text(HANDLERS)
    workers = {
        "chatty": process_function(code, "chatty", "handlers.chatty"),
        "sleepy": process_function(code, "sleepy", "handlers.sleepy", timeout=1),
        "broken": process_function(code, "broken", "handlers.broken"),
    }
    functions: dict[str, Callable[..., Any]] = {"echo": echo, "fail": fail, "record": record}
    try:
        with running_host(folder, {**functions, **workers}) as served:
            yield served
    finally:
        for worker in workers.values():
            worker.close()


@pytest.fixture
def lam(stepwell: tuple[str, Host]) -> Any:
    return service_client(stepwell[0], "lambda")


def payload(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


# ----------------------------------------------------------------- RequestResponse


@pytest.mark.parametrize(
    "name",
    [
        "echo",
        "echo:$LATEST",
        "arn:aws:lambda:us-east-1:123456789012:function:echo",
        "arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST",
        "123456789012:function:echo",
    ],
)
def test_a_function_is_invoked_by_name_arn_or_partial_arn(lam: Any, name: str) -> None:
    response = lam.invoke(FunctionName=name, Payload=b'{"name": "Ada"}')
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert payload(response) == {
        "event": {"name": "Ada"},
        "function": "echo",
        "arn": "arn:aws:lambda:us-east-1:123456789012:function:echo",
    }


@pytest.mark.parametrize(
    ("sent", "event"),
    [
        (b"[1, 2, 3]", [1, 2, 3]),
        (b'"text"', "text"),
        (b"42", 42),
        (b"null", None),
        (b"", {}),  # no payload: the function gets an empty object
        ('{"city": "Zürich ☃"}'.encode(), {"city": "Zürich ☃"}),
    ],
)
def test_any_json_payload_reaches_the_function(lam: Any, sent: bytes, event: Any) -> None:
    response = lam.invoke(FunctionName="echo", Payload=sent)
    assert payload(response)["event"] == event


def test_the_qualifier_parameter_accepts_latest_only(lam: Any) -> None:
    assert lam.invoke(FunctionName="echo", Qualifier="$LATEST")["StatusCode"] == 200
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as raised:
        lam.invoke(FunctionName="echo", Qualifier="7")
    message = raised.value.response["Error"]["Message"]
    assert message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:echo:7"
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.invoke(FunctionName="echo:live", Qualifier="$LATEST")


def test_a_handler_error_is_200_with_function_error_and_lambdas_payload(lam: Any) -> None:
    response = lam.invoke(FunctionName="fail", Payload=b'{"n": 1}')
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = payload(response)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "cannot handle {'n': 1}"
    assert error["requestId"]
    assert any("in fail" in frame for frame in error["stackTrace"])
    package = str(Path(package_module.__file__).parents[1])  # only user frames, wherever cloned
    assert not any(package in frame for frame in error["stackTrace"])


def test_a_worker_process_error_is_the_runtimes_payload(lam: Any) -> None:
    response = lam.invoke(FunctionName="broken")
    assert response["FunctionError"] == "Unhandled"
    error = payload(response)
    assert (error["errorType"], error["errorMessage"]) == ("KeyError", "'missing'")
    assert any("handlers.py" in frame for frame in error["stackTrace"])


def test_a_timeout_is_reported_as_lambda_reports_it(lam: Any) -> None:
    # Lambda kills the run after Timeout seconds: "Task timed out after 1.00 seconds",
    # errorType Sandbox.Timedout (what a Step Functions Task sees as its error).
    response = lam.invoke(FunctionName="sleepy", Payload=b'{"seconds": 30}', LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = payload(response)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds" in log
    # the function is usable again at once (a fresh process)
    assert payload(lam.invoke(FunctionName="sleepy", Payload=b'{"seconds": 0}')) == "awake"


def test_log_type_tail_returns_the_last_4_kb_of_the_log(lam: Any) -> None:
    response = lam.invoke(FunctionName="chatty", Payload=b'{"lines": 3}', LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith("Version: $LATEST")
    assert lines[1:4] == [f"line {n:04d} of chatty" for n in range(3)]
    assert lines[4].startswith("END RequestId: ") and lines[5].startswith("REPORT RequestId: ")
    assert "Memory Size: 256 MB" in lines[5]
    long = lam.invoke(FunctionName="chatty", Payload=b'{"lines": 400}', LogType="Tail")
    tail = base64.b64decode(long["LogResult"])
    assert len(tail) == 4096  # the last 4 KB of a longer log
    assert b"line 0399 of chatty" in tail and b"line 0000" not in tail
    assert "LogResult" not in lam.invoke(FunctionName="chatty", Payload=b"{}")


# ----------------------------------------------------------------- Event and DryRun


def test_an_event_invocation_answers_202_and_runs_the_function(
    lam: Any, stepwell: tuple[str, Host]
) -> None:
    response = lam.invoke(FunctionName="record", InvocationType="Event", Payload=b'{"id": 7}')
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    host = stepwell[1]
    host.service.lambda_events.drain(10)
    assert {"id": 7} in RECEIVED
    assert host.service.lambda_events.pending() == []  # done: no longer kept


def test_a_dry_run_answers_204_without_running(lam: Any) -> None:
    before = len(RECEIVED)
    response = lam.invoke(FunctionName="record", InvocationType="DryRun", Payload=b'{"id": 8}')
    assert response["StatusCode"] == 204
    assert len(RECEIVED) == before
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="nope", InvocationType="DryRun")


# ----------------------------------------------------------------- request errors


@pytest.mark.parametrize(
    ("name", "arn"),
    [
        ("nope", "arn:aws:lambda:us-east-1:123456789012:function:nope"),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:echo",
            "arn:aws:lambda:eu-west-1:123456789012:function:echo",
        ),
    ],
)
def test_an_unknown_function_is_resource_not_found(lam: Any, name: str, arn: str) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as raised:
        lam.invoke(FunctionName=name, Payload=b"{}")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Message"] == f"Function not found: {arn}"


@pytest.mark.parametrize("sent", [b"{", b"not json", b"\xff\xfe"])
def test_a_payload_that_is_not_json_is_invalid_request_content(lam: Any, sent: bytes) -> None:
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as raised:
        lam.invoke(FunctionName="echo", Payload=sent)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json"
    )


def test_a_malformed_function_name_is_a_validation_error(lam: Any) -> None:
    with pytest.raises(ClientError) as raised:
        lam.get_function(FunctionName="not a name")
    error = raised.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"].startswith(
        "1 validation error detected: Value 'not a name' at 'functionName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
    )  # the member as AWS's messages name it
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


# ----------------------------------------------------------------- ListFunctions, GetFunction


def test_list_functions_pages_with_marker_and_max_items(
    lam: Any, stepwell: tuple[str, Host]
) -> None:
    # every function a Task can call, with any @lambda_function of this process
    expected = stepwell[1].integrations.functions.names()
    assert {"broken", "chatty", "echo", "fail", "record", "sleepy"} <= set(expected)
    first = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == expected[:2]
    second = lam.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in second["Functions"]] == expected[2:4]
    pages = lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 4})
    names = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert names == expected
    assert "NextMarker" not in lam.list_functions()
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.list_functions(Marker="!!not-a-marker")


def test_get_function_describes_a_worker_process_function(lam: Any) -> None:
    described = lam.get_function(
        FunctionName="arn:aws:lambda:us-east-1:123456789012:function:sleepy"
    )
    configuration = described["Configuration"]
    assert configuration["FunctionName"] == "sleepy"
    assert configuration["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:sleepy"
    assert (configuration["Runtime"], configuration["Handler"]) == ("python3.12", "handlers.sleepy")
    assert (configuration["Timeout"], configuration["MemorySize"]) == (1, 256)
    assert configuration["Environment"] == {"Variables": {"STAGE": "test"}}
    assert (configuration["State"], configuration["Version"]) == ("Active", "$LATEST")
    assert configuration["LastUpdateStatus"] == "Successful"
    assert described["Code"]["Location"].startswith("file://")
    assert described["Code"]["Location"].endswith("/code")


def test_get_function_describes_a_python_callable(lam: Any) -> None:
    configuration = lam.get_function(FunctionName="echo")["Configuration"]
    assert configuration["Runtime"].startswith("python3.")
    assert configuration["Handler"] == "tests.e2e.test_e2e_lambda_api.echo"
    assert (configuration["Timeout"], configuration["MemorySize"]) == (3, 128)
    assert "Environment" not in configuration
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="nope")


# ----------------------------------------------------------------- one endpoint


def test_step_functions_and_health_still_answer_beside_lambda(
    stepwell: tuple[str, Host], lam: Any
) -> None:
    url, _ = stepwell
    sfn = service_client(url, "stepfunctions")
    call = {"FunctionName": "echo", "Payload.$": "$"}
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": call,
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name="calls-echo", definition=json.dumps(definition), roleArn=ROLE
    )
    started = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"a": 1}')
    described = wait_until_done(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["Payload"]["event"] == {"a": 1}
    assert lam.list_functions()["Functions"]


def test_the_aws_cli_invokes_and_lists(stepwell: tuple[str, Host], tmp_path: Path) -> None:
    url, _ = stepwell
    out = tmp_path / "out.json"
    # AWS CLI v2 needs --cli-binary-format raw-in-base64-out to send the payload as it is;
    # v1 (what the dev environment installs) always does and refuses the option.
    raw = [] if _cli_major_version() == 1 else ["--cli-binary-format", "raw-in-base64-out"]
    answer = aws_cli(url, tmp_path, "lambda", "invoke", "--function-name", "echo",
                     "--payload", '{"from": "cli"}', *raw, str(out))  # fmt: skip
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST"
    assert json.loads(out.read_text())["event"] == {"from": "cli"}
    listed = aws_cli(url, tmp_path, "lambda", "list-functions")
    assert "echo" in [f["FunctionName"] for f in listed["Functions"]]


def _cli_major_version() -> int:
    import awscli  # type: ignore[import-untyped]

    return int(str(awscli.__version__).split(".")[0])


def test_an_event_is_kept_in_the_store_while_it_runs(stepwell: tuple[str, Host]) -> None:
    """The event is in the store before Invoke answers 202 (service.lambda_events)."""
    url, host = stepwell
    events = host.service.lambda_events
    runner = events.run
    assert runner is not None
    kept_while_running: list[int] = []

    def watched(name: str, event: Any) -> Outcome:
        kept_while_running.append(len(events.pending()))
        return runner(name, event)

    events.run = watched
    try:
        lam = service_client(url, "lambda")
        lam.invoke(FunctionName="record", InvocationType="Event", Payload=b'{"id": 9}')
        events.drain(10)
    finally:
        events.run = runner
    assert kept_while_running == [1]
    assert events.pending() == []
    assert {"id": 9} in RECEIVED


def test_payloads_above_lambdas_quotas_are_refused(lam: Any) -> None:
    # API Reference, Invoke: 6 MB for synchronous invocations, 1 MB for asynchronous ones.
    with pytest.raises(lam.exceptions.RequestTooLargeException) as raised:
        lam.invoke(FunctionName="echo", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(
            FunctionName="record",
            InvocationType="Event",
            Payload=b'"' + b"x" * (1024 * 1024) + b'"',
        )
    big = b'"' + b"x" * (2 * 1024 * 1024) + b'"'
    assert len(payload(lam.invoke(FunctionName="echo", Payload=big))["event"]) == 2 * 1024 * 1024


def test_a_throttled_invoke_is_lambdas_429(stepwell: tuple[str, Host]) -> None:
    # API Reference, Invoke: TooManyRequestsException (HTTP 429) with a Reason, raised
    # before the function runs; here when every synchronous slot is taken.
    url, host = stepwell
    functions = host.service.lambda_functions
    slots = functions._sync_slots
    functions._sync_slots = threading.BoundedSemaphore(1)
    functions._sync_slots.acquire()  # the one slot is busy
    lam = service_client(url, "lambda")  # no retries
    before = len(RECEIVED)
    try:
        with pytest.raises(lam.exceptions.TooManyRequestsException) as raised:
            lam.invoke(FunctionName="record", Payload=b'{"id": 10}')
    finally:
        functions._sync_slots = slots
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ConcurrentInvocationLimitExceeded"
    assert error["Type"] == "User"
    assert len(RECEIVED) == before  # nothing ran
