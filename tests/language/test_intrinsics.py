"""The 18 intrinsic functions, from the examples of the Developer Guide page "Intrinsic
functions for JSONPath states" (intrinsic-functions) and the States Language spec, plus
every compile-time and run-time error path.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from stepwell.language.errors import (
    INTRINSIC_FAILURE,
    RUNTIME,
    ExpressionSyntaxError,
    StatesError,
)
from stepwell.language.evaluation import EvalContext
from stepwell.language.intrinsics import FUNCTIONS, compile_intrinsic, is_intrinsic


def make_ctx(random_value: float = 0.5) -> EvalContext:
    return EvalContext(
        context={"Execution": {"Name": "run-1"}},
        variables={"greeting": "Hi", "limits": {"max": 3}},
        random=lambda: random_value,
        uuid4=lambda: "ca4c1140-dcc1-40cd-ad05-7b4aa23df4a8",
    )


CTX = make_ctx()

# (expression, input, expected); each row cites the doc example it comes from.
DOC_EXAMPLES: list[tuple[str, Any, Any]] = [
    # States.Format (Developer Guide and spec)
    (
        "States.Format('Hello, my name is {}.', $.name)",
        {"name": "Arnav"},
        "Hello, my name is Arnav.",
    ),
    (
        "States.Format($.template, $.name)",
        {"name": "Arnav", "template": "Hello, my name is {}."},
        "Hello, my name is Arnav.",
    ),
    (
        "States.Format('Your name is {}, we are in the year {}', $.name, 2020)",
        {"name": "Foo", "zebra": "stripe"},
        "Your name is Foo, we are in the year 2020",
    ),
    # tutorial-get-started-use-parameters-filter: addressString
    (
        "States.Format('{}. {}, {} - {}', $.street, $.city, $.state, $.zip)",
        {"street": "123 Main St", "city": "Columbus", "state": "OH", "zip": "43219"},
        "123 Main St. Columbus, OH - 43219",
    ),
    # States.StringToJson
    (
        "States.StringToJson($.escapedJsonString)",
        {"escapedJsonString": '{"foo": "bar"}'},
        {"foo": "bar"},
    ),
    ("States.StringToJson($.someString)", {"someString": '{"number": 20}'}, {"number": 20}),
    # States.JsonToString (spec example output is compact)
    (
        "States.JsonToString($.someJson)",
        {"someJson": {"name": "Foo", "year": 2020}},
        '{"name":"Foo","year":2020}',
    ),
    # States.Array
    ("States.Array($.Id)", {"Id": 123456}, [123456]),
    (
        "States.Array('Foo', 2020, $.someJson, null)",
        {"someJson": {"random": "abcdefg"}},
        ["Foo", 2020, {"random": "abcdefg"}, None],
    ),
    ("States.Array()", {}, []),
    # States.ArrayPartition
    (
        "States.ArrayPartition($.inputArray,4)",
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
        [[1, 2, 3, 4], [5, 6, 7, 8], [9]],
    ),
    # States.ArrayContains
    (
        "States.ArrayContains($.inputArray, $.lookingFor)",
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5},
        True,
    ),
    # States.ArrayRange
    ("States.ArrayRange(1, 9, 2)", {}, [1, 3, 5, 7, 9]),
    # States.ArrayGetItem
    (
        "States.ArrayGetItem($.inputArray, $.index)",
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5},
        6,
    ),
    # States.ArrayLength
    ("States.ArrayLength($.inputArray)", {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]}, 9),
    # States.ArrayUnique
    ("States.ArrayUnique($.inputArray)", {"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]}, [1, 2, 3, 4]),
    # States.Base64Encode / States.Base64Decode
    ("States.Base64Encode($.input)", {"input": "Data to encode"}, "RGF0YSB0byBlbmNvZGU="),
    ("States.Base64Decode($.base64)", {"base64": "RGF0YSB0byBlbmNvZGU="}, "Data to encode"),
    # States.Hash: the page prints a digest missing one digit; this is SHA-1("input data").
    (
        "States.Hash($.Data, $.Algorithm)",
        {"Data": "input data", "Algorithm": "SHA-1"},
        "aaff4a450a104cd177d28d18d74485e8cae074b7",
    ),
    # States.JsonMerge
    (
        "States.JsonMerge($.json1, $.json2, false)",
        {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}},
        {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3},
    ),
    # States.MathAdd
    ("States.MathAdd($.value1, $.step)", {"value1": 111, "step": -1}, 110),
    # States.StringSplit
    (
        "States.StringSplit($.inputString, $.splitter)",
        {"inputString": "1,2,3,4,5", "splitter": ","},
        ["1", "2", "3", "4", "5"],
    ),
    # States.UUID
    ("States.UUID()", {}, "ca4c1140-dcc1-40cd-ad05-7b4aa23df4a8"),
    # Nesting: the page's "myArn" example with nine nested intrinsic functions (the page
    # shows '{}.{}.{}' with only two values after it, which cannot format; two '{}' here)
    (
        "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
        "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem("
        "States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2),"
        " '.'), 1))",
        {"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:1:image-recipe/recipe/1.0.2"}},
        "1.0",
    ),
]

MORE_CASES: list[tuple[str, Any, Any]] = [
    # Reserved characters: \' \{ \} \\ (page section "Reserved characters")
    ("States.Format('It\\'s \\{\\} {}', 1)", {}, "It's {} 1"),
    ("States.Format('back\\\\slash {}', true)", {}, "back\\slash true"),
    ("States.Format('{} {} {}', null, 1.5, -2)", {}, "null 1.5 -2"),
    ("States.Format('lone { and } stay')", {}, "lone { and } stay"),
    ("States.Format('x')", {}, "x"),
    ("States.Format($.t)", {"t": "no placeholder"}, "no placeholder"),
    ("States.Format('{}', States.MathAdd(1, 2))", {}, "3"),
    ("States.Array('a,b', 'c)')", {}, ["a,b", "c)"]),
    ("States.Array(  1 ,  2.5e1 , true, false  )", {}, [1, 25.0, True, False]),
    (
        "States.Array($['a,b'], $.list[?(@ > 1)], $.list[0:1])",
        {"a,b": 1, "list": [1, 2]},
        [1, [2], [1]],
    ),
    ("States.Array($$.Execution.Name, $greeting, $limits.max)", {}, ["run-1", "Hi", 3]),
    ("States.Array($['it\\'s'])", {"it's": 1}, [1]),
    ("States.StringToJson('[1, 2.5, null]')", {}, [1, 2.5, None]),
    ("States.StringToJson($.s)", {"s": "12345678901234567890123"}, 12345678901234567890123),
    ("States.JsonToString($.s)", {"s": "é"}, '"é"'),
    ("States.ArrayPartition($.a, 2)", {"a": []}, []),
    ("States.ArrayPartition($.a, 5)", {"a": [1, 2]}, [[1, 2]]),
    ("States.ArrayContains($.a, 1)", {"a": [True, "1", 1.0]}, True),
    ("States.ArrayContains($.a, 1)", {"a": [True, "1"]}, False),
    ("States.ArrayContains($.a, $.o)", {"a": [{"k": [1]}], "o": {"k": [1]}}, True),
    ("States.ArrayRange(9, 1, -2)", {}, [9, 7, 5, 3, 1]),
    ("States.ArrayRange(1, 9, -1)", {}, []),
    ("States.ArrayRange(0, 999, 1)", {}, list(range(1000))),
    ("States.ArrayRange(1.0, 3, 1)", {}, [1, 2, 3]),
    ("States.ArrayGetItem($.a, 0)", {"a": [None]}, None),
    (
        "States.ArrayUnique($.a)",
        {"a": [1, True, 1.0, "1", {"b": 1, "a": 2}, {"a": 2, "b": 1}]},
        [1, True, 1.0, "1", {"b": 1, "a": 2}],
    ),
    ("States.Base64Encode('é')", {}, "w6k="),
    ("States.Base64Decode('w6k=')", {}, "é"),
    ("States.Hash('', 'MD5')", {}, hashlib.md5(b"").hexdigest()),
    ("States.Hash('abc', 'SHA-256')", {}, hashlib.sha256(b"abc").hexdigest()),
    ("States.Hash('abc', 'SHA-384')", {}, hashlib.sha384(b"abc").hexdigest()),
    ("States.Hash('abc', 'SHA-512')", {}, hashlib.sha512(b"abc").hexdigest()),
    ("States.JsonMerge($.a, $.b, false)", {"a": {}, "b": {"x": 1}}, {"x": 1}),
    ("States.MathAdd(1, 2)", {}, 3),
    ("States.MathAdd(1.0, 2)", {}, 3),
    ("States.MathAdd(-5, 2)", {}, -3),
    (
        "States.StringSplit('This.is+a,test=string', '.+,=')",
        {},
        ["This", "is", "a", "test", "string"],
    ),
    ("States.StringSplit('a,,b,', ',')", {}, ["a", "b"]),
    ("States.StringSplit('a-b', '')", {}, ["a-b"]),
    ("States.StringSplit('', '')", {}, []),
    ("States.StringSplit('a]b^c', ']^')", {}, ["a", "b", "c"]),
]


@pytest.mark.parametrize(("expression", "data", "expected"), DOC_EXAMPLES + MORE_CASES)
def test_intrinsic_functions(expression: str, data: Any, expected: Any) -> None:
    result = compile_intrinsic(expression).evaluate(data, CTX)
    assert result == expected
    assert type(result) is type(expected)


def test_all_eighteen_functions_exist() -> None:
    assert len(FUNCTIONS) == 18
    assert all(name.startswith("States.") for name in FUNCTIONS)


def test_a_compiled_intrinsic_is_a_callable_evaluator() -> None:
    compiled = compile_intrinsic("States.MathAdd($.a, 1)")
    assert compiled({"a": 41}, CTX) == 42
    assert compiled.text == "States.MathAdd($.a, 1)"
    assert compile_intrinsic("States.MathAdd($.a, 1)") is compiled


# --------------------------------------------------------------------------- MathRandom


@pytest.mark.parametrize(("random_value", "expected"), [(0.0, 1), (0.5, 500), (0.999999, 998)])
def test_math_random_without_seed_uses_the_context_random(
    random_value: float, expected: int
) -> None:
    result = compile_intrinsic("States.MathRandom($.start, $.end)").evaluate(
        {"start": 1, "end": 999}, make_ctx(random_value)
    )
    assert result == expected


def test_math_random_with_a_seed_is_deterministic() -> None:
    """ "If you use this function with the same seed value, it returns an identical number"."""
    expression = compile_intrinsic("States.MathRandom(1, 1000, $.seed)")
    first = expression.evaluate({"seed": 42}, make_ctx(0.1))
    again = expression.evaluate({"seed": 42}, make_ctx(0.9))
    assert first == again
    assert 1 <= first < 1000
    others = {expression.evaluate({"seed": seed}, CTX) for seed in range(20)}
    assert len(others) > 1


# --------------------------------------------------------------------------- run-time errors

# (expression, input, fragment of the cause)
RUNTIME_FAILURES: list[tuple[str, Any, str]] = [
    ("States.Format($.t, 1)", {"t": 5}, "The format template must be a string, not number"),
    ("States.Format($.t, 1)", {"t": "{} {}"}, "has 2 '{}' but 1 arguments"),
    ("States.StringToJson($.s)", {"s": 5}, "must be a string, not number"),
    ("States.StringToJson($.s)", {"s": "{nope"}, "not valid JSON"),
    ("States.StringToJson($.s)", {"s": "NaN"}, "not valid JSON"),
    ("States.ArrayPartition($.a, 2)", {"a": "abc"}, "must be an array, not string"),
    ("States.ArrayPartition($.a, 0)", {"a": [1]}, "must be a positive integer"),
    ("States.ArrayPartition($.a, -1)", {"a": [1]}, "must be a positive integer"),
    ("States.ArrayPartition($.a, 1.5)", {"a": [1]}, "must be an integer, not 1.5"),
    ("States.ArrayPartition($.a, $.n)", {"a": [1], "n": True}, "must be an integer, not true"),
    ("States.ArrayPartition($.a, $.n)", {"a": [1], "n": "2"}, 'must be an integer, not "2"'),
    ("States.ArrayContains($.a, 1)", {"a": None}, "must be an array, not null"),
    ("States.ArrayContains($.a, 1)", {"a": {"x": 1}}, "must be an array, not object"),
    ("States.ArrayRange(1, 9, 0)", {}, "The step must not be 0"),
    ("States.ArrayRange(0, 1000, 1)", {}, "1001 items; the maximum is 1000"),
    ("States.ArrayRange($.a, 9, 1)", {"a": "1"}, "The start must be an integer"),
    ("States.ArrayGetItem($.a, 3)", {"a": [1, 2, 3]}, "index 3 is out of bounds"),
    ("States.ArrayGetItem($.a, -1)", {"a": [1, 2, 3]}, "index -1 is out of bounds"),
    ("States.ArrayLength($.a)", {"a": False}, "must be an array, not boolean"),
    ("States.ArrayUnique($.a)", {"a": 1}, "must be an array"),
    ("States.Base64Encode($.a)", {"a": 1}, "must be a string"),
    ("States.Base64Encode($.a)", {"a": "x" * 10_001}, "at most 10000 characters"),
    ("States.Base64Decode($.a)", {"a": "x" * 10_001}, "at most 10000 characters"),
    ("States.Base64Decode('not base64!')", {}, "not Base64-encoded UTF-8 text"),
    ("States.Base64Decode('/w==')", {}, "not Base64-encoded UTF-8 text"),
    ("States.Hash($.a, 'SHA-256')", {"a": {"k": 1}}, "must be a string, not object"),
    ("States.Hash($.a, 'SHA-256')", {"a": "x" * 10_001}, "at most 10000 characters"),
    ("States.Hash('x', 'sha256')", {}, "'sha256' is not one of MD5, SHA-1, SHA-256"),
    ("States.Hash('x', 1)", {}, "The algorithm must be a string"),
    ("States.JsonMerge($.a, $.b, true)", {"a": {}, "b": {}}, "must be false"),
    ("States.JsonMerge($.a, $.b, 'false')", {"a": {}, "b": {}}, "must be false"),
    ("States.JsonMerge($.a, $.b, false)", {"a": [], "b": {}}, "first argument must be an object"),
    ("States.JsonMerge($.a, $.b, false)", {"a": {}, "b": 1}, "second argument must be an object"),
    ("States.MathRandom(5, 5)", {}, "The end must be greater than the start"),
    ("States.MathRandom(1, 'x')", {}, "The end must be a number"),
    ("States.MathRandom(1, 9, 0.5)", {}, "The seed must be an integer"),
    ("States.MathAdd(1, null)", {}, "must be a number, not null"),
    ("States.StringSplit(1, ',')", {}, "The first argument must be a string"),
    ("States.StringSplit('a', $.d)", {"d": [","]}, "The delimiter must be a string"),
]


@pytest.mark.parametrize(("expression", "data", "fragment"), RUNTIME_FAILURES)
def test_runtime_failures_are_intrinsic_failures(expression: str, data: Any, fragment: str) -> None:
    compiled = compile_intrinsic(expression)
    with pytest.raises(StatesError) as caught:
        compiled.evaluate(data, CTX)
    assert caught.value.error == INTRINSIC_FAILURE
    assert caught.value.cause.startswith(f"The function '{expression}' had the following error: ")
    assert fragment in caught.value.cause


@pytest.mark.parametrize(
    ("expression", "path"),
    [
        ("States.Format('{}', $.nope)", "$.nope"),
        ("States.Array(States.Array($.a.b))", "$.a.b"),
        ("States.Array($$.Nope)", "$$.Nope"),
        ("States.Array($undefined)", "$undefined"),
    ],
)
def test_a_path_argument_that_matches_nothing_is_a_runtime_error(
    expression: str, path: str
) -> None:
    """AWS, per floci-io/floci#2870: States.Runtime, "The function '…' had the following
    error: The JsonPath argument for the field '$.nope' could not be found in the input"."""
    with pytest.raises(StatesError) as caught:
        compile_intrinsic(expression).evaluate({"other": 1}, CTX)
    assert caught.value.error == RUNTIME
    assert caught.value.cause == (
        f"The function '{expression}' had the following error: The JsonPath argument for the "
        f"field '{path}' could not be found in the input '{{\"other\":1}}'"
    )


