"""The embedded DynamoDB kept in a store's documents: durable, shared, atomic."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepwell.integrations.services import MemoryDocumentStore, ServiceError, Services
from stepwell.integrations.services.dynamodb import DocumentItemStore
from stepwell.store.base import Store
from stepwell.store.sqlite import open_sqlite

TABLE = {
    "TableName": "Idempotency",
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def clock() -> float:
    return 1_700_000_000.0


def lock(services: Services, owner: str) -> bool:
    try:
        services.dynamodb.put_item(
            TableName="Idempotency",
            Item={"id": {"S": "key"}, "owner": {"S": owner}},
            ConditionExpression="attribute_not_exists(id)",
        )
    except services.dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def test_tables_and_items_live_in_every_store(store: Store) -> None:
    services = Services(store, clock)
    services.dynamodb.create_table(**TABLE)
    assert lock(services, "a")
    again = Services(store, clock)  # another process would build its own
    assert not lock(again, "b")
    item = again.dynamodb.get_item(TableName="Idempotency", Key={"id": {"S": "key"}})["Item"]
    assert item == {"id": {"S": "key"}, "owner": {"S": "a"}}
    assert again.dynamodb.list_tables()["TableNames"] == ["Idempotency"]


def test_a_conditional_put_admits_exactly_one_of_many_threads(tmp_path: Path) -> None:
    path = str(tmp_path / "lock.db")
    open_sqlite(path).close()
    setup = open_sqlite(path)
    Services(setup, clock).dynamodb.create_table(**TABLE)
    winners: list[str] = []

    def contend(owner: str) -> None:
        store = open_sqlite(path)  # a connection of its own, as a separate worker has
        if lock(Services(store, clock), owner):
            winners.append(owner)
        store.close()

    threads = [threading.Thread(target=contend, args=(f"w{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    setup.close()
    assert len(winners) == 1


def test_partition_keys_never_shadow_each_other() -> None:
    store = MemoryDocumentStore()
    with store.documents("dynamodb") as documents:
        items = DocumentItemStore(documents)
        items.save_table("t", {"TableName": "t"})
        items.put("t", "S:a", "", {"id": {"S": "a"}})
        items.put("t", "S:a/b", "", {"id": {"S": "a/b"}})
        items.put("t", "S:a", "S:x/y", {"id": {"S": "a"}, "s": {"S": "x/y"}})
        assert len(items.partition("t", "S:a")) == 2
        assert items.partition("t", "S:a/b") == [{"id": {"S": "a/b"}}]
        assert len(items.scan("t")) == 3
        items.delete("t", "S:a/b", "")
        assert items.get("t", "S:a/b", "") is None
        items.drop_table("t")
        assert items.load_tables() == {}
        assert items.scan("t") == []


def test_errors_reach_python_as_client_errors_and_tasks_as_service_errors() -> None:
    services = Services(clock=clock)
    services.dynamodb.create_table(**TABLE)
    with pytest.raises(ClientError) as caught:
        services.dynamodb.create_table(**TABLE)
    assert caught.value.response["Error"]["Code"] == "ResourceInUseException"
    transaction: dict[str, Any] = {
        "TransactItems": [
            {
                "ConditionCheck": {
                    "TableName": "Idempotency",
                    "Key": {"id": {"S": "none"}},
                    "ConditionExpression": "attribute_exists(id)",
                }
            }
        ]
    }
    with pytest.raises(ServiceError) as failed:
        services.dynamodb.call("transactWriteItems", transaction)
    assert failed.value.exception == "TransactionCanceledException"
    assert failed.value.extra["CancellationReasons"][0]["Code"] == "ConditionalCheckFailed"
    with pytest.raises(ServiceError, match="does not implement CreateBackup"):
        services.dynamodb.call("CreateBackup", {})
    assert services.dynamodb.supports("putItem")
    assert not services.dynamodb.supports("createBackup")


def test_old_item_comes_back_on_a_failed_condition_when_asked() -> None:
    services = Services(clock=clock)
    services.dynamodb.create_table(**TABLE)
    lock(services, "a")
    with pytest.raises(ClientError) as caught:
        services.dynamodb.put_item(
            TableName="Idempotency",
            Item={"id": {"S": "key"}},
            ConditionExpression="attribute_not_exists(id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert caught.value.response["Error"]["Item"]["owner"] == {"S": "a"}


def test_memory_documents_roll_back_when_the_block_raises() -> None:
    store = MemoryDocumentStore()
    with store.documents("n") as documents:
        documents.put("a", b"1")
    with pytest.raises(RuntimeError), store.documents("n") as documents:
        documents.put("a", b"2")
        documents.put("b", b"3")
        raise RuntimeError("boom")
    with store.documents("n") as documents:
        assert documents.scan() == [("a", b"1")]
        documents.delete("a")
        assert documents.get("a") is None
        documents.put("c", b"4")
        assert documents.scan() == [("c", b"4")]
    with store.documents("n") as documents:
        assert documents.scan() == [("c", b"4")]
        assert documents.get("c") == b"4"
