"""TestState's whole surface (issue 10): every request and response member of botocore's
model for ``TestState`` is used through boto3 against a Stepwell server, each answer
member with the type the model gives it; and the server, ``stepwell.test_state`` and
``stepwell test-state`` answer the same requests alike (the same engine behind all three).

The values themselves are checked rule by rule in ``test_e2e_test_state.py`` (M1-M13);
here the requests are chosen so that together they reach every member.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import botocore.session
import pytest

import stepwell
from stepwell.cli import main
from stepwell.service.errors import ServiceError
from tests.e2e.server import ROLE, client, running_host
from tests.e2e.test_e2e_test_state import PASS_BRANCH, map_state, task

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
OPERATION = MODEL.operation_model("TestState")
# botocore type name -> the Python type boto3 hands back for it (JSON protocol)
PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "float": (float, int),
    "boolean": bool,
    "structure": dict,
}


def member_paths(shape: Any, prefix: str = "") -> set[str]:
    """Every member of a botocore structure shape, nested ones as ``a.b``."""
    found: set[str] = set()
    for name, member in shape.members.items():
        path = f"{prefix}{name}"
        found.add(path)
        if member.type_name == "structure":
            found |= member_paths(member, path + ".")
    return found


def used_paths(value: dict[str, Any], shape: Any, prefix: str = "") -> set[str]:
    """The members ``value`` has, each checked against the type the model gives it."""
    found: set[str] = set()
    for name, item in value.items():
        member = shape.members[name]  # a member the model does not know fails here
        path = f"{prefix}{name}"
        assert isinstance(item, PYTHON_TYPES[member.type_name]), (path, item)
        found.add(path)
        if member.type_name == "structure":
            found |= used_paths(item, member, path + ".")
    return found


class _Api(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"ok": true}'
        self.send_response_only(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_host(tmp_path_factory.mktemp("surface"), {}) as (url, _):
        yield client(url)


READER = {
    "Resource": "arn:aws:states:::s3:getObject",
    "ReaderConfig": {"InputType": "JSON", "ItemsPointer": "/items"},
    "Parameters": {"Bucket": "b", "Key": "k"},
}
DISTRIBUTED = {
    **PASS_BRANCH,
    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
}
RETRIED = {"Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["E"], "MaxAttempts": 3}]}
MACHINE = {
    "StartAt": "First",
    "States": {
        "First": {"Type": "Pass", "Next": "Second"},
        "Second": {"Type": "Pass", "End": True},
    },
}


def surface_requests(api: str) -> list[dict[str, Any]]:
    """Requests that together use every request member and reach every response member."""
    return [
        # input, variables, afterInputPath … afterResultPath, result, output, nextState
        {"definition": task(Next="N", ResultSelector={"p.$": "$.Payload"}),
         "input": '{"n": 1}', "inspectionLevel": "DEBUG", "variables": '{"v": 1}',
         "mock": {"result": '{"Payload": 2}', "fieldValidationMode": "STRICT"}},
        # stateName in a whole machine, INFO
        {"definition": MACHINE, "stateName": "Second", "inspectionLevel": "INFO"},
        # error, cause; errorDetails.retryIndex and retryBackoffIntervalSeconds
        {"definition": task(End=True, **RETRIED), "inspectionLevel": "DEBUG",
         "mock": {"errorOutput": {"error": "E", "cause": "c"}},
         "stateConfiguration": {"retrierRetryCount": 1}},
        # errorDetails.catchIndex, errorCausedByState
        {"definition": map_state(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "H"}]),
         "input": "[1]", "inspectionLevel": "DEBUG",
         "mock": {"errorOutput": {"error": "E", "cause": "c"}},
         "stateConfiguration": {"errorCausedByState": "B"}},
        # afterArguments (JSONata), a given context
        {"definition": task(End=True, QueryLanguage="JSONata",
                            Arguments={"t": "{% $states.context.Task.Token %}"},
                            Resource="arn:aws:states:::lambda:invoke.waitForTaskToken"),
         "inspectionLevel": "DEBUG", "context": '{"Task": {"Token": "tok"}}',
         "mock": {"result": "{}", "fieldValidationMode": "NONE"}},
        # afterItemsPath, maxConcurrency, toleratedFailure*, mapIterationFailureCount
        {"definition": map_state(ItemsPath="$.xs", MaxConcurrency=2, ToleratedFailureCount=1,
                                 ToleratedFailurePercentage=50),
         "input": '{"xs": [1, 2]}', "inspectionLevel": "DEBUG",
         "mock": {"result": "[1, 2]", "fieldValidationMode": "PRESENT"},
         "stateConfiguration": {"mapIterationFailureCount": 1}},
        # afterItemsPointer, afterItemSelector, afterItemBatcher, mapItemReaderData
        {"definition": map_state(ItemReader=READER, ItemProcessor=DISTRIBUTED,
                                 ItemSelector={"v.$": "$$.Map.Item.Value"},
                                 ItemBatcher={"MaxItemsPerBatch": 2}),
         "inspectionLevel": "DEBUG", "mock": {"result": "[1]"},
         "stateConfiguration": {"mapItemReaderData": '{"items": [1, 2, 3]}'}},
        # request and response (TRACE, revealSecrets), roleArn for an unmocked Task
        {"definition": task("arn:aws:states:::http:invoke", End=True, Parameters={
            "ApiEndpoint": api, "Method": "POST", "RequestBody": {"a": 1}}),
         "roleArn": ROLE, "inspectionLevel": "TRACE", "revealSecrets": True},
    ]  # fmt: skip


def test_every_member_of_the_botocore_model_is_used(sfn: Any, api: str) -> None:
    requested: set[str] = set()
    answered: set[str] = set()
    for request in surface_requests(api):
        request = {**request, "definition": json.dumps(request["definition"])}
        requested |= used_paths(request, OPERATION.input_shape)
        answer = sfn.test_state(**request)
        answer.pop("ResponseMetadata")
        answered |= used_paths(answer, OPERATION.output_shape)
    assert member_paths(OPERATION.input_shape) - requested == set()
    assert member_paths(OPERATION.output_shape) - answered == set()


# ------------------------------------------------------------- three fronts, one engine

SAME_ANSWER_CASES = [
    ("pass", {"definition": {"Type": "Pass", "Parameters": {"x.$": "$.a"}, "Next": "N"},
              "input": '{"a": [1, 2]}', "inspectionLevel": "DEBUG", "variables": '{"v": 1}'}),
    ("machine", {"definition": MACHINE, "stateName": "First"}),
    ("mocked error retried", {"definition": task(End=True, **RETRIED),
                              "mock": {"errorOutput": {"error": "E", "cause": "c"}},
                              "inspectionLevel": "TRACE",
                              "stateConfiguration": {"retrierRetryCount": 2}}),
    ("map over threshold", {"definition": map_state(ToleratedFailureCount=0, Catch=[
        {"ErrorEquals": ["States.ALL"], "Next": "H"}]), "input": "[1, 2]",
        "mock": {"result": "[1, 2]"}, "inspectionLevel": "DEBUG",
        "stateConfiguration": {"mapIterationFailureCount": 1}}),
    ("callback with context", {"definition": task(
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken", Next="N",
        Parameters={"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}}),
        "context": '{"Task": {"Token": "tok"}}', "mock": {"result": '{"MessageId": "m"}'},
        "inspectionLevel": "DEBUG"}),
    ("refused: state not found", {"definition": MACHINE, "stateName": "Third"}),
    ("refused: mock schema", {"definition": task("arn:aws:states:::states:startExecution",
                                                 End=True), "mock": {"result": "{}"}}),
    ("refused: map without mock", {"definition": map_state()}),
]  # fmt: skip


def from_server(sfn: Any, request: dict[str, Any]) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = sfn.test_state(**request)
    except sfn.exceptions.ClientError as refused:
        error = refused.response["Error"]
        return {"refused": f"{error['Code']}: {error['Message']}"}
    answer.pop("ResponseMetadata")
    return answer


def from_python(request: dict[str, Any]) -> dict[str, Any]:
    names = {"roleArn": "role_arn", "inspectionLevel": "inspection_level",
             "revealSecrets": "reveal_secrets", "stateName": "state_name",
             "stateConfiguration": "state_configuration"}  # fmt: skip
    given = {names.get(key, key): value for key, value in request.items()}
    try:
        return dict(stepwell.test_state(**given))
    except ServiceError as refused:
        return {"refused": f"{refused.aws_type}: {refused.message}"}


def from_cli(request: dict[str, Any], folder: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    definition = folder / "definition.json"
    definition.write_text(request["definition"])
    args = ["test-state", str(definition)]
    for key, value in request.items():
        if key != "definition":
            option = "--" + "".join("-" + c.lower() if c.isupper() else c for c in key)
            args += [option, value if isinstance(value, str) else json.dumps(value)]
    code = main(args)
    captured = capsys.readouterr()
    if code == 2:
        return {"refused": captured.err.strip().removeprefix("error: ")}
    return json.loads(captured.out)


@pytest.mark.parametrize(
    "request_", [case[1] for case in SAME_ANSWER_CASES], ids=[c[0] for c in SAME_ANSWER_CASES]
)
def test_server_python_and_cli_answer_alike(
    sfn: Any, request_: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = {**request_, "definition": json.dumps(request_["definition"])}
    served = from_server(sfn, request)
    assert from_python(request) == served
    assert from_cli(request, tmp_path, capsys) == served
