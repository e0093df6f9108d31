"""Query and Scan (API Reference, "Query" and "Scan"; Developer Guide, "Querying tables",
"Scanning tables" and "Paginating table query results").

A page evaluates items in key order — a Query in sort-key order (reversed when
``ScanIndexForward`` is false) within one partition, a Scan in a stable order of its own —
starting after ``ExclusiveStartKey``. It stops after ``Limit`` items or once it has read
1 MB, applies ``FilterExpression`` to what it read (so ``Count`` may be smaller than
``ScannedCount``), and returns ``LastEvaluatedKey`` whenever it stopped early; as on AWS,
a page that stops exactly at ``Limit`` carries a ``LastEvaluatedKey`` even if nothing
follows.

A KeyConditionExpression must test the partition key for equality and may add one test of
the sort key (``=``, ``<``, ``<=``, ``>``, ``>=``, ``BETWEEN``, ``begins_with``), joined by
``AND``; anything else is refused with AWS's messages.
"""

from __future__ import annotations

import copy
import dataclasses
import zlib
from typing import Any, Final

from stepwell.integrations.dynamodb.documents import project
from stepwell.integrations.dynamodb.errors import invalid_parameters, validation
from stepwell.integrations.dynamodb.evaluation import evaluate
from stepwell.integrations.dynamodb.expressions import (
    FILTER,
    KEY_CONDITION,
    PROJECTION,
    Expressions,
    read_expressions,
)
from stepwell.integrations.dynamodb.items import Catalog
from stepwell.integrations.dynamodb.requests import CONSUMED_CAPACITY, SELECT, Request
from stepwell.integrations.dynamodb.schema import TableSchema, key_token
from stepwell.integrations.dynamodb.syntax import (
    And,
    Between,
    Comparison,
    Condition,
    FunctionTest,
    In,
    Literal,
    Name,
    Not,
    Operand,
    Or,
    Path,
)
from stepwell.integrations.dynamodb.values import (
    AttributeValue,
    Item,
    canonical_item,
    item_size,
    type_of,
)

PAGE_BYTES: Final = 1024 * 1024
_FLIPPED: Final = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_INVALID_START: Final = "The provided starting key is invalid: "


def query(catalog: Catalog, parameters: object) -> dict[str, Any]:
    request = Request(parameters)
    request.reject_legacy()
    name = request.table_name()
    options = _read_options(request)
    forward = request.boolean("ScanIndexForward", default=True)
    expressions = read_expressions(request, (KEY_CONDITION, FILTER, PROJECTION))
    if expressions.key_condition is None:
        raise validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified "
            "in the request."
        )
    table = catalog.table(name)
    schema = table.schema
    _check_index(options)
    partition, sort_condition = key_condition(expressions.key_condition, schema)
    _check_filter(expressions.filter, schema)
    start = _start_key(options["ExclusiveStartKey"], schema)
    if start is not None and start[schema.partition_key.name] != partition:
        raise validation(
            _INVALID_START + "The provided starting key is outside query boundaries based on "
            "provided conditions"
        )
    with table.lock:
        items = table.partition(key_token(partition), catalog.now())
    if sort_condition is not None:
        items = [item for item in items if evaluate(sort_condition, item)]
    if not forward:
        items.reverse()
    if start is not None:
        items = _after(items, start, schema, forward)
    return _page(items, expressions, options, schema)


def scan(catalog: Catalog, parameters: object) -> dict[str, Any]:
    request = Request(parameters)
    request.reject_legacy()
    name = request.table_name()
    options = _read_options(request)
    segment = request.integer("Segment", 0, 999_999)
    total = request.integer("TotalSegments", 1, 1_000_000)
    expressions = read_expressions(request, (FILTER, PROJECTION))
    _check_segments(segment, total)
    table = catalog.table(name)
    schema = table.schema
    _check_index(options)
    start = _start_key(options["ExclusiveStartKey"], schema)
    with table.lock:
        items = table.scan(catalog.now())
    if segment is not None and total is not None:
        items = [item for item in items if _segment_of(item, schema, total) == segment]
    if start is not None:
        items = _after(items, start, schema, forward=True)
    return _page(items, expressions, options, schema)


