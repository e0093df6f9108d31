"""AWS's JSONPath dialect: reading (definite and indefinite), ResultPath writing, errors.

Cases come from the Developer Guide pages "Paths" (amazon-states-language-paths),
"InputPath, Parameters and ResultSelector" (input-output-inputpath-params), "ResultPath"
(input-output-resultpath), "Passing data between states with variables"
(workflow-variables), and from observed AWS / Step Functions Local behaviour reported in
public issues (cited per case).
"""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.language.errors import RESULT_PATH_MATCH_FAILURE, ExpressionSyntaxError, StatesError
from stepwell.language.evaluation import EvalContext
from stepwell.language.jsonpath import (
    PathNotFound,
    compact_json,
    compile_path,
    compile_result_path,
    json_equal,
)

CTX = EvalContext(
    context={"Execution": {"Id": "arn:exec", "Input": {"k": 1}}, "Map": {"Item": {"Index": 2}}},
    variables={"productName": "product1", "order": {"lines": [{"sku": "a"}, {"sku": "b"}]}},
)

PATHS_PAGE = {"foo": 123, "bar": ["a", "b", "c"], "car": {"cdr": True}}
STORE: dict[str, Any] = {
    "store": {
        "book": [
            {"title": "A", "price": 8, "tags": ["x"]},
            {"title": "B", "price": 12, "isbn": "1"},
            {"title": "C", "price": 22.5, "isbn": None},
        ],
        "bicycle": {"price": 19},
    },
    "max": 10,
}

# (path, data, expected)
DEFINITE_CASES: list[tuple[str, Any, Any]] = [
    # "Paths", Reference Paths example
    ("$.foo", PATHS_PAGE, 123),
    ("$.bar", PATHS_PAGE, ["a", "b", "c"]),
    ("$.car.cdr", PATHS_PAGE, True),
    ("$", PATHS_PAGE, PATHS_PAGE),
    ("$['car']['cdr']", PATHS_PAGE, True),
    ('$["car"].cdr', PATHS_PAGE, True),
    ("$.bar[1]", PATHS_PAGE, "b"),
    ("$.bar[-1]", PATHS_PAGE, "c"),
    ("$[1]", [10, 20], 20),
    ("$.a.b.c.d", {"a": {"b": {"c": {"d": 4}}}}, 4),
    ("$.a.b.c", {"a": {"b": {"c": None}}}, None),
    ("$['with space']", {"with space": 1}, 1),
    ("$['it\\'s']", {"it's": 2}, 2),
    ("$.my-key:x", {"my-key:x": 3}, 3),
    ("$.a[0].b", {"a": [{"b": 5}]}, 5),
    # Jayway merges a leaf multi-property selection into one object (AWS console, per the
    # "AWS Step Functions StateMachine Language JSONPath Gotchas" gist).
    ("$['a', 'b']", {"a": {"v": 1}, "b": {"v": 2}, "c": {"v": 3}}, {"a": {"v": 1}, "b": {"v": 2}}),
    ("$.x['a','zz']", {"x": {"a": 1}}, {"a": 1}),
]

