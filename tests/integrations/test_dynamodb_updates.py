"""UpdateExpression semantics of the embedded DynamoDB: SET (with + and -, if_not_exists,
list_append, nested paths and list indexes), REMOVE, ADD and DELETE, and their errors.
Sources: Developer Guide, "Update expressions" (every operand reads the item as it was
before the update; SET past a list's end appends, in index order; REMOVE of list elements
shifts the rest; ADD and DELETE on numbers and sets), API Reference, "UpdateItem"; error
texts as DynamoDB reports them (e.g. the overlap and "Incorrect operand type" messages are
quoted from real responses in public issue threads)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from stepwell.integrations.dynamodb import DynamoDBError, TableEngine

BASE: dict[str, Any] = {
    "id": {"S": "k"},
    "n": {"N": "10"},
    "s": {"S": "text"},
    "l": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}]},
    "m": {"M": {"a": {"N": "1"}, "child": {"M": {}}}},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
}

VALUES: dict[str, Any] = {
    ":one": {"N": "1"},
    ":five": {"N": "5"},
    ":zero": {"N": "0"},
    ":tenth": {"N": "0.1"},
    ":fifth": {"N": "0.2"},
    ":x": {"S": "x"},
    ":y": {"S": "y"},
    ":more": {"L": [{"S": "d"}]},
    ":front": {"L": [{"S": "z"}]},
    ":empty_list": {"L": []},
    ":ss_c": {"SS": ["c", "a"]},
    ":ss_a": {"SS": ["a"]},
    ":ss_ab": {"SS": ["b", "a"]},
    ":ns_3": {"NS": ["3"]},
    ":map": {"M": {"k": {"S": "v"}}},
    ":big": {"N": "9.9999999999999999999999999999999999999E+125"},
    ":precise": {"N": "1.0000000000000000000000000000000000001"},
    ":tiny": {"N": "1E-100"},
}


def engine() -> TableEngine:
    tables = TableEngine(clock=lambda: 0)
    tables.create_table(
        {
            "TableName": "Tab",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
    )
    tables.put_item({"TableName": "Tab", "Item": BASE})
    return tables


def placeholders(expression: str) -> dict[str, Any]:
    return {key: VALUES[key] for key in re.findall(r":\w+", expression) if key in VALUES}


def updated(expression: str, names: dict[str, str] | None = None) -> dict[str, Any]:
    tables = engine()
    used = placeholders(expression)
    request: dict[str, Any] = {
        "TableName": "Tab",
        "Key": {"id": {"S": "k"}},
        "UpdateExpression": expression,
        "ReturnValues": "ALL_NEW",
    }
    if used:
        request["ExpressionAttributeValues"] = used
    if names:
        request["ExpressionAttributeNames"] = names
    attributes: dict[str, Any] = tables.update_item(request)["Attributes"]
    assert tables.get_item({"TableName": "Tab", "Key": {"id": {"S": "k"}}})["Item"] == attributes
    return attributes


def changes(expression: str, names: dict[str, str] | None = None) -> dict[str, Any]:
    """The attributes the update changed or added; removed ones map to None."""
    after = updated(expression, names)
    diff: dict[str, Any] = {k: v for k, v in after.items() if BASE.get(k) != v}
    diff.update({k: None for k in BASE if k not in after})
    return diff


UPDATES: list[tuple[str, dict[str, Any]]] = [
    ("SET a = :x", {"a": {"S": "x"}}),
    ("SET s = :x, a = :y", {"s": {"S": "x"}, "a": {"S": "y"}}),
    ("set a = :x", {"a": {"S": "x"}}),  # keywords in any case
    ("SET n = n + :five", {"n": {"N": "15"}}),
    ("SET n = n - :five", {"n": {"N": "5"}}),
    ("SET n = :five - n", {"n": {"N": "-5"}}),
    ("SET a = :five + :five", {"a": {"N": "10"}}),
    ("SET a = :tenth + :fifth", {"a": {"N": "0.3"}}),  # exact decimals
    ("SET n = n - n", {"n": {"N": "0"}}),
    ("SET a = n", {"a": {"N": "10"}}),  # copy another attribute
    ("SET a = n, n = :one", {"a": {"N": "10"}, "n": {"N": "1"}}),  # operands read the old item
    (
        "SET l = list_append(l, :more)",
        {"l": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"S": "d"}]}},
    ),
    (
        "SET l = list_append(:front, l)",
        {"l": {"L": [{"S": "z"}, {"S": "a"}, {"S": "b"}, {"S": "c"}]}},
    ),
    ("SET a = list_append(:front, :more)", {"a": {"L": [{"S": "z"}, {"S": "d"}]}}),
    (
        "SET a = list_append(if_not_exists(a, :empty_list), :more)",
        {"a": {"L": [{"S": "d"}]}},
    ),
    ("SET c = if_not_exists(c, :zero)", {"c": {"N": "0"}}),
    ("SET n = if_not_exists(n, :zero)", {}),
    ("SET c = if_not_exists(c, :zero) + :one", {"c": {"N": "1"}}),
    ("SET n = if_not_exists(n, :zero) + :one", {"n": {"N": "11"}}),
    ("SET c = if_not_exists(c, n)", {"c": {"N": "10"}}),
    ("SET m.a = :five", {"m": {"M": {"a": {"N": "5"}, "child": {"M": {}}}}}),
    (
        "SET m.child.deep = :x",
        {"m": {"M": {"a": {"N": "1"}, "child": {"M": {"deep": {"S": "x"}}}}}},
    ),
    ("SET #m.#new = :x", {"m": {"M": {"a": {"N": "1"}, "child": {"M": {}}, "new": {"S": "x"}}}}),
    ("SET l[1] = :x", {"l": {"L": [{"S": "a"}, {"S": "x"}, {"S": "c"}]}}),
    ("SET l[10] = :x", {"l": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"S": "x"}]}}),
    (
        "SET l[6] = :y, l[5] = :x",  # appended in index order
        {"l": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"S": "x"}, {"S": "y"}]}},
    ),
    ("SET a = :map, b = :ss_a", {"a": {"M": {"k": {"S": "v"}}}, "b": {"SS": ["a"]}}),
    ("REMOVE s", {"s": None}),
    ("REMOVE s, absent, m.absent, l[9]", {"s": None}),
    ("REMOVE l[0], l[1]", {"l": {"L": [{"S": "c"}]}}),  # original indexes; the rest shift
    ("REMOVE l[1], l[0]", {"l": {"L": [{"S": "c"}]}}),
    ("REMOVE m.a", {"m": {"M": {"child": {"M": {}}}}}),
    ("ADD n :five", {"n": {"N": "15"}}),
    ("ADD tally :five", {"tally": {"N": "5"}}),  # a missing number starts at 0
    ("ADD m.hits :one", {"m": {"M": {"a": {"N": "1"}, "child": {"M": {}}, "hits": {"N": "1"}}}}),
    ("ADD ss :ss_c", {"ss": {"SS": ["a", "b", "c"]}}),
    ("ADD ns :ns_3", {"ns": {"NS": ["1", "2", "3"]}}),
    ("ADD tags :ss_c", {"tags": {"SS": ["c", "a"]}}),
    ("ADD n :one, ss :ss_c", {"n": {"N": "11"}, "ss": {"SS": ["a", "b", "c"]}}),
    ("DELETE ss :ss_a", {"ss": {"SS": ["b"]}}),
    ("DELETE ss :ss_ab", {"ss": None}),  # an emptied set is removed
    ("DELETE ss :ss_c", {"ss": {"SS": ["b"]}}),
    ("DELETE absent :ss_a", {}),
    (
        "SET a = :x REMOVE s ADD n :one DELETE ss :ss_a",
        {"a": {"S": "x"}, "s": None, "n": {"N": "11"}, "ss": {"SS": ["b"]}},
    ),
    (
        "DELETE ss :ss_a ADD n :one REMOVE s SET a = :x",  # sections in any order
        {"a": {"S": "x"}, "s": None, "n": {"N": "11"}, "ss": {"SS": ["b"]}},
    ),
]


@pytest.mark.parametrize(("expression", "expected"), UPDATES)
def test_update_expression(expression: str, expected: dict[str, Any]) -> None:
    assert (
        changes(expression, {"#m": "m", "#new": "new"} if "#" in expression else None) == expected
    )


def failure(expression: str) -> DynamoDBError:
    with pytest.raises(DynamoDBError) as caught:
        updated(expression)
    assert caught.value.code == "ValidationException"
    return caught.value


MISSING = "The provided expression refers to an attribute that does not exist in the item"
WRONG_TYPE = "An operand in the update expression has an incorrect data type"
INVALID_PATH = "The document path provided in the update expression is invalid for update"
OVERLAP = (
    "Invalid UpdateExpression: Two document paths overlap with each other; "
    "must remove or rewrite one of these paths; "
)

RUNTIME_ERRORS: list[tuple[str, str]] = [
    ("SET n = s + :five", WRONG_TYPE),
    ("SET n = absent + :five", MISSING),
    ("SET a = absent", MISSING),
    ("SET l = list_append(s, :more)", WRONG_TYPE),
    ("SET l = list_append(absent, :more)", MISSING),
    ("SET m.x.y = :x", INVALID_PATH),
    ("SET s.x = :x", INVALID_PATH),
    ("SET l[0].x = :x", INVALID_PATH),
    ("SET n[0] = :x", INVALID_PATH),
    ("SET absent.x = :x", INVALID_PATH),
    ("REMOVE absent.x", INVALID_PATH),
    ("REMOVE m.x.y", INVALID_PATH),
    ("ADD s :five", WRONG_TYPE),
    ("ADD ss :ns_3", WRONG_TYPE),
    ("ADD n :ss_a", WRONG_TYPE),
    ("DELETE ss :ns_3", WRONG_TYPE),
    ("DELETE n :ss_a", WRONG_TYPE),
    (
        "SET n = :big + :big",
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    ),
    ("SET n = :precise + :tiny", "Attempting to store more than 38 significant digits in a Number"),
]


@pytest.mark.parametrize(("expression", "message"), RUNTIME_ERRORS)
def test_runtime_update_errors_leave_the_item_unchanged(expression: str, message: str) -> None:
    tables = engine()
    request: dict[str, Any] = {
        "TableName": "Tab",
        "Key": {"id": {"S": "k"}},
        "UpdateExpression": expression,
    }
    if placeholders(expression):
        request["ExpressionAttributeValues"] = placeholders(expression)
    with pytest.raises(DynamoDBError) as caught:
        tables.update_item(request)
    assert (caught.value.code, caught.value.message) == ("ValidationException", message)
    assert tables.get_item({"TableName": "Tab", "Key": {"id": {"S": "k"}}})["Item"] == BASE


STATIC_ERRORS: list[tuple[str, str]] = [
    (
        "ADD a :more",
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator: ADD, operand type: LIST",
    ),
    (
        "ADD a :map",
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator: ADD, operand type: MAP",
    ),
    (
        "DELETE a :five",
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator: DELETE, operand type: NUMBER",
    ),
    (
        "SET a = :x + :five",
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator or function: +, operand type: S",
    ),
    (
        "SET a = list_append(:map, l)",
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator or function: list_append, operand type: M",
    ),
    ("SET a = :x, a = :y", OVERLAP + "path one: [a], path two: [a]"),
    ("SET m.a = :x REMOVE m", OVERLAP + "path one: [m, a], path two: [m]"),
    ("SET a = :x ADD a :five", OVERLAP + "path one: [a], path two: [a]"),
    (
        "SET l[0] = :x REMOVE l.a",
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove "
        "or rewrite one of these paths; path one: [l, [0]], path two: [l, a]",
    ),
    (
        "SET id = :x",
        "One or more parameter values were invalid: Cannot update attribute id. "
        "This attribute is part of the key",
    ),
    (
        "REMOVE id",
        "One or more parameter values were invalid: Cannot update attribute id. "
        "This attribute is part of the key",
    ),
    (
        "SET a = :x SET b = :y",
        'Invalid UpdateExpression: The "SET" section can only be used once in an update '
        "expression;",
    ),
    (
        "REMOVE a REMOVE b",
        'Invalid UpdateExpression: The "REMOVE" section can only be used once in an update '
        "expression;",
    ),
    (
        "SET a = size(l)",
        "Invalid UpdateExpression: The function is not allowed in an update expression; "
        "function: size",
    ),
    ("SET a = nope(l)", "Invalid UpdateExpression: Invalid function name; function: nope"),
    (
        "SET a = if_not_exists(:x, :x)",
        "Invalid UpdateExpression: Operator or function requires a document path; "
        "operator or function: if_not_exists",
    ),
    (
        "SET a = list_append(l)",
        "Invalid UpdateExpression: Incorrect number of operands for operator or function; "
        "operator or function: list_append, number of operands: 1",
    ),
    ("SET a = :x + :x + :x", 'Invalid UpdateExpression: Syntax error; token: "+", near: ":x + :x"'),
    ("REMOVE", 'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: "REMOVE"'),
    ("ADD a n", 'Invalid UpdateExpression: Syntax error; token: "n", near: "a n"'),
    ("ADD hits : incr", 'Invalid UpdateExpression: Syntax error; token: ":", near: "hits : incr"'),
    ("SET a :x", 'Invalid UpdateExpression: Syntax error; token: ":x", near: "a :x"'),
    (
        "INVALID SYNTAX HERE",
        'Invalid UpdateExpression: Syntax error; token: "INVALID", near: "INVALID SYNTAX"',
    ),
    ("SET a = :x,", 'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: ","'),
    ("", "Invalid UpdateExpression: The expression can not be empty;"),
    (
        "SET size = :x",
        "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: size",
    ),
    (
        "SET a = :absent",
        "Invalid UpdateExpression: An expression attribute value used in expression is not "
        "defined; attribute value: :absent",
    ),
]


@pytest.mark.parametrize(("expression", "message"), STATIC_ERRORS)
def test_update_expression_errors(expression: str, message: str) -> None:
    assert failure(expression).message == message