# --- options ------------------------------------------------------------------------------


def _read_options(request: Request) -> dict[str, Any]:
    options = {
        "IndexName": request.string("IndexName"),
        "Select": request.enum("Select", SELECT),
        "Limit": request.integer("Limit", 1),
        "ExclusiveStartKey": request.mapping("ExclusiveStartKey"),
    }
    request.boolean("ConsistentRead")
    request.enum("ReturnConsumedCapacity", CONSUMED_CAPACITY)
    return options


def _check_index(options: dict[str, Any]) -> None:
    """Stepwell's tables have no secondary indexes, so every index name is unknown."""
    if options["IndexName"] is not None:
        raise validation(f"The table does not have the specified index: {options['IndexName']}")
    if options["Select"] == "ALL_PROJECTED_ATTRIBUTES":
        raise validation(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )


def _check_segments(segment: int | None, total: int | None) -> None:
    if segment is not None and total is None:
        raise validation(
            "The TotalSegments parameter is required but was not present in the request when "
            "Segment parameter is present"
        )
    if total is not None and segment is None:
        raise validation(
            "The Segment parameter is required but was not present in the request when "
            "parameter TotalSegments is present"
        )
    if segment is not None and total is not None and segment >= total:
        raise validation(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
            f"Segment: {segment} is not less than TotalSegments: {total}"
        )


def _segment_of(item: Item, schema: TableSchema, total: int) -> int:
    token = key_token(item[schema.partition_key.name])
    return zlib.crc32(token.encode()) % total


def _start_key(raw: object, schema: TableSchema) -> Item | None:
    if raw is None:
        return None
    key = canonical_item(raw)
    schema.check_key(key, _INVALID_START + "The provided key element does not match the schema")
    return key


def _after(items: list[Item], start: Item, schema: TableSchema, forward: bool) -> list[Item]:
    boundary = schema.order(start)
    if forward:
        return [item for item in items if schema.order(item) > boundary]
    return [item for item in items if schema.order(item) < boundary]


def _check_filter(condition: Condition | None, schema: TableSchema) -> None:
    """A Query's filter may not test key attributes (they belong in the key condition)."""
    if condition is None:
        return
    for path in _paths(condition):
        if path.top in schema.key_names:
            raise validation(
                "Filter Expression can only contain non-primary key attributes: "
                f"Primary key attribute: {path.top}"
            )


def _paths(node: object) -> list[Path]:
    """Every document path in a bound expression tree."""
    if isinstance(node, Path):
        return [node]
    if isinstance(node, tuple):
        return [path for child in node for path in _paths(child)]
    if dataclasses.is_dataclass(node):
        fields = dataclasses.fields(node)
        return [path for field in fields for path in _paths(getattr(node, field.name))]
    return []


# --- the page -----------------------------------------------------------------------------


def _page(
    items: list[Item], expressions: Expressions, options: dict[str, Any], schema: TableSchema
) -> dict[str, Any]:
    limit: int | None = options["Limit"]
    matched: list[Item] = []
    scanned = read = 0
    last_key: Item | None = None
    for position, item in enumerate(items):
        scanned += 1
        read += item_size(item)
        if expressions.filter is None or evaluate(expressions.filter, item):
            matched.append(item)
        more = position + 1 < len(items)
        if scanned == limit or (read >= PAGE_BYTES and more):
            last_key = schema.key_of(item)
            break
    response: dict[str, Any] = {}
    if options["Select"] != "COUNT":
        response["Items"] = [_shown(item, expressions) for item in matched]
    response["Count"] = len(matched)
    response["ScannedCount"] = scanned
    if last_key is not None:
        response["LastEvaluatedKey"] = copy.deepcopy(last_key)
    return response