# (path, data, expected list of matches)
INDEFINITE_CASES: list[tuple[str, Any, list[Any]]] = [
    # "InputPath, Parameters and ResultSelector": "$.a[0:2]" on {"a": [1, 2, 3, 4]}
    ("$.a[0:2]", {"a": [1, 2, 3, 4]}, [1, 2]),
    # States Language spec, Parameters example: "$.vals[3:]"
    ("$.vals[3:]", {"vals": [0, 10, 20, 30, 40, 50]}, [30, 40, 50]),
    ("$.vals[:2]", {"vals": [0, 10, 20]}, [0, 10]),
    ("$.vals[-2:]", {"vals": [0, 10, 20]}, [10, 20]),
    ("$.vals[5:9]", {"vals": [0, 10, 20]}, []),
    ("$.vals[0,2]", {"vals": [0, 10, 20]}, [0, 20]),
    ("$.vals[0, 7, -1]", {"vals": [0, 10, 20]}, [0, 20]),
    ("$.store.book[*].title", STORE, ["A", "B", "C"]),
    ("$.store.bicycle.*", STORE, [19]),
    ("$.store.book[*].isbn", STORE, ["1", None]),
    ("$..price", STORE, [8, 12, 22.5, 19]),
    ("$.store..title", STORE, ["A", "B", "C"]),
    ("$..book[0].title", STORE, ["A"]),
    ("$..book[1:2]", STORE, [STORE["store"]["book"][1]]),
    ("$..tags.*", STORE, ["x"]),
    ("$..[?(@.price > 20)].title", STORE, ["C"]),
    ("$.store.book[?(@.price < $.max)].title", STORE, ["A"]),
    ("$.store.book[?(@.isbn)].title", STORE, ["B"]),
    ("$.store.book[?(@.price >= 12 && @.price <= 12)].title", STORE, ["B"]),
    ("$.store.book[?(@.price == 8 || @.title == 'C')].title", STORE, ["A", "C"]),
    ("$.store.book[?(!(@.price > 10))].title", STORE, ["A"]),
    ("$.store.book[?(@.title != 'A')].title", STORE, ["B", "C"]),
    ("$.store.book[?(@.title in ['A', \"C\"])].price", STORE, [8, 22.5]),
    ("$.store.book[?(@.title nin ['A'])].price", STORE, [12, 22.5]),
    ("$.store.book[?(@.title =~ /b/i)].price", STORE, [12]),
    ("$.store.book[?(@.title =~ /B|C/)].price", STORE, [12, 22.5]),
    ("$.store.book[?(@.tags[0] == 'x')].title", STORE, ["A"]),
    ("$.store.book[?(@.tags[*])].title", STORE, ["A", "B", "C"]),
    ("$.store.book[?(@.price == 22.5)].title", STORE, ["C"]),
    ("$.store.book[?(@.price > 1e1)].title", STORE, ["B", "C"]),
    ("$.store.book[?(@.title > 'A')].title", STORE, ["B", "C"]),
    ("$.store.book[?(@.title < 5)].title", STORE, []),
    ("$.store.bicycle[?(@.price == 19)]", STORE, [{"price": 19}]),
    ("$.n[?(@ > 1)]", {"n": [1, 2, 3]}, [2, 3]),
    ("$.n[?(@ == '2')]", {"n": [1, 2, "2", "x"]}, [2, "2"]),
    ("$.n[?('2' == @)]", {"n": [1, 2, "x"]}, [2]),
    ("$.n[?(@ == true)]", {"n": [1, True, "true"]}, [True]),
    ("$.n[?(@ == null)]", {"n": [0, None, False]}, [None]),
    ("$.n[?(@.k == false)]", {"n": [{"k": False}, {"k": 0}]}, [{"k": False}]),
    ("$.n[?(@.k != 1)]", {"n": [{"k": 1}, {}]}, [{}]),
    ("$.n[?(@.k nin [1])]", {"n": [{"k": 1}, {"k": 2}, {}]}, [{"k": 2}]),
    ("$.n[?(@.k in 1)]", {"n": [{"k": 1}]}, []),
    ("$.n[?(@.k == [1, 2])]", {"n": [{"k": [1, 2]}, {"k": [1, 3]}]}, [{"k": [1, 2]}]),
    ("$.n[?(@.k == 'x')]", {"n": [{"k": ["x"]}, {"k": 1}]}, []),
    ("$.n[?(@.k =~ /a.*/)]", {"n": [{"k": "abc"}, {"k": "xa"}, {"k": 1}]}, [{"k": "abc"}]),
    # Step Functions Local 2.0.0, reported in floci-io/floci#3260 (mirrors AWS):
    (
        "$.list[?(@.keep)]",
        {"list": [{"keep": True}, {"keep": False}, {"other": 1}]},
        [{"keep": True}, {"keep": False}],
    ),
    ("$.list[?(@.keep == true)]", {"list": [{"keep": True}, {"keep": False}]}, [{"keep": True}]),
    ("$.d..a", {"d": {"x": {"a": [1, 2]}}}, [[1, 2]]),
    ("$.d..a[*]", {"d": {"x": {"a": [1, 2]}}}, [1, 2]),
    # floci-io/floci#3480: "!@.session" also keeps elements whose session is null
    (
        "$.items[?(!@.session)]",
        {"items": [{"id": 1, "session": None}, {"id": 2, "session": {"x": 1}}, {"id": 3}]},
        [{"id": 1, "session": None}, {"id": 3}],
    ),
    # Indefinite paths that meet nothing yield an empty list, not an error
    # (localstack/localstack#12318 reports AWS returning [] for "$.items[*]").
    ("$.items[*]", {}, []),
    ("$.items[*].a", {"items": [1, "x", {"b": 1}]}, []),
    ("$.a[1:3]", {"a": "not a list"}, []),
    ("$.a[0,1]", {"a": {"0": 1}}, []),
    ("$.a[?(@.x)]", {"a": 5}, []),
    ("$.a.*", {"a": 5}, []),
    ("$..x", 5, []),
    ("$..a[5]", {"a": [1], "b": {"a": [1, 2, 3, 4, 5, 6]}}, [6]),
    ("$.items[*]['a','b']", {"items": [{"a": 1, "c": 3}, 7, {"b": 2}]}, [{"a": 1}, {"b": 2}]),
]

