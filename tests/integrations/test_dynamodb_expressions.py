"""Condition, filter and projection expressions of the embedded DynamoDB: parse, bind and
evaluate. Sources: Developer Guide, "Condition and filter expressions, operators, and
functions" (syntax, comparators, functions, precedence), "Expression attribute names
(aliases)", "Using expression attribute values", "Reserved words in DynamoDB" and
"Projection expressions"; error texts as real DynamoDB reports them (quoted in public
issue threads where noted)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from stepwell.integrations.dynamodb import DynamoDBError
from stepwell.integrations.dynamodb.binding import Bindings, check_disjoint
from stepwell.integrations.dynamodb.documents import project
from stepwell.integrations.dynamodb.evaluation import evaluate
from stepwell.integrations.dynamodb.parser import parse_condition, parse_projection, parse_update


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


ITEM: dict[str, Any] = {
    "id": {"S": "k1"},
    "s": {"S": "hello world"},
    "n": {"N": "10"},
    "b": {"B": b64(b"abc")},
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "m": {"M": {"a": {"N": "1"}, "b": {"M": {"c": {"S": "deep"}}}}},
    "l": {"L": [{"S": "x"}, {"N": "2"}, {"M": {"k": {"S": "v"}}}]},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b64(b"x")]},
    "blank": {"S": ""},
    "status": {"S": "IN_PROGRESS"},
    "a.b": {"S": "dotted"},
}

VALUES: dict[str, Any] = {
    ":hello_world": {"S": "hello world"},
    ":hello": {"S": "hello"},
    ":world": {"S": "world"},
    ":a": {"S": "a"},
    ":c": {"S": "c"},
    ":x": {"S": "x"},
    ":v": {"S": "v"},
    ":z": {"S": "z"},
    ":deep": {"S": "deep"},
    ":dotted": {"S": "dotted"},
    ":in_progress": {"S": "IN_PROGRESS"},
    ":str10": {"S": "10"},
    ":str1": {"S": "1"},
    ":n0": {"N": "0"},
    ":n1": {"N": "1"},
    ":n2": {"N": "2"},
    ":n3": {"N": "3"},
    ":n5": {"N": "5"},
    ":n10": {"N": "10.0"},
    ":n11": {"N": "11"},
    ":n20": {"N": "20"},
    ":ab": {"B": b64(b"ab")},
    ":abd": {"B": b64(b"abd")},
    ":bc": {"B": b64(b"bc")},
    ":bx": {"B": b64(b"x")},
    ":ss_ba": {"SS": ["b", "a"]},
    ":ns_21": {"NS": ["2", "1"]},
    ":m": {"M": {"b": {"M": {"c": {"S": "deep"}}}, "a": {"N": "1.0"}}},
    ":l": {"L": [{"S": "x"}, {"N": "2"}, {"M": {"k": {"S": "v"}}}]},
    ":true": {"BOOL": True},
    ":null": {"NULL": True},
    ":type_s": {"S": "S"},
    ":type_n": {"S": "N"},
    ":type_b": {"S": "B"},
    ":type_bool": {"S": "BOOL"},
    ":type_null": {"S": "NULL"},
    ":type_m": {"S": "M"},
    ":type_l": {"S": "L"},
    ":type_ss": {"S": "SS"},
    ":type_ns": {"S": "NS"},
    ":type_bs": {"S": "BS"},
}
NAMES = {"#st": "status", "#dotted": "a.b", "#m": "m", "#deep": "c"}


def holds(expression: str, item: dict[str, Any] | None = ITEM) -> bool:
    bindings = Bindings(NAMES, VALUES)
    condition = bindings.condition(parse_condition(expression), "ConditionExpression")
    return evaluate(condition, item)


def error_of(expression: str, kind: str = "ConditionExpression") -> DynamoDBError:
    with pytest.raises(DynamoDBError) as caught:
        parsed = parse_condition(expression, kind)
        Bindings(NAMES, VALUES).condition(parsed, kind)
    return caught.value


CONDITIONS: list[tuple[str, bool]] = [
    # = and <>: any type; different types or a absent operand are not equal
    ("s = :hello_world", True),
    ("s = :hello", False),
    ("n = :n10", True),  # 10 = 10.0: numbers compare by value
    ("n = :str10", False),  # N vs S: false, not an error
    ("n <> :str10", True),
    ("n <> :n10", False),
    ("absent = :n10", False),
    ("absent <> :n10", True),  # <> is the negation of =
    ("t = :true", True),
    ("z = :null", True),
    ("ss = :ss_ba", True),  # sets compare without order
    ("ns = :ns_21", True),
    ("m = :m", True),  # maps compare by members
    ("l = :l", True),
    ("n = n", True),  # two paths
    ("s = n", False),
    (":n10 = n", True),  # value on the left
    # ordering: strings by UTF-8 bytes, numbers by value, binary by unsigned bytes
    ("n < :n20", True),
    ("n <= :n10", True),
    ("n > :n5", True),
    ("n >= :n20", False),
    ("n > :n20", False),
    ("n < :str10", False),  # type mismatch: false
    ("absent < :n20", False),
    ("s > :hello", True),
    ("s < :z", True),
    ("b < :abd", True),
    ("b > :ab", True),
    (":n5 < n", True),
    # document paths
    ("m.a = :n1", True),
    ("m.b.c = :deep", True),
    ("#m.b.#deep = :deep", True),
    ("l[0] = :x", True),
    ("l[1] = :n2", True),
    ("l[2].k = :v", True),
    ("l[5] = :x", False),
    ("absent.x = :x", False),
    ("m.a[0] = :n1", False),  # index into a number: does not exist
    ("l.k = :v", False),  # name into a list: does not exist
    ("s.k = :v", False),
    ("#st = :in_progress", True),  # a reserved word through a placeholder
    ("#dotted = :dotted", True),  # a name containing a dot
    # BETWEEN and IN
    ("n BETWEEN :n5 AND :n20", True),
    ("n BETWEEN :n10 AND :n10", True),
    ("n BETWEEN :n11 AND :n20", False),
    ("s BETWEEN :a AND :z", True),
    ("n BETWEEN :a AND :z", False),  # type mismatch
    ("absent BETWEEN :n5 AND :n20", False),
    ("n IN (:n5, :n10)", True),
    ("n IN (:n5)", False),
    ("absent IN (:n5, :n10)", False),
    ("s IN (:hello, :hello_world, :n5)", True),
    # attribute_exists / attribute_not_exists
    ("attribute_exists(s)", True),
    ("attribute_exists(absent)", False),
    ("attribute_exists(z)", True),  # a NULL value exists
    ("attribute_exists(m.b.c)", True),
    ("attribute_exists(l[7])", False),
    ("attribute_not_exists(absent)", True),
    ("attribute_not_exists(s)", False),
    # attribute_type, every type
    ("attribute_type(s, :type_s)", True),
    ("attribute_type(n, :type_n)", True),
    ("attribute_type(b, :type_b)", True),
    ("attribute_type(t, :type_bool)", True),
    ("attribute_type(z, :type_null)", True),
    ("attribute_type(m, :type_m)", True),
    ("attribute_type(l, :type_l)", True),
    ("attribute_type(ss, :type_ss)", True),
    ("attribute_type(ns, :type_ns)", True),
    ("attribute_type(bs, :type_bs)", True),
    ("attribute_type(n, :type_s)", False),
    ("attribute_type(absent, :type_s)", False),
    # begins_with: strings and binary
    ("begins_with(s, :hello)", True),
    ("begins_with(s, :world)", False),
    ("begins_with(b, :ab)", True),
    ("begins_with(b, :bc)", False),
    ("begins_with(n, :str1)", False),
    ("begins_with(s, :ab)", False),  # S against B
    ("begins_with(absent, :hello)", False),
    ("begins_with(n, n)", False),  # numbers have no prefix
    ("begins_with(#st, :in_progress)", True),
    # contains: substring, set member, list element
    ("contains(s, :world)", True),
    ("contains(s, :c)", False),
    ("contains(b, :bc)", True),
    ("contains(ss, :a)", True),
    ("contains(ss, :c)", False),
    ("contains(ns, :n1)", True),
    ("contains(ns, :str1)", False),  # a string is not in a number set
    ("contains(bs, :bx)", True),
    ("contains(l, :x)", True),
    ("contains(l, :n2)", True),
    ("contains(l, :n5)", False),
    ("contains(n, :n1)", False),
    ("contains(m, :a)", False),
    ("contains(absent, :a)", False),
    # size: string length, bytes, elements
    ("size(s) = :n11", True),
    ("size(blank) = :n0", True),
    ("size(b) = :n3", True),
    ("size(ss) = :n2", True),
    ("size(l) = :n3", True),
    ("size(m) = :n2", True),
    ("size(m.b) < :n2", True),
    ("size(n) = :n2", False),  # a number has no size
    ("size(t) >= :n0", False),
    ("size(absent) >= :n0", False),
    ("size(s) BETWEEN :n10 AND :n20", True),
    ("size(l) IN (:n1, :n3)", True),
    # logic and precedence: NOT > AND > OR, left to right; parentheses first
    ("NOT attribute_exists(absent)", True),
    ("NOT NOT attribute_exists(absent)", False),
    ("attribute_exists(s) AND n = :n5", False),
    ("attribute_exists(absent) OR n = :n10", True),
    ("attribute_exists(s) OR attribute_exists(x) AND attribute_exists(y)", True),
    ("(attribute_exists(s) OR attribute_exists(x)) AND attribute_exists(y)", False),
    ("NOT attribute_exists(s) OR attribute_exists(n)", True),
    ("NOT (attribute_exists(s) OR attribute_exists(n))", False),
    ("((n = :n10))", True),
    ("n between :n5 and :n20 and not attribute_exists(absent) or false_attr = :x", True),
]


@pytest.mark.parametrize(("expression", "expected"), CONDITIONS)
def test_condition_evaluates_as_dynamodb_does(expression: str, expected: bool) -> None:
    assert holds(expression) is expected


def test_conditions_on_a_missing_item_see_no_attributes() -> None:
    assert holds("attribute_not_exists(id)", None)
    assert not holds("attribute_exists(id)", None)
    assert holds("n <> :n10", None)
    assert not holds("n = :n10", None)


def test_parsed_expressions_are_cached_by_text() -> None:
    assert parse_condition("a = :v AND b = :w") is parse_condition("a = :v AND b = :w")
    assert parse_update("SET a = :v") is parse_update("SET a = :v")
    assert parse_projection("a, b") is parse_projection("a, b")


# --- errors -----------------------------------------------------------------------------

PARSE_ERRORS: list[tuple[str, str]] = [
    ("", "The expression can not be empty;"),
    ("   ", "The expression can not be empty;"),
    ("a =", 'Syntax error; token: "<EOF>", near: "="'),
    ("a == :v", 'Syntax error; token: "=", near: "== :v"'),
    ("a = :v AND", 'Syntax error; token: "<EOF>", near: "AND"'),
    ("a = :v)", 'Syntax error; token: ")", near: ":v)"'),
    ("(a = :v", 'Syntax error; token: "<EOF>", near: ":v"'),
    ("a BETWEEN :x :y", 'Syntax error; token: ":y", near: ":x :y"'),
    ("a IN ()", 'Syntax error; token: ")", near: "()"'),
    ("a", 'Syntax error; token: "<EOF>", near: "a"'),
    ("a[x] = :v", 'Syntax error; token: "x", near: "[x]"'),
    ("a.# = :v", 'Syntax error; token: "#", near: ".# ="'),
    ("a ! :v", 'Syntax error; token: "!", near: "a ! :v"'),
    ("and = :v", 'Syntax error; token: "and", near: "and ="'),
    ("a = : v", 'Syntax error; token: ":", near: "= : v"'),
    ("status = :v", "Attribute name is a reserved keyword; reserved keyword: status"),
    ("a.Comment = :v", "Attribute name is a reserved keyword; reserved keyword: Comment"),
    ("foo(a)", "Invalid function name; function: foo"),
    ("Attribute_Exists(a)", "Invalid function name; function: Attribute_Exists"),
    ("size(a)", "The function is not allowed to be used this way in an expression; function: size"),
    (
        "attribute_exists(a) = :v",
        "The function is not allowed to be used this way in an expression; "
        "function: attribute_exists",
    ),
    (
        ":v = contains(a, :v)",
        "The function is not allowed to be used this way in an expression; function: contains",
    ),
    (
        "if_not_exists(a, :v) = :v",
        "The function is not allowed to be used this way in an expression; function: if_not_exists",
    ),
    (
        "attribute_exists(a, b)",
        "Incorrect number of operands for operator or function; "
        "operator or function: attribute_exists, number of operands: 2",
    ),
    (
        "begins_with(a)",
        "Incorrect number of operands for operator or function; "
        "operator or function: begins_with, number of operands: 1",
    ),
    (
        "attribute_exists(:v)",
        "Operator or function requires a document path; operator or function: attribute_exists",
    ),
    (
        "size(:v) > :v",
        "Operator or function requires a document path; operator or function: size",
    ),
    (
        "a IN (" + ", ".join(f":v{i}" for i in range(101)) + ")",
        "The IN operator is provided with too many operands; number of operands: 101",
    ),
]


@pytest.mark.parametrize(("expression", "detail"), PARSE_ERRORS)
def test_parse_errors_read_like_dynamodbs(expression: str, detail: str) -> None:
    error = error_of(expression)
    assert error.code == "ValidationException"
    assert error.message == f"Invalid ConditionExpression: {detail}"


def test_the_parameter_name_prefixes_the_message() -> None:
    assert error_of("a =", "FilterExpression").message.startswith("Invalid FilterExpression: ")
    with pytest.raises(DynamoDBError, match=r"^ValidationException: Invalid ProjectionExpression"):
        parse_projection("a,")


BINDING_ERRORS: list[tuple[str, str]] = [
    (
        "#nope = :v",
        "An expression attribute name used in the document path is not defined; "
        "attribute name: #nope",
    ),
    (
        "a = :nope",
        "An expression attribute value used in expression is not defined; attribute value: :nope",
    ),
    (
        "a < :true",
        "Incorrect operand type for operator or function; operator or function: <, "
        "operand type: BOOL",
    ),
    (
        "a >= :m",
        "Incorrect operand type for operator or function; operator or function: >=, "
        "operand type: M",
    ),
    (
        "begins_with(a, :n5)",
        "Incorrect operand type for operator or function; operator or function: begins_with, "
        "operand type: N",
    ),
    (
        "attribute_type(a, :n5)",
        "Incorrect operand type for operator or function; operator or function: "
        "attribute_type, operand type: N",
    ),
    (
        "attribute_type(a, :hello)",
        "Invalid attribute type name found; type: hello, valid types: "
        "{ B,NULL,SS,BOOL,L,BS,N,NS,S,M }",
    ),
    (
        "a BETWEEN :n20 AND :n5",
        "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
        "lower bound operand: AttributeValue: {N:20}, upper bound operand: AttributeValue: {N:5}",
    ),
    (
        "a BETWEEN :n5 AND :a",
        "The BETWEEN operator requires same data type for lower and upper bounds; "
        "lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {S:a}",
    ),
    (
        "a BETWEEN :null AND :n5",
        "Incorrect operand type for operator or function; operator or function: BETWEEN, "
        "operand type: NULL",
    ),
    (
        "contains(a.b, a.b)",
        "The first operand must be distinct from the remaining operands for this operator or "
        "function; operator: contains, first operand: [a, b]",
    ),
]


@pytest.mark.parametrize(("expression", "detail"), BINDING_ERRORS)
def test_binding_errors_name_the_placeholder_or_operand(expression: str, detail: str) -> None:
    assert error_of(expression).message == f"Invalid ConditionExpression: {detail}"


MAP_ERRORS: list[tuple[Any, Any, str, str]] = [
    ({}, None, "ValidationException", "ExpressionAttributeNames must not be empty"),
    (None, {}, "ValidationException", "ExpressionAttributeValues must not be empty"),
    (
        {"n": "x"},
        None,
        "ValidationException",
        'ExpressionAttributeNames contains invalid key: Syntax error; key: "n"',
    ),
    (
        {"#n-1": "x"},
        None,
        "ValidationException",
        'ExpressionAttributeNames contains invalid key: Syntax error; key: "#n-1"',
    ),
    (
        {"#n": ""},
        None,
        "ValidationException",
        "ExpressionAttributeNames contains invalid value: Empty attribute name for key #n",
    ),
    (
        None,
        {"v": {"S": "x"}},
        "ValidationException",
        'ExpressionAttributeValues contains invalid key: Syntax error; key: "v"',
    ),
    (
        None,
        {":v": {"SS": []}},
        "ValidationException",
        "ExpressionAttributeValues contains invalid value: One or more parameter values were "
        "invalid: An string set  may not be empty for key :v",
    ),
    (
        None,
        {":v": {"N": "ten"}},
        "ValidationException",
        "ExpressionAttributeValues contains invalid value: A value provided cannot be "
        "converted into a number for key :v",
    ),
    (
        None,
        {":v": {"N": 10}},
        "SerializationException",
        "NUMBER_VALUE cannot be converted to String",
    ),
    (["#n"], None, "SerializationException", "ExpressionAttributeNames must be a map"),
    (None, [":v"], "SerializationException", "ExpressionAttributeValues must be a map"),
]


@pytest.mark.parametrize(("names", "values", "code", "message"), MAP_ERRORS)
def test_placeholder_maps_are_validated(names: Any, values: Any, code: str, message: str) -> None:
    with pytest.raises(DynamoDBError) as caught:
        Bindings(names, values)
    assert (caught.value.code, caught.value.message) == (code, message)


def test_empty_strings_are_valid_expression_values() -> None:
    bindings = Bindings(None, {":e": {"S": ""}})
    condition = bindings.condition(parse_condition("blank = :e"), "ConditionExpression")
    assert evaluate(condition, ITEM)


def test_unused_placeholders_are_rejected_together() -> None:
    bindings = Bindings({"#a": "a", "#b": "b"}, {":x": {"S": "x"}, ":y": {"S": "y"}})
    bindings.condition(parse_condition("#a = :x"), "ConditionExpression")
    with pytest.raises(DynamoDBError) as caught:
        bindings.check_all_used()
    assert caught.value.message == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    )
    bindings.condition(parse_condition("#b = :x"), "ConditionExpression")
    with pytest.raises(DynamoDBError, match=r"ExpressionAttributeValues unused .* keys: \{:y\}"):
        bindings.check_all_used()


# --- projections --------------------------------------------------------------------------


def projected(expression: str) -> dict[str, Any]:
    projection = Bindings(NAMES, None).projection(parse_projection(expression))
    check_disjoint(list(projection.paths), "ProjectionExpression")
    return project(ITEM, projection.paths)


PROJECTIONS: list[tuple[str, dict[str, Any]]] = [
    ("s, n", {"s": ITEM["s"], "n": ITEM["n"]}),
    ("s,n", {"s": ITEM["s"], "n": ITEM["n"]}),
    ("m.a", {"m": {"M": {"a": {"N": "1"}}}}),
    ("m.a, m.b.c", {"m": {"M": {"a": {"N": "1"}, "b": {"M": {"c": {"S": "deep"}}}}}}),
    ("l[2].k, l[0]", {"l": {"L": [{"S": "x"}, {"M": {"k": {"S": "v"}}}]}}),
    ("l[1]", {"l": {"L": [{"N": "2"}]}}),
    ("l[0].k", {}),  # l[0] is a string, not a map
    ("absent, l[9], m.zz, n.x", {}),
    ("s.k, l.k", {}),
    ("#dotted, #st", {"a.b": {"S": "dotted"}, "status": {"S": "IN_PROGRESS"}}),
    ("a.b", {}),  # a path to map "a", not the attribute named "a.b"
]


@pytest.mark.parametrize(("expression", "expected"), PROJECTIONS)
def test_projection_keeps_only_the_named_paths(expression: str, expected: dict[str, Any]) -> None:
    assert projected(expression) == expected


PATH_CLASHES: list[tuple[str, str]] = [
    (
        "m, m.a",
        "overlap with each other; must remove or rewrite one of these paths; "
        "path one: [m], path two: [m, a]",
    ),
    (
        "s, s",
        "overlap with each other; must remove or rewrite one of these paths; "
        "path one: [s], path two: [s]",
    ),
    (
        "l[0], l.k",
        "conflict with each other; must remove or rewrite one of these paths; "
        "path one: [l, [0]], path two: [l, k]",
    ),
    (
        "#m.a, m",
        "overlap with each other; must remove or rewrite one of these paths; "
        "path one: [m, a], path two: [m]",
    ),
]


@pytest.mark.parametrize(("expression", "detail"), PATH_CLASHES)
def test_projection_paths_may_not_overlap(expression: str, detail: str) -> None:
    with pytest.raises(DynamoDBError) as caught:
        projected(expression)
    assert caught.value.message == f"Invalid ProjectionExpression: Two document paths {detail}"


def test_projection_copies_values() -> None:
    result = projected("m")
    result["m"]["M"]["a"]["N"] = "99"
    assert ITEM["m"]["M"]["a"] == {"N": "1"}
