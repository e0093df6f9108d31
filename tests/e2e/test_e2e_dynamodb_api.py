"""End to end: the DynamoDB API (JSON 1.0, ``DynamoDB_20120810.*``) on Stepwell's endpoint,
driven with boto3 and the AWS CLI against a real server on SQLite, on the same tables the
``dynamodb:*`` Task integrations use (issue 11)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import ROLE, aws_cli, client, running_host, service_client, wait_until_done

KEYS = {
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("dynamodb")
    with running_host(folder, {}) as (url, _):
        yield url, folder


@pytest.fixture(scope="module")
def ddb(server: tuple[str, Path]) -> Any:
    return service_client(server[0], "dynamodb")


@pytest.fixture(scope="module")
def orders(ddb: Any) -> str:
    ddb.create_table(TableName="orders", **KEYS)
    for n in range(1, 8):
        item = {"pk": {"S": "c1"}, "sk": {"N": str(n)}, "total": {"N": str(n * 10)}}
        ddb.put_item(TableName="orders", Item={**item, "note": {"S": f"order {n}"}})
    ddb.put_item(TableName="orders", Item={"pk": {"S": "c2"}, "sk": {"N": "1"}})
    return "orders"


def test_table_lifecycle_update_table_and_ttl(ddb: Any) -> None:
    created = ddb.create_table(TableName="lifecycle", **KEYS)["TableDescription"]
    assert created["TableStatus"] == "ACTIVE"
    assert "lifecycle" in ddb.list_tables()["TableNames"]
    with pytest.raises(ddb.exceptions.ResourceInUseException):
        ddb.create_table(TableName="lifecycle", **KEYS)
    updated = ddb.update_table(
        TableName="lifecycle",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
    )["TableDescription"]
    assert updated["ProvisionedThroughput"]["WriteCapacityUnits"] == 7
    described = ddb.describe_table(TableName="lifecycle")["Table"]
    assert described["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert "BillingModeSummary" not in described
    ddb.update_time_to_live(
        TableName="lifecycle",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )
    ttl = ddb.describe_time_to_live(TableName="lifecycle")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    ddb.delete_table(TableName="lifecycle")
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.describe_table(TableName="lifecycle")


def test_update_table_refuses_what_it_cannot_change(ddb: Any) -> None:
    ddb.create_table(TableName="streams", **KEYS)
    with pytest.raises(ddb.exceptions.ClientError, match="StreamSpecification"):
        ddb.update_table(TableName="streams", StreamSpecification={"StreamEnabled": False})


def test_item_round_trip_with_conditions_and_updates(ddb: Any, orders: str) -> None:
    key = {"pk": {"S": "c9"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=orders, Item={**key, "data": {"B": b"\x00\xff"}, "n": {"N": "1"}})
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=orders, Item=key, ConditionExpression="attribute_not_exists(pk)")
    updated = ddb.update_item(
        TableName=orders,
        Key=key,
        UpdateExpression="SET n = n + :one, tags = :tags",
        ExpressionAttributeValues={":one": {"N": "1"}, ":tags": {"SS": ["a", "b"]}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert updated["n"] == {"N": "2"} and updated["data"] == {"B": b"\x00\xff"}
    got = ddb.get_item(TableName=orders, Key=key, ProjectionExpression="n")["Item"]
    assert got == {"n": {"N": "2"}}
    old = ddb.delete_item(TableName=orders, Key=key, ReturnValues="ALL_OLD")["Attributes"]
    assert old["tags"] == {"SS": ["a", "b"]}
    assert "Item" not in ddb.get_item(TableName=orders, Key=key)


def test_query_with_filter_projection_and_pages(ddb: Any, orders: str) -> None:
    pages = ddb.get_paginator("query").paginate(
        TableName=orders,
        KeyConditionExpression="pk = :c AND sk >= :two",
        FilterExpression="#t > :twenty",
        ProjectionExpression="sk, #t",
        ExpressionAttributeNames={"#t": "total"},
        ExpressionAttributeValues={
            ":c": {"S": "c1"},
            ":two": {"N": "2"},
            ":twenty": {"N": "20"},
        },
        PaginationConfig={"PageSize": 2},
    )
    results = list(pages)
    assert len(results) > 1  # Limit 2 with LastEvaluatedKey/ExclusiveStartKey in between
    items = [item for page in results for item in page["Items"]]
    assert [item["sk"]["N"] for item in items] == ["3", "4", "5", "6", "7"]
    assert all(set(item) == {"sk", "total"} for item in items)


def test_scan_counts_and_paginates(ddb: Any, orders: str) -> None:
    first = ddb.scan(TableName=orders, Limit=3)
    assert first["Count"] == 3 and "LastEvaluatedKey" in first
    rest = ddb.scan(TableName=orders, ExclusiveStartKey=first["LastEvaluatedKey"])
    seen = {(i["pk"]["S"], i["sk"]["N"]) for i in first["Items"] + rest["Items"]}
    assert ("c2", "1") in seen and ("c1", "7") in seen
    counted = ddb.scan(
        TableName=orders,
        Select="COUNT",
        FilterExpression="attribute_exists(note)",
    )
    assert counted["Count"] == 7 and "Items" not in counted


def test_batch_get_and_write(ddb: Any) -> None:
    ddb.create_table(TableName="batches", **KEYS)
    puts = [
        {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(n)}, "v": {"S": "x"}}}}
        for n in range(5)
    ]
    assert ddb.batch_write_item(RequestItems={"batches": puts})["UnprocessedItems"] == {}
    ddb.batch_write_item(
        RequestItems={"batches": [{"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"N": "0"}}}}]}
    )
    keys = [{"pk": {"S": "b"}, "sk": {"N": str(n)}} for n in range(3)]
    got = ddb.batch_get_item(RequestItems={"batches": {"Keys": keys, "ProjectionExpression": "sk"}})
    assert sorted(i["sk"]["N"] for i in got["Responses"]["batches"]) == ["1", "2"]
    assert got["UnprocessedKeys"] == {}
    with pytest.raises(ddb.exceptions.ClientError, match="duplicates"):
        ddb.batch_get_item(RequestItems={"batches": {"Keys": [keys[0], keys[0]]}})
    too_many = [
        {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(n)}}}} for n in range(26)
    ]
    with pytest.raises(ddb.exceptions.ClientError, match="less than or equal to 25"):
        ddb.batch_write_item(RequestItems={"batches": too_many})


def test_transactions_write_get_and_cancel(ddb: Any) -> None:
    ddb.create_table(TableName="ledger", **KEYS)
    item = {"pk": {"S": "lock"}, "sk": {"N": "1"}, "status": {"S": "IN_PROGRESS"}}
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "ledger", "Item": item}}])
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as caught:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": "ledger",
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            ]
        )
    reasons = caught.value.response["CancellationReasons"]
    assert reasons == [
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
    ]
    got = ddb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": "ledger", "Key": {"pk": {"S": "lock"}, "sk": {"N": "1"}}}},
            {"Get": {"TableName": "ledger", "Key": {"pk": {"S": "none"}, "sk": {"N": "1"}}}},
        ]
    )["Responses"]
    assert got[0]["Item"]["status"] == {"S": "IN_PROGRESS"} and got[1] == {}


def test_errors_carry_the_dynamodb_namespace(server: tuple[str, Path]) -> None:
    response = httpx.post(
        server[0],
        headers={
            "X-Amz-Target": "DynamoDB_20120810.DescribeTable",
            "Content-Type": "application/x-amz-json-1.0",
        },
        content=json.dumps({"TableName": "missing-table"}),
    )
    assert response.status_code == 400
    assert response.json()["__type"] == (
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    )
    assert "missing-table" in response.json()["message"]


def test_validation_against_the_model(ddb: Any) -> None:
    with pytest.raises(ddb.exceptions.ClientError) as caught:
        ddb.get_item(TableName="ab", Key={"pk": {"S": "x"}})
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "Member must have length greater than or equal to 3" in error["Message"]


def test_unknown_dynamodb_operation(server: tuple[str, Path]) -> None:
    response = httpx.post(
        server[0],
        headers={
            "X-Amz-Target": "DynamoDB_20120810.CreateBackup",
            "Content-Type": "application/x-amz-json-1.0",
        },
        content=json.dumps({"TableName": "orders", "BackupName": "nightly"}),
    )
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#UnknownOperationException")


def test_a_table_created_through_the_api_is_the_one_a_put_item_task_writes(
    server: tuple[str, Path], ddb: Any
) -> None:
    ddb.create_table(TableName="idempotency", **KEYS)
    definition = {
        "StartAt": "Store",
        "States": {
            "Store": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {
                    "TableName": "idempotency",
                    "Item": {"pk": {"S.$": "$.id"}, "sk": {"N": "1"}, "status": {"S": "SUCCESS"}},
                },
                "End": True,
            }
        },
    }
    sfn = client(server[0])
    arn = sfn.create_state_machine(
        name="store-result", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"id": "run-1"}))
    assert wait_until_done(sfn, execution["executionArn"])["status"] == "SUCCEEDED"
    item = ddb.get_item(TableName="idempotency", Key={"pk": {"S": "run-1"}, "sk": {"N": "1"}})
    assert item["Item"]["status"] == {"S": "SUCCESS"}


def test_aws_cli_round_trip(server: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = server
    created = aws_cli(
        url, tmp_path, "dynamodb", "create-table", "--table-name", "cli-table",
        "--attribute-definitions", "AttributeName=id,AttributeType=S",
        "--key-schema", "AttributeName=id,KeyType=HASH",
        "--billing-mode", "PAY_PER_REQUEST",
    )  # fmt: skip
    assert created["TableDescription"]["TableName"] == "cli-table"
    aws_cli(
        url, tmp_path, "dynamodb", "put-item", "--table-name", "cli-table",
        "--item", json.dumps({"id": {"S": "1"}, "status": {"S": "SUCCESS"}}),
    )  # fmt: skip
    scanned = aws_cli(url, tmp_path, "dynamodb", "scan", "--table-name", "cli-table")
    assert scanned["Items"] == [{"id": {"S": "1"}, "status": {"S": "SUCCESS"}}]