# (path, data): definite paths that do not resolve
NOT_FOUND_CASES: list[tuple[str, Any]] = [
    ("$.missing", {"a": 1}),
    ("$.a.b", {"a": 1}),
    ("$.a.b", {"a": "text"}),
    ("$.a.b", {"a": [1]}),
    ("$.a.b", {"a": None}),
    ("$.a.b.c", {"a": {"b": 1}}),
    ("$.a.b.c.d", {"a": {"b": {"c": 1}}}),
    ("$.a", [1, 2]),
    ("$.a", "text"),
    ("$[0]", {"0": 1}),
    ("$[0]", "text"),
    ("$.a[3]", {"a": [1, 2, 3]}),
    ("$.a[-4]", {"a": [1, 2, 3]}),
    ("$.a['x','y']", {"a": [1]}),
    # AWS does not support JsonPath functions: "$.list.length()" is a property name
    # (awsdocs/aws-step-functions-developer-guide#5; "$.Jobs.sum()" on re:Post).
    ("$.list.length()", {"list": [1, 2]}),
    ("$.Jobs.sum()", {"Jobs": [0, 1]}),
]

SYNTAX_ERRORS = [
    "",
    "a.b",
    "$.",
    "$..",
    "$.a b",
    "$[",
    "$[]",
    "$['a'",
    "$['a]",
    "$[1:2:3]",
    "$[1,]",
    "$[a]",
    "$[*",
    "$[?(@.a ==)]",
    "$[?(@.a == 1]",
    "$[?(1)]",
    "$[?(@.a ~= 1)]",
    "$[?(@.a like 1)]",
    "$[?(@.a =~ 'x')]",
    "$[?(@.a =~ /x)]",
    "$[?(@.a =~ /(/)]",
    "$[?(@.a in [1 2])]",
    "$[?(@.a == $$.x)]",
    "$[?(@.a == $var)]",
    "$['a','b'].c",
    "$['a', 5]",
    "$0",
]


@pytest.mark.parametrize(("path", "data", "expected"), DEFINITE_CASES)
def test_definite_paths_return_the_value(path: str, data: Any, expected: Any) -> None:
    compiled = compile_path(path)
    assert compiled.is_definite
    assert compiled.get(data, CTX) == expected


@pytest.mark.parametrize(("path", "data", "expected"), INDEFINITE_CASES)
def test_indefinite_paths_return_the_list_of_matches(path: str, data: Any, expected: Any) -> None:
    compiled = compile_path(path)
    assert not compiled.is_definite
    assert not compiled.is_reference
    assert compiled.get(data, CTX) == expected


@pytest.mark.parametrize(("path", "data"), NOT_FOUND_CASES)
def test_definite_paths_that_do_not_resolve_raise_path_not_found(path: str, data: Any) -> None:
    with pytest.raises(PathNotFound) as caught:
        compile_path(path).get(data, CTX)
    assert caught.value.path == path
    assert isinstance(caught.value, LookupError)


