"""variableReferences (aws-behaviour K5), worked out when a definition is compiled."""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.language.compiler import compile_definition, load_state_machine
from stepwell.language.references import variable_references


def machine(states: dict[str, Any], start: str = "S") -> dict[str, Any]:
    return {"StartAt": start, "States": states}


CASES = [
    pytest.param(
        machine({"S": {"Type": "Parallel", "End": True, "Branches": [
            machine({"A": {"Type": "Pass", "InputPath": "$first", "End": True}}, "A"),
            machine({"B": {"Type": "Pass", "OutputPath": "$second", "End": True}}, "B"),
        ]}}),
        {"A": ("first",), "B": ("second",)},
        id="K5-parallel-branches-by-their-own-names",
    ),
    pytest.param(
        machine({"S": {
            "Type": "Map", "End": True,
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "Parameters": {"Bucket.$": "$bucket", "Key": "k"},
                "ReaderConfig": {"InputType": "JSON", "MaxItemsPath": "$max"},
            },
            "ItemBatcher": {"MaxItemsPerBatchPath": "$size", "BatchInput": {"x.$": "$batch"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}},
            },
        }}),
        {"S": ("batch", "bucket", "max", "size")},
        id="K5-distributed-map-configuration",
    ),
    pytest.param(
        machine({"S": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                       "TimeoutSecondsPath": "$timeout", "End": True,
                       "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F",
                                  "Assign": {"e.$": "$error"}}]},
                 "F": {"Type": "Fail"}}),
        {"S": ("error", "timeout")},
        id="K5-task-timeout-path-and-catch-assign",
    ),
    pytest.param(
        machine({"S": {"Type": "Pass", "Parameters": {"l.$": "States.Array('$x', $$.Execution.Id)"},
                       "End": True}}),
        {},
        id="K5-literals-and-context-are-not-variables",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("definition", "expected"), CASES)
def test_variable_references(definition: dict[str, Any], expected: dict[str, Any]) -> None:
    assert load_state_machine(definition).variable_references == expected


def test_a_field_that_is_not_a_path_reads_nothing() -> None:
    """A ``...Path`` field whose text is no path (not one the validator lets through, but
    the walk must not fail on it) reads no variable."""
    definition = machine({"S": {"Type": "Pass", "End": True}})
    root = compile_definition(definition).root
    raw = machine({"S": {"Type": "Pass", "End": True, "InputPath": "not a path"}})
    assert variable_references(root, raw) == {}
