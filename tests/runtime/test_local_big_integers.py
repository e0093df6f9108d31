"""The in-process runner (``stepwell.run``) reads an execution's input and a task's
output exactly, as the server does (I1): an integer past 64 bits stays an integer."""

from __future__ import annotations

import json

from stepwell.runtime.local import run

BIG = 123456789012345678901234567890


def test_an_integer_past_64_bits_goes_through_a_jsonpath_workflow_exact() -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"n.$": "$.n", "k": 1}, "End": True}},
    }
    result = run(json.dumps(definition), input=json.dumps({"n": BIG}))
    assert result.status == "SUCCEEDED"
    assert result.output == {"n": BIG, "k": 1}
    assert type(result.output["n"]) is int
