"""Template functions are reachable through the Lambda API, by name, as on AWS: a client
invokes one with boto3, and a function inside calls another with the boto3 it finds in
its own environment (``AWS_ENDPOINT_URL`` points back at Stepwell)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from stepwell.testing import local_stack

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.12, CodeUri: src/, MemorySize: 256}
Resources:
  Callee:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.callee
      Timeout: 5
      Environment: {Variables: {GREETING: hello}}
  Caller:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.caller
      Timeout: 20
      Environment: {Variables: {CALLEE: !Ref Callee}}
"""

FUNCTIONS = """
import json, os
import boto3

def callee(event, context):
    print("callee got", json.dumps(event))
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"greeting": f"{os.environ['GREETING']}, {event['name']}"}

def caller(event, context):
    answer = boto3.client("lambda").invoke(
        FunctionName=os.environ["CALLEE"], Payload=json.dumps(event).encode()
    )
    return {
        "status": answer["StatusCode"],
        "error": answer.get("FunctionError"),
        "payload": json.loads(answer["Payload"].read()),
    }
"""


def write(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(FUNCTIONS)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return tmp_path / "template.yaml"


def test_a_template_function_is_invoked_by_name_through_the_api(tmp_path: Path) -> None:
    with local_stack(write(tmp_path)) as app:
        lam = app.client("lambda")
        callee = app.physical("Callee")
        answer = lam.invoke(FunctionName=callee, Payload=b'{"name": "Ada"}', LogType="Tail")
        log = base64.b64decode(answer["LogResult"]).decode()
        configuration = lam.get_function(FunctionName=callee)["Configuration"]
        listed = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"greeting": "hello, Ada"}
    assert 'callee got {"name": "Ada"}' in log.splitlines()
    assert configuration["Handler"] == "app.callee"
    assert (configuration["Runtime"], configuration["Timeout"]) == ("python3.12", 5)
    assert configuration["MemorySize"] == 256
    assert configuration["Environment"] == {"Variables": {"GREETING": "hello"}}
    assert {callee, app.physical("Caller")} <= set(listed)


def test_a_function_calls_another_through_aws_endpoint_url(tmp_path: Path) -> None:
    with local_stack(write(tmp_path)) as app:
        lam = app.client("lambda")
        caller = app.physical("Caller")
        ok = lam.invoke(FunctionName=caller, Payload=b'{"name": "Grace"}')
        failed = lam.invoke(FunctionName=caller, Payload=b'{"fail": true}')
    assert json.loads(ok["Payload"].read()) == {
        "status": 200,
        "error": None,
        "payload": {"greeting": "hello, Grace"},
    }
    inner = json.loads(failed["Payload"].read())
    assert "FunctionError" not in failed  # the caller itself succeeded
    assert inner["error"] == "Unhandled"
    assert inner["payload"]["errorType"] == "RuntimeError"
    assert inner["payload"]["errorMessage"] == "asked to fail"
