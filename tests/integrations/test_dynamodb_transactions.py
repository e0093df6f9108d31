"""TransactWriteItems, and the idempotent-workflow seed's use of DynamoDB as a semaphore.

Sources: API Reference, "TransactWriteItems" (ConditionCheck/Put/Update/Delete, at most
100 actions, one operation per item, all-or-nothing) and "CancellationReason"; the
cancellation message and reason shapes as DynamoDB returns them (quoted in public SDK issue
threads: "Transaction cancelled, please refer cancellation reasons for specific reasons
[None, ConditionalCheckFailed]"). The seed is aws-samples' idempotent-workflow-sam
(statemachine.asl.json and template.yaml): a table keyed by ``id`` with TTL on ``ttl``, a
transactWriteItems Update guarded by ``attribute_not_exists(#s) or #s = :failed``, a
GetItem with ``ProjectionExpression: executionstatus,executionresult``, and UpdateItems
that record SUCCEEDED or FAILED."""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.integrations.dynamodb import DynamoDBError, TableEngine

NOW = 1_700_000_000


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


def engine(clock: Clock | None = None) -> TableEngine:
    tables = TableEngine(clock=clock or Clock())
    for name in ("Accounts", "Ledger"):
        tables.create_table(
            {
                "TableName": name,
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
            }
        )
    tables.put_item(
        {"TableName": "Accounts", "Item": {"id": {"S": "alice"}, "balance": {"N": "100"}}}
    )
    tables.put_item({"TableName": "Accounts", "Item": {"id": {"S": "bob"}, "balance": {"N": "5"}}})
    return tables


def item(tables: TableEngine, table: str, key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = tables.get_item(
        {"TableName": table, "Key": {"id": {"S": key}}}
    ).get("Item")
    return found


def debit(account: str, amount: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": "Accounts",
            "Key": {"id": {"S": account}},
            "UpdateExpression": "SET balance = balance - :amount",
            "ConditionExpression": "balance >= :amount",
            "ExpressionAttributeValues": {":amount": {"N": amount}},
        }
    }


def transfer(tables: TableEngine, *actions: dict[str, Any]) -> dict[str, Any]:
    return tables.transact_write_items({"TransactItems": list(actions)})


def test_all_actions_apply_together() -> None:
    tables = engine()
    response = transfer(
        tables,
        debit("alice", "30"),
        {"Put": {"TableName": "Ledger", "Item": {"id": {"S": "t1"}, "amount": {"N": "30"}}}},
        {"Delete": {"TableName": "Accounts", "Key": {"id": {"S": "bob"}}}},
        {
            "ConditionCheck": {
                "TableName": "Ledger",
                "Key": {"id": {"S": "t0"}},
                "ConditionExpression": "attribute_not_exists(id)",
            }
        },
    )
    assert response == {}
    assert item(tables, "Accounts", "alice") == {"id": {"S": "alice"}, "balance": {"N": "70"}}
    assert item(tables, "Ledger", "t1") == {"id": {"S": "t1"}, "amount": {"N": "30"}}
    assert item(tables, "Accounts", "bob") is None


def test_one_failed_condition_cancels_everything_with_reasons_in_order() -> None:
    tables = engine()
    with pytest.raises(DynamoDBError) as caught:
        transfer(
            tables,
            {"Put": {"TableName": "Ledger", "Item": {"id": {"S": "t1"}}}},
            debit("bob", "30"),
        )
    error = caught.value
    assert error.code == "TransactionCanceledException"
    assert error.message == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed]"
    )
    assert error.cancellation_reasons == [
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
    ]
    assert error.response()["CancellationReasons"] == error.cancellation_reasons
    assert item(tables, "Ledger", "t1") is None
    assert item(tables, "Accounts", "bob") == {"id": {"S": "bob"}, "balance": {"N": "5"}}