def _shown(item: Item, expressions: Expressions) -> Item:
    if expressions.projection is None:
        return copy.deepcopy(item)
    return project(item, expressions.projection.paths)


# --- key conditions -----------------------------------------------------------------------


def key_condition(
    condition: Condition, schema: TableSchema
) -> tuple[AttributeValue, Condition | None]:
    """The partition key value a Query reads and the test (if any) on the sort key."""
    conjuncts = _conjuncts(condition)
    if len(conjuncts) > 2:
        raise validation("Conditions can be of length 1 or 2 only")
    by_key: dict[str, Condition] = {}
    for conjunct in conjuncts:
        attribute, normalised = _key_test(conjunct)
        if attribute in by_key:
            raise validation("KeyConditionExpressions must only contain one condition per key")
        by_key[attribute] = normalised
    missing = [key.name for key in schema.keys if key.name not in by_key]
    unknown = [name for name in by_key if name not in schema.key_names]
    if schema.partition_key.name in missing or unknown:
        if missing:
            raise validation(f"Query condition missed key schema element: {missing[0]}")
        raise validation("Query key condition not supported")
    partition_test = by_key.pop(schema.partition_key.name)
    if not isinstance(partition_test, Comparison) or partition_test.operator != "=":
        raise validation("Query key condition not supported")
    for key in schema.keys:
        test = by_key.get(key.name) if key is schema.sort_key else partition_test
        if test is not None:
            _check_literal_types(test, key.type)
    assert isinstance(partition_test.right, Literal)
    sort_test = by_key.get(schema.sort_key.name) if schema.sort_key is not None else None
    return partition_test.right.value, sort_test


def _conjuncts(condition: Condition) -> list[Condition]:
    if isinstance(condition, And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]


def _key_test(condition: Condition) -> tuple[str, Condition]:
    """The key attribute a conjunct tests, and the conjunct with the attribute on the left."""
    if isinstance(condition, Or | Not | In):
        operator = {Or: "OR", Not: "NOT", In: "IN"}[type(condition)]
        raise validation(f"Invalid operator used in KeyConditionExpression: {operator}")
    if isinstance(condition, Comparison):
        return _comparison_test(condition)
    if isinstance(condition, Between):
        _require_literal(condition.low, condition.high)
        return _attribute(condition.subject), condition
    assert isinstance(condition, FunctionTest)
    if condition.call.name != "begins_with":
        raise validation(f"Invalid operator used in KeyConditionExpression: {condition.call.name}")
    subject, prefix = condition.call.args
    _require_literal(prefix)
    return _attribute(subject), condition


def _comparison_test(condition: Comparison) -> tuple[str, Condition]:
    if condition.operator == "<>":
        raise validation("Invalid operator used in KeyConditionExpression: <>")
    left, right = condition.left, condition.right
    if isinstance(left, Literal):
        left, right = right, left
        condition = Comparison(_FLIPPED[condition.operator], left, right)
    _require_literal(right)
    return _attribute(left), condition


def _attribute(operand: Operand) -> str:
    if not isinstance(operand, Path):
        raise validation("Query key condition not supported")
    if len(operand.steps) > 1 or not isinstance(operand.steps[0], Name):
        raise validation("KeyConditionExpressions cannot have conditions on nested attributes")
    return operand.top


def _require_literal(*operands: Operand) -> None:
    if not all(isinstance(operand, Literal) for operand in operands):
        raise validation("Query key condition not supported")


def _check_literal_types(test: Condition, key_type: str) -> None:
    if isinstance(test, Comparison):
        literals = [test.right]
    elif isinstance(test, Between):
        literals = [test.low, test.high]
    else:
        assert isinstance(test, FunctionTest)
        literals = [test.call.args[1]]
    for literal in literals:
        assert isinstance(literal, Literal)
        if type_of(literal.value) != key_type:
            raise invalid_parameters("Condition parameter type does not match schema type")
