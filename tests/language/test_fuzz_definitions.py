"""Fuzzing definitions: whatever a user sends, Stepwell answers with diagnostics or runs
it; it never crashes. Valid definitions are mutated at random (fields removed, replaced
with values of other types, renamed, duplicated into other states); each mutant must
either load or raise ``InvalidDefinition``, and a mutant that loads must run to an end
state (any status) without an exception escaping the interpreter."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

import stepwell
from stepwell.language.compiler import InvalidDefinition

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SEEDS: list[dict[str, Any]] = [
    json.loads((EXAMPLES / "busy_waiting.asl.json").read_text()),
    {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Pass",
                "Parameters": {"a.$": "$.x", "b": [1, {"c.$": "$$.State.Name"}]},
                "ResultPath": "$.r",
                "Next": "C",
            },
            "C": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.x", "IsNumeric": True},
                            {"Variable": "$.x", "NumericGreaterThan": 1},
                        ],
                        "Next": "M",
                    }
                ],
                "Default": "F",
            },
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {"v.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    "StartAt": "I",
                    "States": {
                        "I": {
                            "Type": "Pass",
                            "Result": {"k": "States.Format('{}', $.v)"},
                            "End": True,
                        }
                    },
                },
                "ResultPath": "$.m",
                "Next": "Par",
            },
            "Par": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "W",
                        "States": {"W": {"Type": "Wait", "SecondsPath": "$.x", "End": True}},
                    },
                    {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}},
                ],
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}],
                "End": True,
            },
            "F": {"Type": "Fail", "ErrorPath": "$.e", "Cause": "c"},
        },
    },
    {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Pass",
                "Assign": {"n": "{% $states.input.n %}"},
                "Output": {"d": "{% $n * 2 %}"},
                "Next": "B",
            },
            "B": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.d > 2 %}", "Next": "E"}],
                "Default": "E",
            },
            "E": {
                "Type": "Map",
                "Items": "{% [1, 2, 3] %}",
                "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": True}}},
                "Output": "{% $states.result %}",
                "End": True,
            },
        },
    },
]

ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    1.5,
    "",
    "$",
    "$.",
    "$$",
    "{% %}",
    "{% $states.input %}",
    "States.Format(",
    [],
    {},
    [None],
    {"x": None},
    True,
    "x" * 300,
    "States.ALL",
    "$.a[",
    "$..x",
    10**20,
]


def mutate(definition: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    mutant = copy.deepcopy(definition)
    for _ in range(rng.randint(1, 3)):
        holders = list(_containers(mutant))
        container = rng.choice(holders)
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        if not keys:
            continue
        key = rng.choice(keys)
        action = rng.random()
        if action < 0.3 and isinstance(container, dict):
            del container[key]
        elif action < 0.8:
            container[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif isinstance(container, dict):
            container[f"{key}x"] = container.pop(key)
    return mutant


def _containers(value: Any) -> Any:
    if isinstance(value, dict | list):
        yield value
        for child in value.values() if isinstance(value, dict) else value:
            yield from _containers(child)


INPUTS: list[Any] = [{}, {"x": 2, "items": [1, 2], "e": "E", "n": 2}, [], "text", None]


@pytest.mark.parametrize("seed", range(400))
def test_mutants_load_or_explain_and_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    mutant = mutate(rng.choice(SEEDS), rng)
    try:
        machine = stepwell.load_state_machine(mutant)
    except InvalidDefinition as invalid:
        assert invalid.diagnostics, "an invalid definition must say why"
        return
    given = json.dumps(rng.choice(INPUTS))
    result = stepwell.run(machine, given, seed=seed, history=seed % 2 == 0)
    assert result.status in ("SUCCEEDED", "FAILED", "TIMED_OUT")
    if result.status == "FAILED":
        assert isinstance(result.error, str | None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        "null",
        "42",
        '"x"',
        "{}",
        "a: [",
        "\x00",
        '{"StartAt": 1}',
        '{"States": []}',
        "- - -",
    ],
)
def test_garbage_text_is_an_invalid_definition(text: str) -> None:
    with pytest.raises(InvalidDefinition):
        stepwell.load_state_machine(text)
