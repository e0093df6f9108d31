"""M8: mocked results checked against botocore's output shapes, one row per shape kind."""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.service import errors as err
from stepwell.service.test_state.mock_schema import check_mock_result

SDK = "arn:aws:states:::aws-sdk:"
SYNC2 = {"ExecutionArn": "e", "StateMachineArn": "s", "Status": "SUCCEEDED", "StartDate": "d",
         "Input": {"n": 1}}  # fmt: skip


@pytest.mark.parametrize(
    ("resource", "result", "mode", "problem"),
    [
        ("arn:aws:states:::dynamodb:getItem", {"Item": []}, None, "Field 'Item' must be an object"),
        ("arn:aws:states:::dynamodb:getItem", {"Item": {"a": {"S": 1}}}, None,
         "Field 'S' must be a string"),
        ("arn:aws:states:::dynamodb:putItem", {"ConsumedCapacity": 1}, None,
         "Field 'ConsumedCapacity' must be an object"),
        # "Task workflow state": region, account and partition name the same integration
        ("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject", {"DeleteMarker": "yes"},
         None, "Field 'DeleteMarker' must be a boolean"),
        ("arn:aws-cn:states:::dynamodb:getItem", {"Item": []}, None,
         "Field 'Item' must be an object"),
        ("arn:aws:states:eu-west-1:123456789012:lambda:invoke.waitForTaskToken",
         {"StatusCode": "x"}, None, None),
        (SDK + "s3:getObject", {"DeleteMarker": "yes"}, None,
         "Field 'DeleteMarker' must be a boolean"),
        (SDK + "s3:getObject", {"DeleteMarker": True}, None, None),
        # the same integrations named with a region and account (language/resource_arns.py)
        ("arn:aws:states:us-east-1:123456789012:dynamodb:getItem", {"Item": []}, None,
         "Field 'Item' must be an object"),
        ("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject", {"DeleteMarker": "yes"},
         None, "Field 'DeleteMarker' must be a boolean"),
        # M8: string length minimums are checked, maximums are not
        (SDK + "sfn:describeExecution", {"Name": "n" * 81}, "PRESENT", None),
        (SDK + "sfn:describeExecution", {"Name": ""}, "PRESENT",
         "Field 'Name' is smaller than the minimum length"),
        ("arn:aws:states:::events:putEvents", {"Entries": [{"ErrorCode": 1}]}, None,
         "Field 'ErrorCode' must be a string"),
        ("arn:aws:states:::events:putEvents", {"Entries": [{"EventId": "e"}]}, None, None),
        (SDK + "nosuchservice:doThings", {"X": 1}, None, None),
        (SDK + "s3:noSuchAction", {"X": 1}, None, None),
        ("arn:aws:states:::nosuchservice:act", {"X": 1}, None, None),
        ("arn:aws:states:::glue:startJobRun.sync", {"JobRunId": 1}, None, None),
        ("arn:aws:states:::lambda:invoke.waitForTaskToken", {"StatusCode": "x"}, None, None),
        ("arn:aws:states:::lambda:invoke", [1, 1, 1], None, None),
        ("arn:aws:states:::lambda:invoke", {"StatusCode": "x"}, "NONE", None),
        # .sync:2 answers DescribeExecution with Input and Output as JSON, not text
        ("arn:aws:states:::states:startExecution.sync:2", SYNC2 | {"Output": {"a": [1]}},
         None, None),
        ("arn:aws:states:::states:startExecution.sync:2", SYNC2 | {"Status": "DONE"}, None,
         "Field 'Status' is not an expected value"),
        ("arn:aws:states:::states:startExecution.sync",
         SYNC2 | {"Input": "{}", "Output": {"a": [1]}}, None, "Field 'Output' must be a string"),
    ],
)  # fmt: skip
def test_m8_shapes(resource: str, result: Any, mode: str | None, problem: str | None) -> None:
    if problem is None:
        check_mock_result(resource, result, mode)
        return
    with pytest.raises(err.ValidationException) as raised:
        check_mock_result(resource, result, mode)
    assert raised.value.message == f"Mock result schema validation error: {problem}"
