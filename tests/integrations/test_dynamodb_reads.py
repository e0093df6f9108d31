"""Query and Scan of the embedded DynamoDB. Sources: API Reference, "Query" (key condition
rules, ScanIndexForward, Limit, Select, "results are always sorted by the sort key value",
numeric order for Number sort keys, FilterExpression may not use key attributes) and
"Scan" (Segment/TotalSegments); Developer Guide, "Paginating table query results"
(LastEvaluatedKey / ExclusiveStartKey, the 1 MB page, Count vs ScannedCount). Key-condition
error texts as DynamoDB reports them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from stepwell.integrations.dynamodb import DynamoDBError, TableEngine

SONGS = "Songs"
FILES = "Files"


def engine() -> TableEngine:
    tables = TableEngine(clock=lambda: 0)
    tables.create_table(
        {
            "TableName": SONGS,
            "KeySchema": [
                {"AttributeName": "Artist", "KeyType": "HASH"},
                {"AttributeName": "Track", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "Artist", "AttributeType": "S"},
                {"AttributeName": "Track", "AttributeType": "N"},
            ],
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        }
    )
    for artist, tracks in (("Acme", (1, 2, 10, 11, 20)), ("Band", (1, 2))):
        for track in tracks:
            item = {
                "Artist": {"S": artist},
                "Track": {"N": str(track)},
                "Plays": {"N": str(track * 100)},
                "Genre": {"S": "rock" if track % 2 else "jazz"},
            }
            tables.put_item({"TableName": SONGS, "Item": item})
    tables.create_table(
        {
            "TableName": FILES,
            "KeySchema": [
                {"AttributeName": "Dir", "KeyType": "HASH"},
                {"AttributeName": "FilePath", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "Dir", "AttributeType": "S"},
                {"AttributeName": "FilePath", "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
    )
    for path in ("a/1", "a/2", "b/1", "B/1", "ab"):
        tables.put_item(
            {"TableName": FILES, "Item": {"Dir": {"S": "root"}, "FilePath": {"S": path}}}
        )
    return tables


VALUES: dict[str, Any] = {
    ":acme": {"S": "Acme"},
    ":band": {"S": "Band"},
    ":nobody": {"S": "Nobody"},
    ":root": {"S": "root"},
    ":one": {"N": "1"},
    ":two": {"N": "2"},
    ":ten": {"N": "10"},
    ":eleven": {"N": "11"},
    ":rock": {"S": "rock"},
    ":a": {"S": "a"},
    ":a_slash": {"S": "a/"},
    ":b": {"S": "b"},
    ":big": {"N": "1000"},
}


def placeholders(*expressions: str | None) -> dict[str, Any]:
    found = re.findall(r":\w+", " ".join(e for e in expressions if e))
    return {key: VALUES[key] for key in found}


def query(tables: TableEngine, key_condition: str, **extra: Any) -> dict[str, Any]:
    values = placeholders(key_condition, extra.get("FilterExpression"))
    request: dict[str, Any] = {
        "TableName": extra.pop("TableName", SONGS),
        "KeyConditionExpression": key_condition,
        **extra,
    }
    if values:
        request["ExpressionAttributeValues"] = values
    return tables.query(request)


def tracks(response: dict[str, Any]) -> list[int]:
    return [int(item["Track"]["N"]) for item in response["Items"]]


def paths(response: dict[str, Any]) -> list[str]:
    return [item["FilePath"]["S"] for item in response["Items"]]


KEY_CONDITIONS: list[tuple[str, list[int]]] = [
    ("Artist = :acme", [1, 2, 10, 11, 20]),  # numeric order, not string order
    ("Artist = :band", [1, 2]),
    ("Artist = :nobody", []),
    (":acme = Artist", [1, 2, 10, 11, 20]),
    ("Artist = :acme AND Track = :ten", [10]),
    ("Artist = :acme AND Track < :ten", [1, 2]),
    ("Artist = :acme AND Track <= :ten", [1, 2, 10]),
    ("Artist = :acme AND Track > :ten", [11, 20]),
    ("Artist = :acme AND Track >= :ten", [10, 11, 20]),
    ("Artist = :acme AND :ten > Track", [1, 2]),  # value on the left flips the comparison
    ("Artist = :acme AND Track BETWEEN :two AND :eleven", [2, 10, 11]),
    ("Track BETWEEN :two AND :eleven AND Artist = :acme", [2, 10, 11]),
    ("(Artist = :acme) AND (Track = :one)", [1]),
    ("Artist = :acme and Track = :one", [1]),
]


@pytest.mark.parametrize(("key_condition", "expected"), KEY_CONDITIONS)
def test_query_key_conditions(key_condition: str, expected: list[int]) -> None:
    response = query(engine(), key_condition)
    assert tracks(response) == expected
    assert response["Count"] == response["ScannedCount"] == len(expected)


def test_query_orders_strings_by_bytes_and_supports_begins_with() -> None:
    tables = engine()
    assert paths(query(tables, "Dir = :root", TableName=FILES)) == [
        "B/1",
        "a/1",
        "a/2",
        "ab",
        "b/1",
    ]
    response = query(tables, "Dir = :root AND begins_with(FilePath, :a_slash)", TableName=FILES)
    assert paths(response) == ["a/1", "a/2"]
    response = query(tables, "Dir = :root AND begins_with(FilePath, :a)", TableName=FILES)
    assert paths(response) == ["a/1", "a/2", "ab"]


def test_query_backwards() -> None:
    response = query(engine(), "Artist = :acme AND Track > :one", ScanIndexForward=False)
    assert tracks(response) == [20, 11, 10, 2]


def test_filter_counts_scanned_and_matched_items_separately() -> None:
    response = query(engine(), "Artist = :acme", FilterExpression="Genre = :rock")
    assert tracks(response) == [1, 11]
    assert (response["Count"], response["ScannedCount"]) == (2, 5)


def test_projection_and_select_count() -> None:
    tables = engine()
    response = query(tables, "Artist = :band", ProjectionExpression="Track, Genre")
    assert response["Items"] == [
        {"Track": {"N": "1"}, "Genre": {"S": "rock"}},
        {"Track": {"N": "2"}, "Genre": {"S": "jazz"}},
    ]
    counted = query(tables, "Artist = :acme", Select="COUNT")
    assert counted == {"Count": 5, "ScannedCount": 5}
    everything = query(tables, "Artist = :band", Select="ALL_ATTRIBUTES", ConsistentRead=True)
    assert len(everything["Items"][0]) == 4


def test_query_pages_with_limit_and_exclusive_start_key() -> None:
    tables = engine()
    first = query(tables, "Artist = :acme", Limit=2)
    assert tracks(first) == [1, 2]
    assert first["LastEvaluatedKey"] == {"Artist": {"S": "Acme"}, "Track": {"N": "2"}}
    second = query(tables, "Artist = :acme", Limit=2, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert tracks(second) == [10, 11]
    third = query(tables, "Artist = :acme", Limit=2, ExclusiveStartKey=second["LastEvaluatedKey"])
    assert tracks(third) == [20]
    assert "LastEvaluatedKey" not in third


def test_a_page_that_ends_exactly_at_the_limit_still_has_a_last_evaluated_key() -> None:
    tables = engine()
    page = query(tables, "Artist = :band", Limit=2)
    assert tracks(page) == [1, 2]
    assert page["LastEvaluatedKey"] == {"Artist": {"S": "Band"}, "Track": {"N": "2"}}
    empty = query(tables, "Artist = :band", Limit=2, ExclusiveStartKey=page["LastEvaluatedKey"])
    assert empty == {"Items": [], "Count": 0, "ScannedCount": 0}


def test_limit_counts_evaluated_items_not_matches() -> None:
    page = query(engine(), "Artist = :acme", Limit=2, FilterExpression="Plays > :big")
    assert page["Items"] == []
    assert (page["Count"], page["ScannedCount"]) == (0, 2)
    assert page["LastEvaluatedKey"]["Track"] == {"N": "2"}


def test_backward_pages_continue_backwards() -> None:
    tables = engine()
    first = query(tables, "Artist = :acme", Limit=3, ScanIndexForward=False)
    assert tracks(first) == [20, 11, 10]
    rest = query(
        tables,
        "Artist = :acme",
        ScanIndexForward=False,
        ExclusiveStartKey=first["LastEvaluatedKey"],
    )
    assert tracks(rest) == [2, 1]


QUERY_ERRORS: list[tuple[dict[str, Any], str]] = [
    (
        {"KeyConditionExpression": None},
        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the "
        "request.",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme OR Artist = :band"},
        "Invalid operator used in KeyConditionExpression: OR",
    ),
    (
        {"KeyConditionExpression": "NOT Artist = :acme"},
        "Invalid operator used in KeyConditionExpression: NOT",
    ),
    (
        {"KeyConditionExpression": "Artist IN (:acme, :band)"},
        "Invalid operator used in KeyConditionExpression: IN",
    ),
    (
        {"KeyConditionExpression": "Artist <> :acme"},
        "Invalid operator used in KeyConditionExpression: <>",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme AND attribute_exists(Track)"},
        "Invalid operator used in KeyConditionExpression: attribute_exists",
    ),
    (
        {"KeyConditionExpression": "Track = :one"},
        "Query condition missed key schema element: Artist",
    ),
    ({"KeyConditionExpression": "Artist > :acme"}, "Query key condition not supported"),
    ({"KeyConditionExpression": "begins_with(Artist, :a)"}, "Query key condition not supported"),
    (
        {"KeyConditionExpression": "Artist = :acme AND Genre = :rock"},
        "Query condition missed key schema element: Track",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme AND Track = :one AND Genre = :rock"},
        "Conditions can be of length 1 or 2 only",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme AND Track > :one AND Track < :ten"},
        "Conditions can be of length 1 or 2 only",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme AND Artist = :band"},
        "KeyConditionExpressions must only contain one condition per key",
    ),
    (
        {"KeyConditionExpression": "Artist.x = :acme"},
        "KeyConditionExpressions cannot have conditions on nested attributes",
    ),
    ({"KeyConditionExpression": "Artist = Track"}, "Query key condition not supported"),
    ({"KeyConditionExpression": "size(Artist) = :one"}, "Query key condition not supported"),
    (
        {"KeyConditionExpression": "Artist = :acme AND Track BETWEEN :one AND Plays"},
        "Query key condition not supported",
    ),
    (
        {"KeyConditionExpression": "Artist = :one"},
        "One or more parameter values were invalid: Condition parameter type does not match "
        "schema type",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme AND Track BETWEEN :a AND :b"},
        "One or more parameter values were invalid: Condition parameter type does not match "
        "schema type",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme AND begins_with(Track, :a)"},
        "One or more parameter values were invalid: Condition parameter type does not match "
        "schema type",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme", "FilterExpression": "Track > :one"},
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: "
        "Track",
    ),
    (
        {
            "KeyConditionExpression": "Artist = :acme",
            "FilterExpression": "NOT (Genre = :rock OR begins_with(Artist, :a))",
        },
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: "
        "Artist",
    ),
    (
        {
            "KeyConditionExpression": "Artist = :acme",
            "FilterExpression": "Genre IN (:rock) AND size(Track) BETWEEN :one AND :ten",
        },
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: "
        "Track",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme", "IndexName": "ByGenre"},
        "The table does not have the specified index: ByGenre",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme", "Select": "ALL_PROJECTED_ATTRIBUTES"},
        "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
    ),
    (
        {"KeyConditionExpression": "Artist = :acme", "Limit": 0},
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ),
    (
        {
            "KeyConditionExpression": "Artist = :acme",
            "ExclusiveStartKey": {"Artist": {"S": "Acme"}},
        },
        "The provided starting key is invalid: The provided key element does not match the schema",
    ),
    (
        {
            "KeyConditionExpression": "Artist = :acme",
            "ExclusiveStartKey": {"Artist": {"S": "Band"}, "Track": {"N": "1"}},
        },
        "The provided starting key is invalid: The provided starting key is outside query "
        "boundaries based on provided conditions",
    ),
]


@pytest.mark.parametrize(("fields", "message"), QUERY_ERRORS)
def test_query_errors(fields: dict[str, Any], message: str) -> None:
    values = placeholders(fields.get("KeyConditionExpression"), fields.get("FilterExpression"))
    request = {"TableName": SONGS, **{k: v for k, v in fields.items() if v is not None}}
    if values:
        request["ExpressionAttributeValues"] = values
    with pytest.raises(DynamoDBError) as caught:
        engine().query(request)
    assert (caught.value.code, caught.value.message) == ("ValidationException", message)


# --- Scan ---------------------------------------------------------------------------------


def keys(response: dict[str, Any]) -> list[tuple[str, int]]:
    return [(i["Artist"]["S"], int(i["Track"]["N"])) for i in response["Items"]]


ALL_SONGS = [("Acme", t) for t in (1, 2, 10, 11, 20)] + [("Band", 1), ("Band", 2)]


def test_scan_reads_every_item_in_a_stable_order() -> None:
    response = engine().scan({"TableName": SONGS})
    assert keys(response) == ALL_SONGS
    assert response["Count"] == response["ScannedCount"] == 7


def test_scan_filters_may_use_key_attributes() -> None:
    response = engine().scan(
        {
            "TableName": SONGS,
            "FilterExpression": "Track < :ten AND Genre = :rock",
            "ExpressionAttributeValues": {":ten": {"N": "10"}, ":rock": {"S": "rock"}},
            "ProjectionExpression": "Artist, Track",
        }
    )
    assert response["Items"] == [
        {"Artist": {"S": "Acme"}, "Track": {"N": "1"}},
        {"Artist": {"S": "Band"}, "Track": {"N": "1"}},
    ]
    assert (response["Count"], response["ScannedCount"]) == (2, 7)


def test_scan_pages_cover_every_item_once() -> None:
    tables = engine()
    seen: list[tuple[str, int]] = []
    request: dict[str, Any] = {"TableName": SONGS, "Limit": 3}
    while True:
        page = tables.scan(request)
        seen += keys(page)
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == ALL_SONGS


def test_scan_segments_split_the_table() -> None:
    tables = engine()
    segments = [
        keys(tables.scan({"TableName": SONGS, "Segment": s, "TotalSegments": 3})) for s in range(3)
    ]
    assert sorted(k for segment in segments for k in segment) == ALL_SONGS
    for segment in segments:  # a partition is never split between segments
        artists = {artist for artist, _ in segment}
        assert all(len([a for a, _ in segment if a == artist]) in (0, 2, 5) for artist in artists)


def test_a_page_stops_after_one_megabyte() -> None:
    tables = engine()
    for track in range(5):
        item = {"Artist": {"S": "Big"}, "Track": {"N": str(track)}, "Blob": {"S": "x" * 300_000}}
        tables.put_item({"TableName": SONGS, "Item": item})
    request: dict[str, Any] = {
        "TableName": SONGS,
        "KeyConditionExpression": "Artist = :a",
        "ExpressionAttributeValues": {":a": {"S": "Big"}},
        "Select": "COUNT",
    }
    page = tables.query(request)
    assert page["ScannedCount"] == 4  # four items of 300 KB pass 1 MB
    assert page["LastEvaluatedKey"] == {"Artist": {"S": "Big"}, "Track": {"N": "3"}}
    rest = tables.query({**request, "ExclusiveStartKey": page["LastEvaluatedKey"]})
    assert rest == {"Count": 1, "ScannedCount": 1}


SCAN_ERRORS: list[tuple[dict[str, Any], str]] = [
    (
        {"Segment": 1},
        "The TotalSegments parameter is required but was not present in the request when "
        "Segment parameter is present",
    ),
    (
        {"TotalSegments": 2},
        "The Segment parameter is required but was not present in the request when parameter "
        "TotalSegments is present",
    ),
    (
        {"Segment": 2, "TotalSegments": 2},
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
        "Segment: 2 is not less than TotalSegments: 2",
    ),
    (
        {"Segment": 0, "TotalSegments": 0},
        "1 validation error detected: Value '0' at 'totalSegments' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1",
    ),
    ({"IndexName": "ByGenre"}, "The table does not have the specified index: ByGenre"),
    (
        {"ExclusiveStartKey": {"Artist": {"S": "Acme"}, "Track": {"S": "1"}}},
        "The provided starting key is invalid: The provided key element does not match the schema",
    ),
    (
        {"ScanFilter": {}},
        "The legacy parameter ScanFilter is not supported by Stepwell's embedded DynamoDB; use "
        "the expression parameters instead",
    ),
]


@pytest.mark.parametrize(("fields", "message"), SCAN_ERRORS)
def test_scan_errors(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(DynamoDBError) as caught:
        engine().scan({"TableName": SONGS, **fields})
    assert (caught.value.code, caught.value.message) == ("ValidationException", message)


def test_reads_of_an_unknown_table() -> None:
    tables = engine()
    with pytest.raises(
        DynamoDBError, match="ResourceNotFoundException: Requested resource not found"
    ):
        tables.scan({"TableName": "Nope"})
    with pytest.raises(DynamoDBError, match="ResourceNotFoundException"):
        query(tables, "Artist = :acme", TableName="Nope")


def test_key_conditions_on_a_table_without_a_sort_key() -> None:
    tables = TableEngine(clock=lambda: 0)
    tables.create_table(
        {
            "TableName": "Simple",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
    )
    tables.put_item({"TableName": "Simple", "Item": {"id": {"S": "a"}, "v": {"N": "1"}}})
    values = {":a": {"S": "a"}, ":one": {"N": "1"}}
    found = tables.query(
        {
            "TableName": "Simple",
            "KeyConditionExpression": "id = :a",
            "ExpressionAttributeValues": {":a": values[":a"]},
        }
    )
    assert found["Items"] == [{"id": {"S": "a"}, "v": {"N": "1"}}]
    with pytest.raises(DynamoDBError) as caught:
        tables.query(
            {
                "TableName": "Simple",
                "KeyConditionExpression": "id = :a AND v = :one",
                "ExpressionAttributeValues": values,
            }
        )
    assert caught.value.message == "Query key condition not supported"
    page = tables.scan({"TableName": "Simple", "ExclusiveStartKey": {"id": {"S": "a"}}})
    assert page == {"Items": [], "Count": 0, "ScannedCount": 0}


def test_deleting_one_item_keeps_the_rest_of_its_partition() -> None:
    tables = engine()
    tables.delete_item({"TableName": SONGS, "Key": {"Artist": {"S": "Band"}, "Track": {"N": "1"}}})
    assert tracks(query(tables, "Artist = :band")) == [2]
