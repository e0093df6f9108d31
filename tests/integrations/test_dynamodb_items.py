"""PutItem, GetItem, UpdateItem and DeleteItem of the embedded DynamoDB, request to response.
Sources: API Reference, "PutItem", "GetItem", "UpdateItem", "DeleteItem" (parameters,
ReturnValues per operation, response shapes), "Common Errors"; Developer Guide,
"Condition expressions", "Working with items" and "Supported data types and naming rules"
(key sizes, empty key strings). Error texts as DynamoDB returns them."""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.integrations.dynamodb import DynamoDBError, TableEngine

TABLE = "Things"


def engine() -> TableEngine:
    tables = TableEngine(clock=lambda: 1_700_000_000)
    tables.create_table(
        {
            "TableName": TABLE,
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
    )
    return tables


ITEM = {"id": {"S": "a"}, "n": {"N": "1"}, "tags": {"SS": ["x"]}}
KEY = {"id": {"S": "a"}}


def put(tables: TableEngine, item: dict[str, Any] = ITEM, **extra: Any) -> dict[str, Any]:
    return tables.put_item({"TableName": TABLE, "Item": item, **extra})


def get(tables: TableEngine, key: dict[str, Any] = KEY, **extra: Any) -> dict[str, Any]:
    return tables.get_item({"TableName": TABLE, "Key": key, **extra})


def failure(action: Any, *args: Any, **kwargs: Any) -> DynamoDBError:
    with pytest.raises(DynamoDBError) as caught:
        action(*args, **kwargs)
    return caught.value


# --- PutItem ------------------------------------------------------------------------------


def test_put_then_get_round_trips_the_item() -> None:
    tables = engine()
    assert put(tables) == {}
    assert get(tables) == {"Item": ITEM}


def test_put_replaces_the_whole_item_and_can_return_the_old_one() -> None:
    tables = engine()
    put(tables)
    replacement = {"id": {"S": "a"}, "other": {"BOOL": True}}
    assert put(tables, replacement, ReturnValues="ALL_OLD") == {"Attributes": ITEM}
    assert get(tables) == {"Item": replacement}
    assert put(tables, {"id": {"S": "new"}}, ReturnValues="ALL_OLD") == {}
    assert put(tables, replacement, ReturnValues="NONE") == {}


def test_numbers_come_back_in_canonical_form() -> None:
    tables = engine()
    put(tables, {"id": {"S": "a"}, "price": {"N": "1.50"}, "big": {"N": "1E+3"}})
    assert get(tables)["Item"]["price"] == {"N": "1.5"}
    assert get(tables)["Item"]["big"] == {"N": "1000"}


def test_responses_are_copies_of_the_stored_item() -> None:
    tables = engine()
    put(tables)
    get(tables)["Item"]["n"]["N"] = "99"
    put(tables, ITEM, ReturnValues="ALL_OLD")["Attributes"]["n"]["N"] = "98"
    assert get(tables)["Item"]["n"] == {"N": "1"}


def test_conditional_put_fails_with_conditional_check_failed() -> None:
    tables = engine()
    put(tables)
    error = failure(put, tables, ConditionExpression="attribute_not_exists(id)")
    assert (error.code, error.message) == (
        "ConditionalCheckFailedException",
        "The conditional request failed",
    )
    assert error.item is None
    assert error.response()["__type"].endswith("#ConditionalCheckFailedException")


def test_a_failed_condition_can_return_the_old_item() -> None:
    tables = engine()
    put(tables)
    error = failure(
        put,
        tables,
        {"id": {"S": "a"}},
        ConditionExpression="n = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    assert error.item == ITEM
    assert error.response()["Item"] == ITEM
    assert get(tables) == {"Item": ITEM}  # nothing written


def test_conditional_put_succeeds_when_the_condition_holds() -> None:
    tables = engine()
    put(tables)
    put(
        tables,
        {"id": {"S": "a"}, "n": {"N": "2"}},
        ConditionExpression="#n = :one",
        ExpressionAttributeNames={"#n": "n"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert get(tables)["Item"]["n"] == {"N": "2"}


PUT_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    (
        {"Item": {"n": {"N": "1"}}},
        "ValidationException",
        "One or more parameter values were invalid: Missing the key id in the item",
    ),
    (
        {"Item": {"id": {"N": "1"}}},
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for key id expected: S actual: N",
    ),
    (
        {"Item": {"id": {"S": ""}}},
        "ValidationException",
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: id",
    ),
    (
        {"Item": {"id": {"S": "x" * 2049}}},
        "ValidationException",
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
        "size limit of2048 bytes",
    ),
    (
        {"Item": {"id": {"S": "a"}, "big": {"S": "x" * 409_600}}},
        "ValidationException",
        "Item size has exceeded the maximum allowed size",
    ),
    (
        {"Item": ITEM, "ReturnValues": "ALL_NEW"},
        "ValidationException",
        "ReturnValues can only be ALL_OLD or NONE",
    ),
    (
        {"Item": ITEM, "ReturnValues": "EVERYTHING"},
        "ValidationException",
        "1 validation error detected: Value 'EVERYTHING' at 'returnValues' failed to satisfy "
        "constraint: Member must satisfy enum value set: "
        "[ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
    ),
    (
        {"Item": ITEM, "ReturnValuesOnConditionCheckFailure": "ALL_NEW"},
        "ValidationException",
        "1 validation error detected: Value 'ALL_NEW' at 'returnValuesOnConditionCheckFailure' "
        "failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
    ),
    (
        {},
        "ValidationException",
        "1 validation error detected: Value null at 'item' failed to satisfy constraint: "
        "Member must not be null",
    ),
    (
        {"Item": ITEM, "ExpressionAttributeNames": {"#n": "n"}},
        "ValidationException",
        "ExpressionAttributeNames can only be specified when using expressions",
    ),
    (
        {"Item": ITEM, "ExpressionAttributeValues": {":v": {"S": "x"}}},
        "ValidationException",
        "ExpressionAttributeValues can only be specified when using expressions",
    ),
    (
        {
            "Item": ITEM,
            "ConditionExpression": "attribute_not_exists(id)",
            "ExpressionAttributeValues": {":unused": {"S": "x"}},
        },
        "ValidationException",
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
    ),
    (
        {"Item": ITEM, "ConditionExpression": "attribute_not_exists(id) AND"},
        "ValidationException",
        'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND"',
    ),
    (
        {"Item": ITEM, "ConditionExpression": ""},
        "ValidationException",
        "Invalid ConditionExpression: The expression can not be empty;",
    ),
    (
        {"Item": ITEM, "Expected": {"id": {"Exists": False}}},
        "ValidationException",
        "The legacy parameter Expected is not supported by Stepwell's embedded DynamoDB; use "
        "the expression parameters instead",
    ),
    ({"Item": [ITEM]}, "SerializationException", "START_ARRAY cannot be converted to Map"),
    (
        {"Item": ITEM, "ReturnConsumedCapacity": "ALL"},
        "ValidationException",
        "1 validation error detected: Value 'ALL' at 'returnConsumedCapacity' failed to satisfy "
        "constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
]


@pytest.mark.parametrize(("request_fields", "code", "message"), PUT_ERRORS)
def test_put_item_errors(request_fields: dict[str, Any], code: str, message: str) -> None:
    error = failure(engine().put_item, {"TableName": TABLE, **request_fields})
    assert (error.code, error.message) == (code, message)


TABLE_NAME_ERRORS: list[tuple[Any, str]] = [
    (
        "ab",
        "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 3",
    ),
    (
        "a!",
        "2 validation errors detected: Value 'a!' at 'tableName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 3; Value 'a!' at 'tableName' failed "
        "to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    ),
    (
        "x" * 256,
        "1 validation error detected: Value '"
        + "x" * 256
        + "' at 'tableName' failed to satisfy constraint: Member must have length less than or "
        "equal to 255",
    ),
    (
        None,
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: "
        "Member must not be null",
    ),
]


@pytest.mark.parametrize(("name", "message"), TABLE_NAME_ERRORS)
def test_table_names_are_checked_before_anything_else(name: Any, message: str) -> None:
    error = failure(engine().put_item, {"TableName": name, "Item": ITEM})
    assert (error.code, error.message) == ("ValidationException", message)


def test_unknown_tables_are_resource_not_found() -> None:
    tables = engine()
    for action, request in (
        (tables.put_item, {"TableName": "Nope", "Item": ITEM}),
        (tables.get_item, {"TableName": "Nope", "Key": KEY}),
        (tables.update_item, {"TableName": "Nope", "Key": KEY}),
        (tables.delete_item, {"TableName": "Nope", "Key": KEY}),
    ):
        error = failure(action, request)
        assert (error.code, error.message) == (
            "ResourceNotFoundException",
            "Requested resource not found",
        )


def test_requests_must_be_objects_and_fields_must_have_their_types() -> None:
    tables = engine()
    assert failure(tables.put_item, ["TableName"]).code == "SerializationException"
    error = failure(tables.get_item, {"TableName": 5, "Key": KEY})
    assert (error.code, error.message) == (
        "SerializationException",
        "NUMBER_VALUE cannot be converted to String",
    )
    error = failure(tables.get_item, {"TableName": TABLE, "Key": KEY, "ConsistentRead": "yes"})
    assert error.message == "STRING_VALUE cannot be converted to Boolean"


# --- GetItem ------------------------------------------------------------------------------


def test_get_of_a_missing_item_returns_an_empty_response() -> None:
    assert get(engine()) == {}


def test_get_with_a_projection_and_consistent_read() -> None:
    tables = engine()
    put(
        tables,
        {"id": {"S": "a"}, "status": {"S": "SUCCEEDED"}, "result": {"S": "{}"}, "x": {"N": "1"}},
    )
    response = get(
        tables,
        ProjectionExpression="#s, #r, absent",
        ExpressionAttributeNames={"#s": "status", "#r": "result"},
        ConsistentRead=True,
    )
    assert response == {"Item": {"status": {"S": "SUCCEEDED"}, "result": {"S": "{}"}}}
    assert get(tables, ProjectionExpression="absent") == {"Item": {}}


KEY_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"id": {"N": "1"}}, "The provided key element does not match the schema"),
    ({"id": {"S": "a"}, "n": {"N": "1"}}, "The provided key element does not match the schema"),
    ({"other": {"S": "a"}}, "The provided key element does not match the schema"),
    (
        {"id": {"S": ""}},
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: id",
    ),
]


@pytest.mark.parametrize(("key", "message"), KEY_ERRORS)
def test_keys_must_match_the_schema(key: dict[str, Any], message: str) -> None:
    tables = engine()
    for action in (tables.get_item, tables.delete_item, tables.update_item):
        error = failure(action, {"TableName": TABLE, "Key": key})
        assert (error.code, error.message) == ("ValidationException", message)


def test_get_item_requires_a_key() -> None:
    error = failure(engine().get_item, {"TableName": TABLE})
    assert error.message == (
        "1 validation error detected: Value null at 'key' failed to satisfy constraint: "
        "Member must not be null"
    )


# --- DeleteItem ---------------------------------------------------------------------------


def test_delete_removes_the_item_and_can_return_it() -> None:
    tables = engine()
    put(tables)
    response = tables.delete_item({"TableName": TABLE, "Key": KEY, "ReturnValues": "ALL_OLD"})
    assert response == {"Attributes": ITEM}
    assert get(tables) == {}
    assert tables.delete_item({"TableName": TABLE, "Key": KEY, "ReturnValues": "ALL_OLD"}) == {}


def test_conditional_delete() -> None:
    tables = engine()
    put(tables)
    request = {
        "TableName": TABLE,
        "Key": KEY,
        "ConditionExpression": "n > :limit",
        "ExpressionAttributeValues": {":limit": {"N": "5"}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    error = failure(tables.delete_item, request)
    assert error.code == "ConditionalCheckFailedException"
    assert error.item == ITEM
    assert get(tables) == {"Item": ITEM}
    request["ExpressionAttributeValues"] = {":limit": {"N": "0"}}
    assert tables.delete_item(request) == {}
    assert get(tables) == {}


def test_delete_allows_only_none_or_all_old() -> None:
    error = failure(
        engine().delete_item, {"TableName": TABLE, "Key": KEY, "ReturnValues": "UPDATED_OLD"}
    )
    assert error.message == "ReturnValues can only be ALL_OLD or NONE"


# --- UpdateItem ---------------------------------------------------------------------------

OLD = {
    "id": {"S": "a"},
    "n": {"N": "1"},
    "m": {"M": {"x": {"S": "old"}, "y": {"N": "7"}}},
    "gone": {"S": "g"},
}
UPDATE = "SET n = n + :one, m.x = :new, fresh = :new REMOVE gone"
VALUES = {":one": {"N": "1"}, ":new": {"S": "new"}}
NEW = {
    "id": {"S": "a"},
    "n": {"N": "2"},
    "m": {"M": {"x": {"S": "new"}, "y": {"N": "7"}}},
    "fresh": {"S": "new"},
}

RETURN_VALUES: list[tuple[str, dict[str, Any]]] = [
    ("NONE", {}),
    ("ALL_OLD", {"Attributes": OLD}),
    ("ALL_NEW", {"Attributes": NEW}),
    (
        "UPDATED_OLD",
        {"Attributes": {"n": {"N": "1"}, "m": {"M": {"x": {"S": "old"}}}, "gone": {"S": "g"}}},
    ),
    (
        "UPDATED_NEW",
        {"Attributes": {"n": {"N": "2"}, "m": {"M": {"x": {"S": "new"}}}, "fresh": {"S": "new"}}},
    ),
]


@pytest.mark.parametrize(("returns", "expected"), RETURN_VALUES)
def test_update_item_return_values(returns: str, expected: dict[str, Any]) -> None:
    tables = engine()
    put(tables, OLD)
    request = {
        "TableName": TABLE,
        "Key": KEY,
        "UpdateExpression": UPDATE,
        "ExpressionAttributeValues": VALUES,
        "ReturnValues": returns,
    }
    assert tables.update_item(request) == expected
    assert get(tables) == {"Item": NEW}


NEW_ITEM_RETURNS: list[tuple[str, dict[str, Any]]] = [
    ("ALL_OLD", {}),
    ("UPDATED_OLD", {}),
    ("ALL_NEW", {"Attributes": {"id": {"S": "a"}, "v": {"S": "new"}}}),
    ("UPDATED_NEW", {"Attributes": {"v": {"S": "new"}}}),
]


@pytest.mark.parametrize(("returns", "expected"), NEW_ITEM_RETURNS)
def test_update_of_a_missing_item_creates_it(returns: str, expected: dict[str, Any]) -> None:
    tables = engine()
    request = {
        "TableName": TABLE,
        "Key": KEY,
        "UpdateExpression": "SET v = :v",
        "ExpressionAttributeValues": {":v": {"S": "new"}},
        "ReturnValues": returns,
    }
    assert tables.update_item(request) == expected
    assert get(tables) == {"Item": {"id": {"S": "a"}, "v": {"S": "new"}}}


def test_update_without_an_expression_creates_a_key_only_item() -> None:
    tables = engine()
    assert tables.update_item({"TableName": TABLE, "Key": KEY, "ReturnValues": "ALL_NEW"}) == {
        "Attributes": KEY
    }
    assert tables.update_item({"TableName": TABLE, "Key": KEY, "ReturnValues": "UPDATED_NEW"}) == {}


def test_update_that_removes_everything_returns_no_updated_attributes() -> None:
    tables = engine()
    put(tables)
    request = {
        "TableName": TABLE,
        "Key": KEY,
        "UpdateExpression": "REMOVE n, tags",
        "ReturnValues": "UPDATED_NEW",
    }
    assert tables.update_item(request) == {}
    assert get(tables) == {"Item": KEY}


def test_conditional_update_checks_the_item_before_the_update() -> None:
    tables = engine()
    put(tables)
    request = {
        "TableName": TABLE,
        "Key": KEY,
        "UpdateExpression": "SET n = :two",
        "ConditionExpression": "n = :two",
        "ExpressionAttributeValues": {":two": {"N": "2"}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    error = failure(tables.update_item, request)
    assert (error.code, error.item) == ("ConditionalCheckFailedException", ITEM)
    request["ConditionExpression"] = "attribute_exists(id)"
    tables.update_item(request)
    assert get(tables)["Item"]["n"] == {"N": "2"}


def test_update_may_not_touch_the_key() -> None:
    error = failure(
        engine().update_item,
        {
            "TableName": TABLE,
            "Key": KEY,
            "UpdateExpression": "SET id = :v",
            "ExpressionAttributeValues": {":v": {"S": "b"}},
        },
    )
    assert error.message == (
        "One or more parameter values were invalid: Cannot update attribute id. "
        "This attribute is part of the key"
    )


def test_update_that_grows_the_item_too_large_is_refused() -> None:
    tables = engine()
    put(tables, {"id": {"S": "a"}, "half": {"S": "x" * 300_000}})
    error = failure(
        tables.update_item,
        {
            "TableName": TABLE,
            "Key": KEY,
            "UpdateExpression": "SET copied = half",
        },
    )
    assert error.message == "Item size to update has exceeded the maximum allowed size"
    assert "copied" not in get(tables)["Item"]


def test_update_names_and_values_must_all_be_used() -> None:
    error = failure(
        engine().update_item,
        {
            "TableName": TABLE,
            "Key": KEY,
            "UpdateExpression": "SET #a = :v",
            "ExpressionAttributeNames": {"#a": "a", "#b": "b"},
            "ExpressionAttributeValues": {":v": {"S": "b"}},
        },
    )
    assert (
        error.message
        == "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    )


def test_composite_keys_need_both_parts() -> None:
    tables = TableEngine(clock=lambda: 0)
    tables.create_table(
        {
            "TableName": "Pairs",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "B"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
    )
    item = {"pk": {"S": "p"}, "sk": {"B": "AQID"}, "v": {"N": "1"}}
    tables.put_item({"TableName": "Pairs", "Item": item})
    assert tables.get_item(
        {"TableName": "Pairs", "Key": {"pk": {"S": "p"}, "sk": {"B": b"\x01\x02\x03"}}}
    ) == {"Item": item}
    error = failure(tables.get_item, {"TableName": "Pairs", "Key": {"pk": {"S": "p"}}})
    assert error.message == "The provided key element does not match the schema"
    error = failure(tables.put_item, {"TableName": "Pairs", "Item": {"pk": {"S": "p"}}})
    assert (
        error.message == "One or more parameter values were invalid: Missing the key sk in the item"
    )
    error = failure(
        tables.put_item, {"TableName": "Pairs", "Item": {"pk": {"S": "p"}, "sk": {"B": ""}}}
    )
    assert error.message.endswith("cannot contain an empty binary value. Key: sk")
    error = failure(
        tables.put_item,
        {"TableName": "Pairs", "Item": {"pk": {"S": "p"}, "sk": {"B": b"x" * 1025}}},
    )
    assert error.message == (
        "One or more parameter values were invalid: Aggregated size of all range keys has "
        "exceeded the size limit of 1024 bytes"
    )
