"""Definition shapes that published AWS samples deploy with, beyond the letter of the
States Language spec (issue 8: "The validator must never reject a definition that AWS
accepts").

``Parameters`` and ``ResultSelector`` as an array: the spec says a Payload Template "MUST
be a JSON object", but the service accepts an array — AWS changed its own ASL schema "to
match the constraints applied in the service" (aws/aws-toolkit-vscode#2459) — and the
serverless-patterns sample eventbridge-pipes-sqs-to-lambda-with-stepfunction-enrichment
returns its EventBridge Pipes enrichment as ``"Parameters": [{"Item.$": "$.Item"}]``.
Its objects are templates like any other. A Map state's legacy ``Parameters`` (its
ItemSelector) and ``Credentials`` stay objects.
"""

from __future__ import annotations

import json
from typing import Any

import stepwell
from stepwell.language.validation import validate_definition


def pass_state(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, **fields}}}


def errors(definition: dict[str, Any]) -> list[str]:
    found = validate_definition(json.dumps(definition))
    return [f"{d.code}: {d.message}" for d in found if d.severity == "ERROR"]


def test_parameters_may_be_an_array_of_templates() -> None:
    definition = pass_state(Parameters=[{"Item.$": "$.Item"}, "static", 3])
    assert errors(definition) == []
    result = stepwell.run(definition, {"Item": {"id": "o-1"}})
    assert result.status == "SUCCEEDED"
    assert result.output == [{"Item": {"id": "o-1"}}, "static", 3]


def test_result_selector_may_be_an_array() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}],
                "ResultSelector": [{"first.$": "$[0]"}],
                "End": True,
            }
        },
    }
    assert errors(definition) == []
    assert stepwell.run(definition, {"a": 1}).output == [{"first": {"a": 1}}]


def test_paths_inside_an_array_template_are_still_checked() -> None:
    bad = pass_state(Parameters=[{"Item.$": "$$$"}])
    assert any("must be a valid JSONPath" in e for e in errors(bad))


def test_a_map_item_selector_and_credentials_stay_objects() -> None:
    inner = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    map_state = {
        "StartAt": "M",
        "States": {"M": {"Type": "Map", "ItemSelector": [1], "ItemProcessor": inner, "End": True}},
    }
    assert any('"ItemSelector" must be an object' in e for e in errors(map_state))
    task = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Credentials": ["role"],
                "End": True,
            }
        },
    }
    assert any('"Credentials" must be an object' in e for e in errors(task))
