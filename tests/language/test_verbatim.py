"""language.verbatim: values that keep the JSON text they were sent as (aws-behaviour.md
I1, M12): kept only while unmodified, compact otherwise."""

from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict
from typing import Any

import orjson
import pytest

from stepwell.language.verbatim import (
    STORED_MARK,
    VerbatimDict,
    VerbatimList,
    compact_text,
    dump_stored,
    json_text,
    parse_kept,
    parse_sent_json,
    restore_stored,
    with_text,
)


@pytest.mark.parametrize(
    ("value", "text", "kept"),
    [
        ([[1, 2, 3], [4, 5, 6]], "[[1, 2, 3], [4, 5, 6]]", True),  # I1's example
        ({"a": 1}, '{ "a" : 1 }', True),
        ({"a": 1}, '{"a":1}', False),  # already compact: nothing to keep
        ({"a": 1}, "{}", False),  # the text is another value's
        ({"a": 1}, "not json", False),
        (5, " 5 ", False),  # scalars are not wrapped
        ([2**70], "[ 1 ]", False),  # beyond orjson: stays plain
    ],
)
def test_with_text_wraps_only_what_it_should(value: Any, text: str, kept: bool) -> None:
    wrapped = with_text(value, text)
    assert wrapped == value
    assert isinstance(wrapped, VerbatimList | VerbatimDict) is kept
    if kept:
        assert json_text(wrapped) == text


@pytest.mark.parametrize(
    "text",
    [
        "[[1, 2, 3], [4, 5, 6]]",
        '{ "a" : 1 }',
        '{"a":1}',
        '{"a": 1, "a": 2}',  # a repeated key: the last value, the text as sent
        " 5 ",
        '"x"',
        "[ 1 ]",
        "[ 123456789012345678901234 ]",  # beyond 64 bits: exact, not kept
        '{"n": 18446744073709551615 }',  # the largest 64-bit integer orjson writes
    ],
)
def test_parse_kept_is_with_text_of_the_parsed_text(text: str) -> None:
    """``parse_kept`` reads the text once; it gives what ``with_text`` gives."""
    expected = with_text(parse_sent_json(text), text)
    kept = parse_kept(text)
    assert kept == expected and type(kept) is type(expected)
    assert json_text(kept) == json_text(expected)


def test_wrapping_twice_keeps_the_first_text() -> None:
    once = with_text([1, 2], "[1, 2]")
    assert with_text(once, "[1,  2]") is once


def test_inside_new_values_the_kept_text_is_used_and_children_are_compact() -> None:
    kept = with_text({"a": [1, 2]}, '{"a": [1, 2]}')
    assert isinstance(kept, dict)
    assert json_text([kept, {"b": kept}]) == '[{"a": [1, 2]},{"b":{"a": [1, 2]}}]'
    assert json_text(kept["a"]) == "[1,2]"
    assert json_text({**kept, "c": 1}) == '{"a":[1,2],"c":1}'  # modified: compact


def test_copies_without_the_text_are_compact() -> None:
    @dataclasses.dataclass
    class Holder:
        value: Any

    kept = with_text([1, 2], "[1, 2]")
    assert json_text(dataclasses.asdict(Holder(kept))["value"]) == "[1,2]"
    assert json_text(copy.deepcopy(kept)) == "[1, 2]"


class Count(int):
    pass


class Tag(str):
    pass


def test_other_subclasses_serialise_as_their_base_type() -> None:
    value = OrderedDict(a=Count(3), b=Tag("x"), c=[Tag("y")])
    assert json_text(value) == '{"a":3,"b":"x","c":["y"]}'


def test_big_integers_and_non_json_values() -> None:
    assert json_text({"n": 2**70}) == '{"n":1180591620717411303424}'
    with pytest.raises(TypeError):
        json_text({"s": {1, 2}})


def test_i1_kept_values_survive_a_stored_round_trip() -> None:
    """I1: the state of a durable execution is stored between steps; kept values keep their
    text through it, other values stay as they were."""
    kept = with_text([1, 2], "[1,  2]")
    state = {"input": kept, "other": {"x": [1, 2]}, "list": [kept, 3]}
    data = dump_stored(state)
    restored = restore_stored(orjson.loads(data), data)
    assert restored == state
    assert json_text(restored["input"]) == "[1,  2]"
    assert json_text(restored["list"]) == "[[1,  2],3]"
    assert json_text(restored["other"]) == '{"x":[1,2]}'
    from_database = restore_stored(orjson.loads(data), memoryview(data))  # a bytea column
    assert json_text(from_database["input"]) == "[1,  2]"
    plain = orjson.dumps({"a": [1, 2]})
    assert restore_stored(orjson.loads(plain), plain) == {"a": [1, 2]}


def test_user_data_holding_the_stored_mark_key_still_loads() -> None:
    """A user's object whose only key is the mark, with a text that is not JSON, is data,
    not a kept value: the stored state still loads, with the object as it was."""
    state = {"input": {STORED_MARK: "not json"}}
    data = dump_stored(state)
    assert restore_stored(orjson.loads(data), data) == state


@pytest.mark.parametrize(
    "data",
    [
        {STORED_MARK: "[1,  2]"},  # the mark with JSON text: still the user's object
        {STORED_MARK: '{"a":  1}', "other": 1},
        {"\u0000stepwell:key:x": [{"\u0000stepwell:": "\u0000stepwell:verbatim"}]},
        ["\u0000stepwell:verbatim", {STORED_MARK: "3"}],
    ],
)
def test_user_data_is_never_read_back_as_a_mark(data: Any) -> None:
    """Only a mark ``dump_stored`` wrote reads back as a kept value: user keys that look
    like one are escaped, beside kept values and inside them."""
    kept = with_text({"k": [1]}, '{"k":  [1]}')
    inner = with_text([data], f"[ {orjson.dumps(data).decode()} ]")
    state = {"user": data, "kept": kept, "inner": inner}
    stored = dump_stored(state)
    restored = restore_stored(orjson.loads(stored), stored)
    assert restored == state
    assert not isinstance(restored["user"], VerbatimList | VerbatimDict)
    assert json_text(restored["kept"]) == '{"k":  [1]}'
    assert json_text(restored["inner"]) == inner.text


def test_compact_text_is_json_text_only_when_no_kept_text_is_inside() -> None:
    """One serialisation serves the payload quota and history unless a kept text differs
    from the compact form (then the caller measures the compact form apart)."""
    built = {"a": [1, 2], "b": "x"}
    assert compact_text(built) == json_text(built).encode() == orjson.dumps(built)
    kept = with_text([1, 2], "[1, 2]")
    assert compact_text({"in": kept}) is None
    assert json_text({"in": kept}) == '{"in":[1, 2]}'
    with pytest.raises(TypeError):
        compact_text([2**70])