def test_a_cancellation_can_return_the_item_that_failed_its_condition() -> None:
    tables = engine()
    action = debit("bob", "30")
    action["Update"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    with pytest.raises(DynamoDBError) as caught:
        transfer(tables, action)
    assert caught.value.cancellation_reasons == [
        {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": {"id": {"S": "bob"}, "balance": {"N": "5"}},
        }
    ]


def test_an_invalid_write_cancels_with_a_validation_error_reason() -> None:
    tables = engine()
    bad = {
        "Update": {
            "TableName": "Accounts",
            "Key": {"id": {"S": "alice"}},
            "UpdateExpression": "SET balance = id + :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    with pytest.raises(DynamoDBError) as caught:
        transfer(tables, bad)
    assert caught.value.cancellation_reasons == [
        {
            "Code": "ValidationError",
            "Message": "An operand in the update expression has an incorrect data type",
        }
    ]
    assert item(tables, "Accounts", "alice") == {"id": {"S": "alice"}, "balance": {"N": "100"}}


TRANSACTION_ERRORS: list[tuple[Any, str, str]] = [
    (
        [],
        "ValidationException",
        "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1",
    ),
    (
        [debit("alice", "1")] * 101,
        "ValidationException",
        "Member must have length less than or equal to 100",
    ),
    (
        None,
        "ValidationException",
        "1 validation error detected: Value null at 'transactItems' failed to satisfy "
        "constraint: Member must not be null",
    ),
    (
        [debit("alice", "1"), debit("alice", "2")],
        "ValidationException",
        "Transaction request cannot include multiple operations on one item",
    ),
    (
        [{**debit("alice", "1"), "Delete": {"TableName": "Accounts", "Key": {"id": {"S": "x"}}}}],
        "ValidationException",
        "TransactItems can only contain one of Check, Put, Update or Delete",
    ),
    (
        [{}],
        "ValidationException",
        "TransactItems can only contain one of Check, Put, Update or Delete",
    ),
    (
        [{"ConditionCheck": {"TableName": "Accounts", "Key": {"id": {"S": "alice"}}}}],
        "ValidationException",
        "1 validation error detected: Value null at "
        "'transactItems.1.member.conditionCheck.conditionExpression' failed to satisfy "
        "constraint: Member must not be null",
    ),
    (
        [{"Update": {"TableName": "Accounts", "Key": {"id": {"S": "alice"}}}}],
        "ValidationException",
        "1 validation error detected: Value null at "
        "'transactItems.1.member.update.updateExpression' failed to satisfy constraint: "
        "Member must not be null",
    ),
    (
        [{"Put": {"TableName": "Accounts"}}],
        "ValidationException",
        "1 validation error detected: Value null at 'transactItems.1.member.put.item' failed "
        "to satisfy constraint: Member must not be null",
    ),
    (
        [{"Put": {"TableName": "Accounts", "Item": {"other": {"S": "x"}}}}],
        "ValidationException",
        "One or more parameter values were invalid: Missing the key id in the item",
    ),
    (
        [{"Delete": {"TableName": "Nowhere", "Key": {"id": {"S": "x"}}}}],
        "ResourceNotFoundException",
        "Requested resource not found",
    ),
    (
        [{"Delete": {"TableName": "Accounts", "Key": {"id": {"N": "1"}}}}],
        "ValidationException",
        "The provided key element does not match the schema",
    ),
    (
        [
            {
                "Update": {
                    "TableName": "Accounts",
                    "Key": {"id": {"S": "alice"}},
                    "UpdateExpression": "SET id = :x",
                    "ExpressionAttributeValues": {":x": {"S": "y"}},
                }
            }
        ],
        "ValidationException",
        "One or more parameter values were invalid: Cannot update attribute id. This attribute "
        "is part of the key",
    ),
    (
        [
            {
                "Put": {
                    "TableName": "Accounts",
                    "Item": {"id": {"S": "x"}},
                    "ConditionExpression": "attribute_not_exists(id)",
                    "ExpressionAttributeValues": {":unused": {"S": "x"}},
                }
            }
        ],
        "ValidationException",
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
    ),
    ("not a list", "SerializationException", "STRING_VALUE cannot be converted to List"),
]


@pytest.mark.parametrize(("entries", "code", "message"), TRANSACTION_ERRORS)
def test_transaction_errors(entries: Any, code: str, message: str) -> None:
    tables = engine()
    request = {} if entries is None else {"TransactItems": entries}
    with pytest.raises(DynamoDBError) as caught:
        tables.transact_write_items(request)
    assert caught.value.code == code
    assert message in caught.value.message
    assert item(tables, "Accounts", "alice") == {"id": {"S": "alice"}, "balance": {"N": "100"}}


# --- the idempotent-workflow seed ---------------------------------------------------------

TABLE = "IdempotencyTable"
KEY = {"id": {"S": "8d7e1c0f"}}


def seed_engine(clock: Clock) -> TableEngine:
    """The table of the seed's template.yaml: key ``id`` (S), on-demand, TTL on ``ttl``."""
    tables = TableEngine(clock=clock)
    tables.call(
        "createTable",
        {
            "TableName": TABLE,
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    tables.call(
        "updateTimeToLive",
        {"TableName": TABLE, "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True}},
    )
    return tables


def lock(execution: str, ttl: int) -> dict[str, Any]:
    """The seed's "Create and lock idempotency record" Parameters, after path substitution."""
    return {
        "TransactItems": [
            {
                "Update": {
                    "ConditionExpression": "attribute_not_exists(#s) or #s = :failed",
                    "ExpressionAttributeNames": {
                        "#s": "executionstatus",
                        "#e": "execution",
                        "#st": "starttime",
                        "#ttl": "ttl",
                    },
                    "ExpressionAttributeValues": {
                        ":failed": {"S": "FAILED"},
                        ":inprogress": {"S": "IN_PROGRESS"},
                        ":e": {"S": execution},
                        ":st": {"S": "2024-01-01T00:00:00Z"},
                        ":ttl": {"N": str(ttl)},
                    },
                    "Key": KEY,
                    "UpdateExpression": "set #s = :inprogress, #e = :e, #st = :st, #ttl = :ttl",
                    "TableName": TABLE,
                }
            }
        ]
    }


def record(status: str, result: str) -> dict[str, Any]:
    """The seed's "Save execution results" / "Save failure" UpdateItem Parameters."""
    return {
        "Key": KEY,
        "TableName": TABLE,
        "ExpressionAttributeNames": {"#s": "executionstatus", "#r": "executionresult"},
        "ExpressionAttributeValues": {":s": {"S": status}, ":r": {"S": result}},
        "UpdateExpression": "SET #s = :s, #r = :r",
    }


READ = {
    "Key": KEY,
    "TableName": TABLE,
    "ConsistentRead": False,
    "ProjectionExpression": "executionstatus,executionresult",
}
DAY = 24 * 60 * 60


def test_seed_lock_is_taken_once_and_a_second_run_reads_the_stored_result() -> None:
    clock = Clock()
    tables = seed_engine(clock)
    assert tables.call("transactWriteItems", lock("exec-1", NOW + DAY)) == {}
    with pytest.raises(DynamoDBError) as caught:  # a concurrent run finds IN_PROGRESS
        tables.call("transactWriteItems", lock("exec-2", NOW + DAY))
    assert caught.value.code == "TransactionCanceledException"
    assert tables.call("getItem", READ) == {"Item": {"executionstatus": {"S": "IN_PROGRESS"}}}
    assert tables.call("updateItem", record("SUCCEEDED", '{"step1":"ok"}')) == {}
    with pytest.raises(DynamoDBError, match="TransactionCanceledException"):
        tables.call("transactWriteItems", lock("exec-3", NOW + DAY))
    assert tables.call("getItem", READ) == {
        "Item": {"executionstatus": {"S": "SUCCEEDED"}, "executionresult": {"S": '{"step1":"ok"}'}}
    }
    stored = tables.call("getItem", {"TableName": TABLE, "Key": KEY})["Item"]
    assert stored["execution"] == {"S": "exec-1"}
    assert stored["ttl"] == {"N": str(NOW + DAY)}


def test_seed_lock_can_be_retaken_after_a_failure() -> None:
    tables = seed_engine(Clock())
    tables.call("transactWriteItems", lock("exec-1", NOW + DAY))
    tables.call("updateItem", record("FAILED", '{"Error":"boom"}'))
    assert tables.call("transactWriteItems", lock("exec-2", NOW + DAY)) == {}
    stored = tables.call("getItem", {"TableName": TABLE, "Key": KEY})["Item"]
    assert stored["executionstatus"] == {"S": "IN_PROGRESS"}
    assert stored["execution"] == {"S": "exec-2"}


def test_seed_record_expires_after_its_ttl_and_the_lock_is_free_again() -> None:
    clock = Clock()
    tables = seed_engine(clock)
    tables.call("transactWriteItems", lock("exec-1", NOW + DAY))
    tables.call("updateItem", record("SUCCEEDED", "{}"))
    clock.now = NOW + DAY + 1
    assert tables.call("getItem", READ) == {}
    assert tables.call("transactWriteItems", lock("exec-2", clock.now + DAY)) == {}


def test_semaphore_with_conditional_put_and_status_update_with_ttl() -> None:
    """The pattern as the brief states it: PutItem guarded by attribute_not_exists, then an
    UpdateItem that sets SUCCESS and a TTL."""
    clock = Clock()
    tables = seed_engine(clock)
    acquire = {
        "TableName": TABLE,
        "Item": {**KEY, "executionstatus": {"S": "IN_PROGRESS"}},
        "ConditionExpression": "attribute_not_exists(id)",
    }
    assert tables.call("putItem", acquire) == {}
    with pytest.raises(DynamoDBError) as caught:
        tables.call("putItem", acquire)
    assert (caught.value.code, caught.value.message) == (
        "ConditionalCheckFailedException",
        "The conditional request failed",
    )
    finished = tables.call(
        "updateItem",
        {
            "TableName": TABLE,
            "Key": KEY,
            "UpdateExpression": "SET #s = :done, #ttl = :expires",
            "ConditionExpression": "#s = :running",
            "ExpressionAttributeNames": {"#s": "executionstatus", "#ttl": "ttl"},
            "ExpressionAttributeValues": {
                ":done": {"S": "SUCCESS"},
                ":running": {"S": "IN_PROGRESS"},
                ":expires": {"N": str(NOW + 60)},
            },
            "ReturnValues": "ALL_NEW",
        },
    )
    assert finished == {
        "Attributes": {**KEY, "executionstatus": {"S": "SUCCESS"}, "ttl": {"N": str(NOW + 60)}}
    }
    clock.now = NOW + 61
    assert tables.call("putItem", acquire) == {}  # the expired record no longer blocks
