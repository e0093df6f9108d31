"""Tables and Time to Live of the embedded DynamoDB. Sources: API Reference, "CreateTable",
"DescribeTable", "DeleteTable", "ListTables", "TableDescription", "UpdateTimeToLive",
"DescribeTimeToLive"; Developer Guide, "How it works: DynamoDB Time to Live" (a Number of
epoch seconds less than now is expired; values five years or more in the past are
ignored; expired items may be deleted any time after expiry) and "Supported data types
and naming rules" (table names)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from stepwell.integrations.dynamodb import OPERATIONS, DynamoDBError, MemoryItemStore, TableEngine

NOW = 1_700_000_000
KEY_SCHEMA = [{"AttributeName": "id", "KeyType": "HASH"}]
DEFINITIONS = [{"AttributeName": "id", "AttributeType": "S"}]


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def create(tables: TableEngine, name: str = "Things", **extra: Any) -> dict[str, Any]:
    request = {
        "TableName": name,
        "KeySchema": KEY_SCHEMA,
        "AttributeDefinitions": DEFINITIONS,
        "BillingMode": "PAY_PER_REQUEST",
        **extra,
    }
    return tables.create_table(request)


def failure(action: Any, request: Any) -> DynamoDBError:
    with pytest.raises(DynamoDBError) as caught:
        action(request)
    return caught.value


def test_create_returns_the_table_description() -> None:
    description = create(TableEngine(clock=Clock()))["TableDescription"]
    assert description == {
        "AttributeDefinitions": DEFINITIONS,
        "TableName": "Things",
        "KeySchema": KEY_SCHEMA,
        "TableStatus": "ACTIVE",
        "CreationDateTime": NOW,
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": 0,
            "WriteCapacityUnits": 0,
        },
        "TableSizeBytes": 0,
        "ItemCount": 0,
        "TableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Things",
        "TableId": description["TableId"],
        "DeletionProtectionEnabled": False,
        "BillingModeSummary": {
            "BillingMode": "PAY_PER_REQUEST",
            "LastUpdateToPayPerRequestDateTime": NOW,
        },
    }
    assert len(description["TableId"]) == 36


def test_provisioned_tables_report_their_throughput() -> None:
    tables = TableEngine(clock=Clock(), region="eu-west-1", account="111122223333")
    description = tables.create_table(
        {
            "TableName": "Pairs",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "pk", "AttributeType": "B"},
            ],
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
        }
    )["TableDescription"]
    assert description["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert description["ProvisionedThroughput"]["WriteCapacityUnits"] == 7
    assert "BillingModeSummary" not in description
    assert description["KeySchema"][1] == {"AttributeName": "sk", "KeyType": "RANGE"}
    assert description["TableArn"] == "arn:aws:dynamodb:eu-west-1:111122223333:table/Pairs"


def test_describe_counts_items_and_bytes() -> None:
    tables = TableEngine(clock=Clock())
    create(tables)
    tables.put_item({"TableName": "Things", "Item": {"id": {"S": "a"}, "v": {"S": "xyz"}}})
    table = tables.describe_table({"TableName": "Things"})["Table"]
    assert (table["ItemCount"], table["TableSizeBytes"]) == (1, 2 + 1 + 1 + 3)
    assert table["TableStatus"] == "ACTIVE"


def test_delete_table_returns_a_deleting_description_and_forgets_the_items() -> None:
    tables = TableEngine(clock=Clock())
    create(tables)
    tables.put_item({"TableName": "Things", "Item": {"id": {"S": "a"}}})
    description = tables.delete_table({"TableName": "Things"})["TableDescription"]
    assert (description["TableStatus"], description["ItemCount"]) == ("DELETING", 1)
    error = failure(tables.describe_table, {"TableName": "Things"})
    assert (error.code, error.message) == (
        "ResourceNotFoundException",
        "Requested resource not found: Table: Things not found",
    )
    create(tables)  # the name is free again, and the new table is empty
    assert tables.get_item({"TableName": "Things", "Key": {"id": {"S": "a"}}}) == {}


def test_tables_with_deletion_protection_cannot_be_deleted() -> None:
    tables = TableEngine(clock=Clock())
    create(tables, DeletionProtectionEnabled=True)
    error = failure(tables.delete_table, {"TableName": "Things"})
    assert error.message == (
        "Resource cannot be deleted as it is currently protected against deletion. "
        "Disable deletion protection first."
    )


def test_creating_an_existing_table_is_resource_in_use() -> None:
    tables = TableEngine(clock=Clock())
    create(tables)
    with pytest.raises(DynamoDBError) as caught:
        create(tables)
    assert (caught.value.code, caught.value.message) == (
        "ResourceInUseException",
        "Table already exists: Things",
    )


def test_table_operations_on_unknown_tables_name_the_table() -> None:
    tables = TableEngine(clock=Clock())
    for action in (tables.describe_table, tables.delete_table, tables.describe_time_to_live):
        error = failure(action, {"TableName": "Nope"})
        assert error.message == "Requested resource not found: Table: Nope not found"
    error = failure(
        tables.update_time_to_live,
        {"TableName": "Nope", "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True}},
    )
    assert error.code == "ResourceNotFoundException"


def test_list_tables_pages_through_names_in_order() -> None:
    tables = TableEngine(clock=Clock())
    for name in ("ccc", "aaa", "bbb"):
        create(tables, name)
    assert tables.list_tables({}) == {"TableNames": ["aaa", "bbb", "ccc"]}
    first = tables.list_tables({"Limit": 2})
    assert first == {"TableNames": ["aaa", "bbb"], "LastEvaluatedTableName": "bbb"}
    second = tables.list_tables({"Limit": 2, "ExclusiveStartTableName": "bbb"})
    assert second == {"TableNames": ["ccc"]}
    error = failure(tables.list_tables, {"Limit": 101})
    assert error.message == (
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 100"
    )
    assert failure(tables.list_tables, {"Limit": "2"}).code == "SerializationException"


CREATE_ERRORS: list[tuple[dict[str, Any], str]] = [
    (
        {"KeySchema": None},
        "1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: "
        "Member must not be null",
    ),
    (
        {"KeySchema": [], "AttributeDefinitions": None},
        "2 validation errors detected: Value null at 'attributeDefinitions' failed to satisfy "
        "constraint: Member must not be null; Value '[]' at 'keySchema' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1",
    ),
    (
        {"KeySchema": KEY_SCHEMA * 3},
        "1 validation error detected: Value '[{'AttributeName': 'id', 'KeyType': 'HASH'}, "
        "{'AttributeName': 'id', 'KeyType': 'HASH'}, {'AttributeName': 'id', 'KeyType': "
        "'HASH'}]' at 'keySchema' failed to satisfy constraint: Member must have length less "
        "than or equal to 2",
    ),
    (
        {"KeySchema": [{"AttributeName": "id", "KeyType": "RANGE"}]},
        "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
    ),
    (
        {"KeySchema": KEY_SCHEMA * 2},
        "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
    ),
    (
        {"KeySchema": [*KEY_SCHEMA, {"AttributeName": "id", "KeyType": "RANGE"}]},
        "Both the Hash Key and the Range Key element in the KeySchema have the same name",
    ),
    (
        {"KeySchema": [{"AttributeName": "id", "KeyType": "PRIMARY"}]},
        "1 validation error detected: Value 'PRIMARY' at 'keySchema.1.member.keyType' failed to "
        "satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]",
    ),
    (
        {"KeySchema": [{"AttributeName": "id"}]},
        "1 validation error detected: Value null at 'keySchema.1.member.keyType' failed to "
        "satisfy constraint: Member must not be null",
    ),
    (
        {"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "BOOL"}]},
        "1 validation error detected: Value 'BOOL' at "
        "'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [B, N, S]",
    ),
    (
        {"AttributeDefinitions": [{"AttributeName": "id"}]},
        "1 validation error detected: Value null at 'attributeDefinitions.1.member.attributeType' "
        "failed to satisfy constraint: Member must not be null",
    ),
    (
        {"AttributeDefinitions": [{"AttributeName": "other", "AttributeType": "S"}]},
        "One or more parameter values were invalid: Some index key attributes are not defined "
        "in AttributeDefinitions. Keys: [id], AttributeDefinitions: [other]",
    ),
    (
        {"AttributeDefinitions": [*DEFINITIONS, {"AttributeName": "x", "AttributeType": "N"}]},
        "One or more parameter values were invalid: Number of attributes in KeySchema does not "
        "exactly match number of attributes defined in AttributeDefinitions",
    ),
    (
        {"BillingMode": "PROVISIONED"},
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
        "must both be specified when BillingMode is PROVISIONED",
    ),
    (
        {"ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}},
        "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
        "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
    ),
    (
        {"BillingMode": None, "ProvisionedThroughput": {"ReadCapacityUnits": 0}},
        "2 validation errors detected: Value '0' at 'provisionedThroughput.readCapacityUnits' "
        "failed to satisfy constraint: Member must have value greater than or equal to 1; "
        "Value null at 'provisionedThroughput.writeCapacityUnits' failed to satisfy "
        "constraint: Member must not be null",
    ),
    (
        {"BillingMode": "ON_DEMAND"},
        "1 validation error detected: Value 'ON_DEMAND' at 'billingMode' failed to satisfy "
        "constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
    ),
    (
        {"GlobalSecondaryIndexes": [{"IndexName": "ByX"}]},
        "GlobalSecondaryIndexes are not supported by Stepwell's embedded DynamoDB",
    ),
    (
        {"TableName": "no spaces"},
        "1 validation error detected: Value 'no spaces' at 'tableName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    ),
]


@pytest.mark.parametrize(("fields", "message"), CREATE_ERRORS)
def test_create_table_errors(fields: dict[str, Any], message: str) -> None:
    request = {
        "TableName": "Things",
        "KeySchema": KEY_SCHEMA,
        "AttributeDefinitions": DEFINITIONS,
        "BillingMode": "PAY_PER_REQUEST",
        **fields,
    }
    request = {k: v for k, v in request.items() if v is not None}
    error = failure(TableEngine(clock=Clock()).create_table, request)
    assert (error.code, error.message) == ("ValidationException", message)


def test_a_store_keeps_tables_and_items_for_the_next_engine() -> None:
    store = MemoryItemStore()
    first = TableEngine(store, clock=Clock())
    create(first)
    first.update_time_to_live(
        {
            "TableName": "Things",
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        }
    )
    first.put_item({"TableName": "Things", "Item": {"id": {"S": "a"}}})
    second = TableEngine(store, clock=Clock())
    assert second.get_item({"TableName": "Things", "Key": {"id": {"S": "a"}}}) == {
        "Item": {"id": {"S": "a"}}
    }
    assert second.describe_time_to_live({"TableName": "Things"})["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "ttl",
    }
    assert second.describe_table({"TableName": "Things"}) == first.describe_table(
        {"TableName": "Things"}
    )


def test_call_dispatches_by_api_or_resource_name() -> None:
    tables = TableEngine(clock=Clock())
    tables.call(
        "CreateTable",
        {
            "TableName": "Things",
            "KeySchema": KEY_SCHEMA,
            "AttributeDefinitions": DEFINITIONS,
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    assert tables.call("putItem", {"TableName": "Things", "Item": {"id": {"S": "a"}}}) == {}
    assert tables.call("getItem", {"TableName": "Things", "Key": {"id": {"S": "a"}}}) == {
        "Item": {"id": {"S": "a"}}
    }
    with pytest.raises(DynamoDBError) as caught:
        tables.call("restoreTableFromBackup", {})
    assert caught.value.code == "UnknownOperationException"
    assert set(OPERATIONS) >= {"PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan"}


# --- Time to Live -------------------------------------------------------------------------


def ttl_engine(clock: Clock) -> TableEngine:
    tables = TableEngine(clock=clock)
    create(tables)
    response = tables.update_time_to_live(
        {
            "TableName": "Things",
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        }
    )
    assert response == {"TimeToLiveSpecification": {"Enabled": True, "AttributeName": "ttl"}}
    return tables


def put(tables: TableEngine, key: str, ttl: Any) -> None:
    item = {"id": {"S": key}}
    if ttl is not None:
        item["ttl"] = ttl
    tables.put_item({"TableName": "Things", "Item": item})


def present(tables: TableEngine, key: str) -> bool:
    return "Item" in tables.get_item({"TableName": "Things", "Key": {"id": {"S": key}}})


EXPIRY: list[tuple[Any, bool]] = [
    ({"N": str(NOW - 1)}, True),
    ({"N": str(NOW - 0.5)}, True),
    ({"N": str(NOW)}, False),  # expired only when strictly earlier than now
    ({"N": str(NOW + 86_400)}, False),
    ({"N": str(NOW - 5 * 365 * 86_400)}, False),  # five years or more in the past: ignored
    ({"N": str(NOW - 5 * 365 * 86_400 + 1)}, True),
    ({"N": str(NOW * 1000)}, False),  # milliseconds: far future
    ({"S": str(NOW - 1)}, False),  # not a Number: ignored
    ({"NS": [str(NOW - 1)]}, False),
    (None, False),
]


@pytest.mark.parametrize(("ttl", "expired"), EXPIRY)
def test_items_past_their_ttl_are_gone(ttl: Any, expired: bool) -> None:
    tables = ttl_engine(Clock())
    put(tables, "a", ttl)
    assert present(tables, "a") is not expired


def test_expiry_follows_the_clock_and_hides_items_from_every_read() -> None:
    clock = Clock()
    tables = ttl_engine(clock)
    put(tables, "a", {"N": str(NOW + 60)})
    put(tables, "b", {"N": str(NOW + 3600)})
    assert present(tables, "a")
    clock.now = NOW + 61
    assert not present(tables, "a")
    scanned = tables.scan({"TableName": "Things"})
    assert [item["id"]["S"] for item in scanned["Items"]] == ["b"]
    assert scanned["ScannedCount"] == 1
    queried = tables.query(
        {
            "TableName": "Things",
            "KeyConditionExpression": "id = :a",
            "ExpressionAttributeValues": {":a": {"S": "a"}},
        }
    )
    assert queried["Items"] == []
    assert tables.describe_table({"TableName": "Things"})["Table"]["ItemCount"] == 1


def test_an_expired_item_no_longer_blocks_a_conditional_put() -> None:
    clock = Clock()
    tables = ttl_engine(clock)
    put(tables, "a", {"N": str(NOW + 60)})
    request = {
        "TableName": "Things",
        "Item": {"id": {"S": "a"}},
        "ConditionExpression": "attribute_not_exists(id)",
        "ReturnValues": "ALL_OLD",
    }
    with pytest.raises(DynamoDBError, match="ConditionalCheckFailedException"):
        tables.put_item(request)
    clock.now = NOW + 61
    assert tables.put_item(request) == {}


def test_purge_expired_removes_expired_items_everywhere() -> None:
    clock = Clock()
    tables = ttl_engine(clock)
    for key, offset in (("a", 10), ("b", 20), ("c", 1000)):
        put(tables, key, {"N": str(NOW + offset)})
    create(tables, "Other")
    clock.now = NOW + 30
    assert tables.purge_expired() == 2
    assert tables.purge_expired() == 0
    assert present(tables, "c")


def test_ttl_does_nothing_until_enabled_and_stops_when_disabled() -> None:
    clock = Clock()
    tables = TableEngine(clock=clock)
    create(tables)
    put(tables, "a", {"N": str(NOW - 1)})
    assert present(tables, "a")
    assert tables.describe_time_to_live({"TableName": "Things"}) == {
        "TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}
    }
    spec = {"AttributeName": "ttl", "Enabled": True}
    tables.update_time_to_live({"TableName": "Things", "TimeToLiveSpecification": spec})
    assert not present(tables, "a")
    put(tables, "b", {"N": str(NOW - 1)})
    disabled = tables.update_time_to_live(
        {"TableName": "Things", "TimeToLiveSpecification": {**spec, "Enabled": False}}
    )
    assert disabled == {"TimeToLiveSpecification": {"Enabled": False, "AttributeName": "ttl"}}
    assert present(tables, "b")


TTL_ERRORS: list[tuple[bool, dict[str, Any], str]] = [
    (True, {"AttributeName": "ttl", "Enabled": True}, "TimeToLive is already enabled"),
    (True, {"AttributeName": "other", "Enabled": True}, "TimeToLive is already enabled"),
    (False, {"AttributeName": "ttl", "Enabled": False}, "TimeToLive is already disabled"),
    (
        True,
        {"AttributeName": "other", "Enabled": False},
        "TimeToLive is active on a different AttributeName: current AttributeName is ttl",
    ),
    (
        False,
        {"Enabled": True},
        "1 validation error detected: Value null at 'timeToLiveSpecification.attributeName' "
        "failed to satisfy constraint: Member must not be null",
    ),
    (
        False,
        {"AttributeName": "", "Enabled": True},
        "1 validation error detected: Value '' at 'timeToLiveSpecification.attributeName' "
        "failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        False,
        {"AttributeName": "ttl"},
        "1 validation error detected: Value null at 'timeToLiveSpecification.enabled' failed "
        "to satisfy constraint: Member must not be null",
    ),
]


@pytest.mark.parametrize(("enabled", "spec", "message"), TTL_ERRORS)
def test_time_to_live_errors(enabled: bool, spec: dict[str, Any], message: str) -> None:
    tables = ttl_engine(Clock()) if enabled else TableEngine(clock=Clock())
    if not enabled:
        create(tables)
    error = failure(
        tables.update_time_to_live, {"TableName": "Things", "TimeToLiveSpecification": spec}
    )
    assert (error.code, error.message) == ("ValidationException", message)


def test_update_time_to_live_needs_a_specification() -> None:
    tables = TableEngine(clock=Clock())
    create(tables)
    error = failure(tables.update_time_to_live, {"TableName": "Things"})
    assert error.message == (
        "1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy "
        "constraint: Member must not be null"
    )


# --- concurrency --------------------------------------------------------------------------


def test_concurrent_conditional_puts_admit_exactly_one_writer() -> None:
    tables = TableEngine(clock=Clock())
    create(tables)
    winners: list[int] = []
    losers: list[int] = []
    start = threading.Barrier(16)

    def contend(number: int) -> None:
        start.wait()
        try:
            tables.put_item(
                {
                    "TableName": "Things",
                    "Item": {"id": {"S": "lock"}, "owner": {"N": str(number)}},
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            )
            winners.append(number)
        except DynamoDBError:
            losers.append(number)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(losers) == 15
    owner = tables.get_item({"TableName": "Things", "Key": {"id": {"S": "lock"}}})["Item"]["owner"]
    assert owner == {"N": str(winners[0])}


def test_concurrent_counters_lose_no_increment() -> None:
    tables = TableEngine(clock=Clock())
    create(tables)
    request = {
        "TableName": "Things",
        "Key": {"id": {"S": "counter"}},
        "UpdateExpression": "ADD hits :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    threads = [
        threading.Thread(target=lambda: [tables.update_item(request) for _ in range(50)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    item = tables.get_item({"TableName": "Things", "Key": {"id": {"S": "counter"}}})["Item"]
    assert item["hits"] == {"N": "400"}


def test_a_request_that_raced_a_delete_table_finds_no_table() -> None:
    tables = TableEngine(clock=Clock())
    create(tables)
    looked_up = tables.table("Things")
    tables.delete_table({"TableName": "Things"})
    with pytest.raises(DynamoDBError, match="ResourceNotFoundException"):
        looked_up.get({"id": {"S": "a"}}, tables.now())
    create(tables)
    tables.put_item({"TableName": "Things", "Item": {"id": {"S": "a"}}})
    with pytest.raises(DynamoDBError, match="ResourceNotFoundException"):
        looked_up.put({"id": {"S": "b"}})
    assert tables.scan({"TableName": "Things"})["Count"] == 1