@pytest.mark.parametrize("path", SYNTAX_ERRORS)
def test_malformed_paths_are_syntax_errors(path: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_path(path)
    assert caught.value.text == path
    assert "^" in str(caught.value) or not path


def test_a_path_must_be_a_string() -> None:
    with pytest.raises(ExpressionSyntaxError, match="must be a string"):
        compile_path(5)  # type: ignore[arg-type]
    with pytest.raises(ExpressionSyntaxError, match="must be a string"):
        compile_path(["$.a"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$$.Execution.Id", "arn:exec"),
        ("$$.Execution.Input.k", 1),
        ("$$.Map.Item.Index", 2),
        ("$$", CTX.context),
        ("$productName", "product1"),
        ("$order.lines[1].sku", "b"),
        ("$order.lines[*].sku", ["a", "b"]),
        ("$order.lines[?(@.sku == 'a')]", [{"sku": "a"}]),
    ],
)
def test_context_and_variable_roots(path: str, expected: Any) -> None:
    """ "$$" reads the context object, "$name" a variable (workflow-variables page)."""
    assert compile_path(path).get({"ignored": True}, CTX) == expected


@pytest.mark.parametrize(
    ("path", "root", "variable"),
    [("$.a", "data", ""), ("$$.a", "context", ""), ("$my_var1.a", "variable", "my_var1")],
)
def test_roots_are_recorded(path: str, root: str, variable: str) -> None:
    compiled = compile_path(path)
    assert (compiled.root, compiled.variable, compiled.text) == (root, variable, path)


@pytest.mark.parametrize("path", ["$missing", "$missing.a", "$missing[*]", "$$.Nope", "$$.a.b"])
def test_unknown_variables_and_context_fields_are_not_found(path: str) -> None:
    with pytest.raises(PathNotFound):
        compile_path(path).get({}, CTX)


@pytest.mark.parametrize(
    ("path", "is_reference"),
    [
        ("$", True),
        ("$.a.b", True),
        ("$['a'][0]", True),
        ("$$.Task.Token", True),
        ("$.a['b','c']", False),
        ("$.a[*]", False),
        ("$..a", False),
        ("$.a[0:1]", False),
        ("$.a[?(@.b)]", False),
    ],
)
def test_reference_paths(path: str, is_reference: bool) -> None:
    """ "Paths": reference paths use only . and [] to name a single node."""
    assert compile_path(path).is_reference is is_reference


def test_compiled_paths_are_cached() -> None:
    assert compile_path("$.cached.path") is compile_path("$.cached.path")


# --------------------------------------------------------------------------- ResultPath

RESULT_INPUT = {"comment": "This is a test", "details": "Default example", "who": "Step Functions"}

# (result path, input, result, expected output)
RESULT_PATH_CASES: list[tuple[str, Any, Any, Any]] = [
    # "ResultPath": replace the input with the result
    ("$", RESULT_INPUT, "Hello, Step Functions!", "Hello, Step Functions!"),
    # "ResultPath": include the result with the input
    (
        "$.taskresult",
        RESULT_INPUT,
        "Hello, Step Functions!",
        {**RESULT_INPUT, "taskresult": "Hello, Step Functions!"},
    ),
    # "ResultPath": update a node in input with the result
    ("$.strings.lambdaresult", {"master": 1}, "x", {"master": 1, "strings": {"lambdaresult": "x"}}),
    ("$.a.b", {"a": {"b": 1, "c": 2}}, 9, {"a": {"b": 9, "c": 2}}),
    ("$.a", {"a": {"deep": 1}}, [1], {"a": [1]}),
    ("$['a']['new']", {"a": {}}, None, {"a": {"new": None}}),
    ("$.list[1]", {"list": [1, 2, 3]}, "two", {"list": [1, "two", 3]}),
    ("$.list[-1].x", {"list": [{"x": 1}, {"x": 2}]}, 0, {"list": [{"x": 1}, {"x": 0}]}),
    ("$[0]", [1, 2], 5, [5, 2]),
]


@pytest.mark.parametrize(("path", "data", "result", "expected"), RESULT_PATH_CASES)
def test_result_path_places_the_result(path: str, data: Any, result: Any, expected: Any) -> None:
    before = compact_json(data)
    assert compile_result_path(path).set(data, result) == expected
    assert compact_json(data) == before  # the input is never mutated


def test_result_path_copies_only_along_the_path() -> None:
    data = {"a": {"b": 1}, "other": {"big": [1, 2, 3]}}
    output = compile_path("$.a.b").set(data, 2)
    assert output["other"] is data["other"]
    assert output["a"] is not data["a"]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        # aws/aws-cdk#29473: a string input that ResultPath cannot extend
        ("$.partitioned", '{"min_size":10000}'),
        ("$.a.b", {"a": 5}),
        ("$.a.b", {"a": None}),
        ("$.a.b", {"a": [1]}),
        ("$[0]", {"a": 1}),
        ("$.list[3]", {"list": [1]}),
        ("$.a", [1]),
    ],
)
def test_result_path_that_cannot_be_applied_fails(path: str, data: Any) -> None:
    with pytest.raises(StatesError) as caught:
        compile_path(path).set(data, 1)
    assert caught.value.error == RESULT_PATH_MATCH_FAILURE
    assert (
        caught.value.cause == f"Unable to apply ReferencePath {path} to input {compact_json(data)}"
    )


@pytest.mark.parametrize("path", ["$.a[*]", "$..a", "$$.Execution", "$var.a", "$.a['b','c']"])
def test_only_reference_paths_on_the_data_are_result_paths(path: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match="reference path"):
        compile_result_path(path)
    with pytest.raises(ExpressionSyntaxError, match="reference path"):
        compile_path(path).set({}, 1)


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"other": 1}, '{"other":1}'),
        ([1, "é", None, True, 1.5], '[1,"é",null,true,1.5]'),
        (2**70, str(2**70)),
        ({"big": 2**70}, '{"big":' + str(2**70) + "}"),
    ],
)
def test_compact_json(value: Any, text: str) -> None:
    assert compact_json(value) == text


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (1, True, False),
        (False, False, True),
        ([1, {"a": 2}], [1.0, {"a": 2}], True),
        ([1], [1, 2], False),
        ({"a": 1}, {"b": 1}, False),
        ({"a": 1}, {"a": True}, False),
        ("a", "a", True),
        (None, None, True),
        (None, 0, False),
    ],
)
def test_json_equal(left: Any, right: Any, equal: bool) -> None:
    assert json_equal(left, right) is equal