# --------------------------------------------------------------------------- compile errors

NESTED_11 = "States.Array(" * 11 + ")" * 11
NESTED_10 = "States.Array(" * 10 + ")" * 10

SYNTAX_ERRORS: list[tuple[str, str]] = [
    ("States.Nope()", "unknown intrinsic function 'States.Nope'"),
    ("States.format('x')", "unknown intrinsic function"),
    ("Format('x')", "expected an intrinsic function"),
    ("States.UUID(1)", "States.UUID takes 0 argument(s), 1 given"),
    ("States.Format()", "States.Format takes at least 1 argument(s), 0 given"),
    ("States.MathRandom(1)", "States.MathRandom takes 2 to 3 argument(s), 1 given"),
    ("States.ArrayRange(1, 2)", "States.ArrayRange takes 3 argument(s), 2 given"),
    ("States.JsonMerge($.a, $.b)", "takes 3 argument(s)"),
    ("States.Format('{} {}', 1)", "the template has 2 '{}' but 1 arguments follow it"),
    ("States.Format('{}', 1, 2)", "the template has 1 '{}' but 2 arguments follow it"),
    ("States.Format('\\n')", "a backslash may only escape"),
    ("States.Format('abc)", "unterminated string literal"),
    ("States.Array(1 2)", "expected ',' or ')'"),
    ("States.Array(1,)", "expected a string, a number"),
    ("States.Array(undefined)", "expected a string, a number"),
    ("States.Array(1) extra", "unexpected text after the function call"),
    ("States.Array(1", "expected ',' or ')'"),
    ("States.Array($.a b)", "invalid path argument"),
    ("States.Array($[)", "invalid path argument"),
    (NESTED_11, "nest at most 10 deep"),
]


@pytest.mark.parametrize(("expression", "message"), SYNTAX_ERRORS)
def test_malformed_intrinsics_are_syntax_errors(expression: str, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_intrinsic(expression)
    assert message in caught.value.message
    assert caught.value.text == expression


def test_an_intrinsic_must_be_a_string() -> None:
    with pytest.raises(ExpressionSyntaxError, match="must be a string"):
        compile_intrinsic({"States.Array": []})  # type: ignore[arg-type]


def test_ten_levels_of_nesting_are_allowed() -> None:
    """ "You can nest up to 10 intrinsic functions within a field"."""
    expected: Any = []
    for _ in range(9):
        expected = [expected]
    assert compile_intrinsic(NESTED_10).evaluate({}, CTX) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('x')", True),
        ("States.UUID()", True),
        ("States.Nope(1)", True),
        ("$.a", False),
        ("States.Format", False),
        (" States.UUID()", False),
        ("states.UUID()", False),
        (5, False),
    ],
)
def test_is_intrinsic(text: Any, expected: bool) -> None:
    assert is_intrinsic(text) is expected
