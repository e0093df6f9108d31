"""Loading definitions from JSON or YAML text, with the line and column of every value."""

from __future__ import annotations

import json

import pytest

from stepwell.language.source import (
    DefinitionSyntaxError,
    LoadedDefinition,
    escape_token,
    load_definition,
    pointer,
)

JSON_TEXT = """{
  "StartAt": "A",
  "States": {
    "A": {"Type": "Pass", "Result": [1, {"x": []}, {}], "Next": "B"},
    "a/b~c": {"Type": "Succeed"},
    "B": {"Type": "Succeed"}
  }
}"""

YAML_TEXT = """\
StartAt: A
States:
  A:
    Type: Wait
    Timestamp: 2016-03-14T01:59:00Z
    Next: B
  B:
    Type: Succeed
    List: [1, 2]
"""


@pytest.mark.parametrize(
    ("location", "position"),
    [
        ("", (1, 1)),
        ("/StartAt", (2, 14)),
        ("/States", (3, 13)),
        ("/States/A", (4, 10)),
        ("/States/A/Type", (4, 19)),
        ("/States/A/Result", (4, 37)),
        ("/States/A/Result/0", (4, 38)),
        ("/States/A/Result/1", (4, 41)),
        ("/States/A/Result/1/x", (4, 47)),
        ("/States/A/Result/2", (4, 52)),
        ("/States/A/Next", (4, 65)),
        ("/States/a~1b~0c", (5, 14)),
        ("/States/B/Type", (6, 19)),
    ],
)
def test_json_positions_are_those_of_each_value(location: str, position: tuple[int, int]) -> None:
    loaded = load_definition(JSON_TEXT)
    assert loaded.syntax == "json"
    assert loaded.positions[location] == position


@pytest.mark.parametrize(
    ("location", "position"),
    [
        ("", (1, 1)),
        ("/StartAt", (1, 10)),
        ("/States/A", (4, 5)),
        ("/States/A/Timestamp", (5, 16)),
        ("/States/B/List/1", (9, 15)),
    ],
)
def test_yaml_positions_come_from_the_composed_nodes(
    location: str, position: tuple[int, int]
) -> None:
    loaded = load_definition(YAML_TEXT)
    assert loaded.syntax == "yaml"
    assert loaded.positions[location] == position


def test_json_and_yaml_give_the_same_data() -> None:
    assert load_definition(JSON_TEXT).data == json.loads(JSON_TEXT)
    assert load_definition(JSON_TEXT.encode()).data == json.loads(JSON_TEXT)


def test_yaml_timestamps_stay_strings_as_asl_expects() -> None:
    assert load_definition(YAML_TEXT).data["States"]["A"]["Timestamp"] == "2016-03-14T01:59:00Z"


def test_escaped_keys_and_a_byte_order_mark() -> None:
    loaded = load_definition('\ufeff{"a\\"b": {"c\\u002fd": 1}}')
    assert loaded.data == {'a"b': {"c/d": 1}}
    assert loaded.positions['/a"b/c~1d'] == (1, 23)  # columns start after the mark


def test_crlf_line_endings_count_as_one_line() -> None:
    loaded = load_definition('{\r\n  "a": 1,\r\n  "b": [true, null]\r\n}')
    assert loaded.positions["/b/1"] == (3, 15)


@pytest.mark.parametrize(
    ("text", "duplicates", "kept"),
    [
        ('{"a": 1, "a": {"b": 2}}', ("/a",), {"a": {"b": 2}}),
        ('{"a": {"b": 1, "c": 3}, "a": 2}', ("/a",), {"a": 2}),
        ("a: 1\na: 2\n", ("/a",), {"a": 2}),
        ('{"a": [{"x": 1, "x": 1}]}', ("/a/0/x",), {"a": [{"x": 1}]}),
    ],
)
def test_duplicate_keys_are_listed_and_the_last_value_kept(
    text: str, duplicates: tuple[str, ...], kept: object
) -> None:
    loaded = load_definition(text)
    assert loaded.duplicates == duplicates
    assert loaded.data == kept


def test_positions_inside_a_replaced_duplicate_are_forgotten() -> None:
    loaded = load_definition('{"a": {"b": 1}, "a": 2}')
    assert "/a/b" not in loaded.positions
    assert loaded.positions["/a"] == (1, 22)


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        # aws-behaviour L: the words of AWS's JSON reader (Jackson)
        ('{"StartAt": }', "Unexpected character ('}' (code 125)): expected a valid", 1, 13),
        ('{\n  "a": 1,\n}', "Unexpected character ('}' (code 125)): was expecting double", 3, 1),
        ("[1, 2", "Unexpected end-of-input: expected close marker for ARRAY", 1, 6),
        ('{"a": NaN}', "Invalid JSON: NaN is not a JSON value", 1, 7),
        ('{"a": -Infinity}', "Invalid JSON: -Infinity is not a JSON value", 1, 7),
        ("States:\n  A: [\n", "Invalid YAML", 3, 1),
        ("a: b: c", "Invalid YAML", 1, 5),
        ("just words", "Unrecognized token 'just': was expecting (JSON String", 1, 1),
        ("", "No content to map due to end-of-input", 1, 1),
    ],
)
def test_malformed_text_raises_with_line_and_column(
    text: str, message: str, line: int, column: int
) -> None:
    with pytest.raises(DefinitionSyntaxError) as raised:
        load_definition(text)
    assert raised.value.message.startswith(message)
    assert (raised.value.line, raised.value.column) == (line, column)
    assert f"(line {line}, column {column})" in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_undecodable_bytes_raise_without_a_position() -> None:
    with pytest.raises(DefinitionSyntaxError) as raised:
        load_definition(b'{"a": "\xff"}')
    assert raised.value.line is None
    assert str(raised.value).startswith("The definition is not valid UTF-8")


def test_a_character_yaml_forbids_is_a_syntax_error() -> None:
    with pytest.raises(DefinitionSyntaxError, match="Invalid YAML: unacceptable character") as e:
        load_definition("a: 1\nb: \x01\n")
    assert (e.value.line, e.value.column) == (2, 4)


def test_a_yaml_tag_it_cannot_build_is_a_syntax_error() -> None:
    with pytest.raises(DefinitionSyntaxError, match="Invalid YAML"):
        load_definition("a: !!python/object:os.system 1\n")


def test_a_json_scalar_loads_with_a_root_position() -> None:
    assert load_definition('  "text"') == LoadedDefinition("text", {"": (1, 3)}, (), "json")


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ((), ""),
        (("States", "A", "Next"), "/States/A/Next"),
        (("States", "a/b", "c~d"), "/States/a~1b/c~0d"),
        (("Branches", 0), "/Branches/0"),
        (("",), "/"),
    ],
)
def test_pointer_escapes_tilde_and_slash(parts: tuple[str | int, ...], expected: str) -> None:
    assert pointer(*parts) == expected


def test_escape_token_orders_tilde_before_slash() -> None:
    assert escape_token("~1/") == "~01~1"


def test_a_one_megabyte_definition_gets_every_position() -> None:
    states = {
        f"S{i}": {"Type": "Pass", "Parameters": {"a.$": "$.x", "b": [1, 2]}, "Next": f"S{i + 1}"}
        for i in range(5000)
    }
    text = json.dumps({"StartAt": "S0", "States": states}, indent=2)
    loaded = load_definition(text)
    assert len(loaded.positions) == 3 + 5000 * 8
    assert (
        loaded.positions["/States/S4999/Next"][0] == text.count("\n", 0, text.rindex('"Next"')) + 1
    )
