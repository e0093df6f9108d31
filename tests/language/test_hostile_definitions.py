"""Definitions shaped to exhaust the server get InvalidDefinition, not a crash (issue 9,
faults 4 and 5): nesting past ``MAX_NESTING_DEPTH`` in JSON, YAML and data, Parallel/Map
nested hundreds deep, integers past 4,300 digits, numbers past a float, and YAML aliases
that expand without bound ("billion laughs") or refer to themselves.

Each case failed before with a RecursionError, a ValueError from ``int()``, or gigabytes
of memory; now each is one ``INVALID_JSON_DESCRIPTION`` diagnostic with a clear message.
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any

import pytest

from stepwell.language.compiler import InvalidDefinition, load_state_machine
from stepwell.language.source import (
    MAX_INTEGER_DIGITS,
    MAX_NESTING_DEPTH,
    MAX_YAML_NODES,
    DefinitionSyntaxError,
    load_definition,
)
from stepwell.language.validation import validate_definition


def pass_with_result(result_text: str) -> str:
    return f'{{"StartAt":"A","States":{{"A":{{"Type":"Pass","Result":{result_text},"End":true}}}}}}'


def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_parallels(levels: int) -> dict[str, Any]:
    machine: dict[str, Any] = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    for level in range(levels):
        name = f"P{level}"
        state = {"Type": "Parallel", "Branches": [machine], "End": True}
        machine = {"StartAt": name, "States": {name: state}}
    return machine


def nested_maps(levels: int) -> dict[str, Any]:
    machine: dict[str, Any] = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    for level in range(levels):
        name = f"M{level}"
        machine = {
            "StartAt": name,
            "States": {name: {"Type": "Map", "ItemProcessor": machine, "End": True}},
        }
    return machine


def yaml_with_result(result: str) -> str:
    return f"StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n    Result: {result}\n"


BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]"
            for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)

TOO_DEEP = f"nested more than {MAX_NESTING_DEPTH} levels deep"
TOO_MANY_DIGITS = f"at most {MAX_INTEGER_DIGITS} are allowed"

CASES = [
    pytest.param(pass_with_result(nested_arrays(1_000)), TOO_DEEP, id="json-1k-deep"),
    pytest.param(pass_with_result(nested_arrays(100_000)), TOO_DEEP, id="json-100k-deep"),
    pytest.param(pass_with_result(nested_arrays(MAX_NESTING_DEPTH)), TOO_DEEP, id="json-129"),
    pytest.param(json.dumps(nested_parallels(200)), TOO_DEEP, id="parallel-200-deep"),
    pytest.param(json.dumps(nested_maps(200)), TOO_DEEP, id="map-200-deep"),
    pytest.param(yaml_with_result(nested_arrays(1_000)), TOO_DEEP, id="yaml-1k-deep"),
    pytest.param(yaml_with_result(nested_arrays(200)), TOO_DEEP, id="yaml-flow-200-deep"),
    pytest.param(
        "StartAt: A\nStates:\n  A:" + "".join(f"\n{'  ' * (i + 2)}k:" for i in range(300)) + " 1",
        TOO_DEEP,
        id="yaml-block-300-deep",
    ),
    pytest.param(pass_with_result("9" * 5_000), TOO_MANY_DIGITS, id="json-5000-digits"),
    pytest.param(pass_with_result("-" + "9" * 4_301), TOO_MANY_DIGITS, id="json-4301-digits"),
    pytest.param(yaml_with_result("9" * 5_000), TOO_MANY_DIGITS, id="yaml-5000-digits"),
    pytest.param(pass_with_result("1e999"), "too large to represent", id="json-1e999"),
    pytest.param(yaml_with_result(".inf"), "is not a JSON value", id="yaml-inf"),
    pytest.param(BILLION_LAUGHS, f"expand it to more than {MAX_YAML_NODES}", id="yaml-bomb"),
    pytest.param(
        "StartAt: A\nStates: &s\n  A: *s\n", "refers to a node that contains it", id="yaml-cycle"
    ),
    pytest.param(
        "a: &a [x]\n"
        + "".join(f"a{i}: &a{i} [*{'a' if i == 0 else f'a{i - 1}'}]\n" for i in range(200)),
        TOO_DEEP,
        id="yaml-alias-chain-200",
    ),
    pytest.param(
        "\n".join(
            ["a0: &a0 {x: 1, y: 2}"]
            + [f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], z{i}: 1}}" for i in range(1, 30)]
        ),
        f"expand it to more than {MAX_YAML_NODES}",
        id="yaml-merge-key-doubling",
    ),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_a_hostile_definition_is_an_invalid_definition(text: str, message: str) -> None:
    diagnostics = validate_definition(text)
    assert [(d.severity, d.code) for d in diagnostics] == [("ERROR", "INVALID_JSON_DESCRIPTION")]
    assert message in diagnostics[0].message
    with pytest.raises(InvalidDefinition) as raised:
        load_state_machine(text)
    assert message in str(raised.value)


@pytest.mark.parametrize(("text", "message"), CASES)
def test_a_hostile_definition_is_refused_even_with_little_stack_left(
    text: str, message: str
) -> None:
    # A request handler runs some frames deep; the checks must not need the whole stack.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 500)
    try:
        with pytest.raises(DefinitionSyntaxError, match=message.split("{")[0][:20]):
            load_definition(text)
    finally:
        sys.setrecursionlimit(limit)


def test_the_error_points_at_the_first_value_past_the_limit() -> None:
    text = '{"StartAt": "A",\n "States": ' + nested_arrays(500) + "}"
    with pytest.raises(DefinitionSyntaxError) as raised:
        load_definition(text)
    assert (raised.value.line, raised.value.column) == (2, 12 + MAX_NESTING_DEPTH - 1)


@pytest.mark.parametrize(
    "definition",
    [
        pytest.param(nested_parallels(31), id="parallel-31-deep"),
        pytest.param(nested_maps(41), id="map-41-deep"),
        pytest.param(
            json.loads(pass_with_result(nested_arrays(MAX_NESTING_DEPTH - 5))), id="result-123"
        ),
        pytest.param(json.loads(pass_with_result("9" * MAX_INTEGER_DIGITS)), id="4300-digits"),
    ],
)
def test_deep_but_real_definitions_are_accepted(definition: dict[str, Any]) -> None:
    # The limits leave room: a machine nesting 31 Parallels or 41 Maps compiles, from
    # text and from data.
    assert load_state_machine(json.dumps(definition)).root.start_at == definition["StartAt"]
    assert load_state_machine(definition).root.start_at == definition["StartAt"]


def test_yaml_aliases_within_the_limits_are_expanded() -> None:
    text = "StartAt: A\nStates:\n  A: &pass {Type: Pass, End: true}\n  B: *pass\n"
    loaded = load_definition(text)
    assert loaded.data["States"]["B"] == {"Type": "Pass", "End": True}
    assert loaded.positions["/States/B/Type"] == loaded.positions["/States/A/Type"]


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH + 1, 3_000])
def test_deep_definitions_given_as_data_are_refused(depth: int) -> None:
    result: Any = []
    for _ in range(depth):
        result = [result]
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": result, "End": True}}}
    with pytest.raises(InvalidDefinition, match=TOO_DEEP):
        load_state_machine(definition)
    assert validate_definition(definition)[0].location.startswith("/States/A/Result/0/0")


def test_brackets_in_yaml_scalars_do_not_count_as_nesting() -> None:
    text = "StartAt: A\nComment: see [1] and {x}, a [ and ]] ]\nStates:\n  A: {Type: Succeed}\n"
    assert load_definition(text).data["Comment"] == "see [1] and {x}, a [ and ]] ]"
