"""ItemReader datasets that name other objects, through the Python API: an Amazon S3
inventory manifest (``InputType: MANIFEST``, or ``ManifestType: S3_INVENTORY``), an Athena
``UNLOAD`` manifest (``ManifestType: ATHENA_DATA``) and ``listObjectsV2`` with
``Transformation: LOAD_AND_FLATTEN``.

Source: Developer Guide, "ItemReader (Map)": ``ReaderConfig.InputType`` accepts CSV, JSON,
JSONL, PARQUET, MANIFEST; ``ManifestType`` ATHENA_DATA or S3_INVENTORY (with S3_INVENTORY
InputType must not be given: it is CSV); an inventory manifest's ``files`` are CSV files in
``destinationBucket`` with the columns of ``fileSchema``, and a child gets e.g.
``{"LastModifiedDate": ..., "Bucket": ..., "Size": "3399671", "Key": ...}``; an Athena
manifest lists the data files, whose CSV has no header row; ``$$.Map.Item.Source`` tells
which file an item came from; "Input files support the following external compression
types: GZIP, ZSTD" (inventory data files are ``.csv.gz``). Stepwell has no Parquet or ZSTD
reader: both fail the reader with a message that says so.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

import stepwell
from stepwell.integrations.services import Services

DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
SOURCE = {"value.$": "$$.Map.Item.Value", "source.$": "$$.Map.Item.Source"}


def machine(item_reader: dict[str, Any], **fields: Any) -> dict[str, Any]:
    processor = {"ProcessorConfig": DISTRIBUTED, "StartAt": "P",
                 "States": {"P": {"Type": "Pass", "End": True}}}  # fmt: skip
    body = {"Type": "Map", "ItemProcessor": processor, "ItemReader": item_reader, "End": True}
    return {"StartAt": "M", "States": {"M": {**body, **fields}}}


def get_object(key: str, **config: Any) -> dict[str, Any]:
    return {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": config,
        "Parameters": {"Bucket": "inventory", "Key": key},
    }


@pytest.fixture
def services() -> Services:
    services = Services()
    for bucket in ("inventory", "data"):
        services.s3.create_bucket(Bucket=bucket)
    return services


def put(services: Services, bucket: str, key: str, body: str) -> None:
    services.s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


def inventory(services: Services) -> None:
    """The guide's example inventory, split over two data files."""
    put(services, "inventory", "inv/data/1.csv",
        '"src","csvDataset/","0","2022-11-16T00:27:19.000Z"\n'
        '"src","csvDataset/titles.csv","3399671","2022-11-16T00:29:32.000Z"\n')  # fmt: skip
    put(services, "inventory", "inv/data/2.csv", '"src","imageDataset/a.jpg","27034","x"\n')
    manifest = {
        "sourceBucket": "src",
        "destinationBucket": "arn:aws:s3:::inventory",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": "inv/data/1.csv", "size": 1}, {"key": "inv/data/2.csv", "size": 1}],
    }
    put(services, "inventory", "inv/manifest.json", json.dumps(manifest))


@pytest.mark.parametrize("config", [{"InputType": "MANIFEST"}, {"ManifestType": "S3_INVENTORY"}])
def test_an_s3_inventory_manifest_gives_the_rows_of_its_files(
    services: Services, config: dict[str, Any]
) -> None:
    inventory(services)
    result = stepwell.run(machine(get_object("inv/manifest.json", **config)), services=services)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output[1] == {
        "LastModifiedDate": "2022-11-16T00:29:32.000Z",
        "Bucket": "src",
        "Size": "3399671",
        "Key": "csvDataset/titles.csv",
    }
    assert [item["Key"] for item in result.output] == [
        "csvDataset/",
        "csvDataset/titles.csv",
        "imageDataset/a.jpg",
    ]


def test_gzip_data_files_are_unpacked(services: Services) -> None:
    """Inventory reports are written as ``.csv.gz`` files; a GZIP object is unpacked."""
    packed = gzip.compress(b'"src","k1","1","d"\n"src","k2","2","d"\n')
    services.s3.put_object(Bucket="inventory", Key="inv/data/1.csv.gz", Body=packed)
    manifest = {"destinationBucket": "arn:aws:s3:::inventory", "fileFormat": "CSV",
                "fileSchema": "Bucket, Key, Size, LastModifiedDate",
                "files": [{"key": "inv/data/1.csv.gz"}]}  # fmt: skip
    put(services, "inventory", "inv/manifest.json", json.dumps(manifest))
    item_reader = get_object("inv/manifest.json", ManifestType="S3_INVENTORY")
    result = stepwell.run(machine(item_reader), services=services)
    assert result.status == "SUCCEEDED", result.cause
    assert [item["Key"] for item in result.output] == ["k1", "k2"]
    services.s3.put_object(Bucket="inventory", Key="rows.jsonl.gz", Body=gzip.compress(b"1\n2\n"))
    result = stepwell.run(machine(get_object("rows.jsonl.gz", InputType="JSONL")),
                          services=services)  # fmt: skip
    assert result.output == [1, 2]


def test_inventory_items_know_their_file_and_max_items_spans_files(services: Services) -> None:
    inventory(services)
    item_reader = get_object("inv/manifest.json", InputType="MANIFEST", MaxItems=3)
    result = stepwell.run(machine(item_reader, ItemSelector=SOURCE), services=services)
    assert [(item["value"]["Key"], item["source"]) for item in result.output] == [
        ("csvDataset/", "arn:aws:s3:::inventory/inv/data/1.csv"),
        ("csvDataset/titles.csv", "arn:aws:s3:::inventory/inv/data/1.csv"),
        ("imageDataset/a.jpg", "arn:aws:s3:::inventory/inv/data/2.csv"),
    ]
    item_reader["ReaderConfig"]["MaxItems"] = 1
    result = stepwell.run(machine(item_reader), services=services)
    assert [item["Key"] for item in result.output] == ["csvDataset/"]


def test_an_athena_manifest_reads_each_listed_file(services: Services) -> None:
    put(services, "data", "q/1.csv", "1,a\n2,b\n")  # UNLOAD writes no header row
    put(services, "data", "q/2.csv", "3,c\n")
    put(services, "inventory", "q-manifest.csv", "s3://data/q/1.csv\ns3://data/q/2.csv\n")
    item_reader = get_object(
        "q-manifest.csv",
        ManifestType="ATHENA_DATA",
        InputType="CSV",
        CSVHeaderLocation="GIVEN",
        CSVHeaders=["id", "name"],
    )
    result = stepwell.run(machine(item_reader, ItemSelector=SOURCE), services=services)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == [
        {"value": {"id": "1", "name": "a"}, "source": "arn:aws:s3:::data/q/1.csv"},
        {"value": {"id": "2", "name": "b"}, "source": "arn:aws:s3:::data/q/1.csv"},
        {"value": {"id": "3", "name": "c"}, "source": "arn:aws:s3:::data/q/2.csv"},
    ]


def test_an_athena_manifest_of_json_lines(services: Services) -> None:
    put(services, "data", "q/1.jsonl", '{"n": 1}\n{"n": 2}\n')
    put(services, "inventory", "m.csv", "s3://data/q/1.jsonl\n")
    item_reader = get_object("m.csv", ManifestType="ATHENA_DATA", InputType="JSONL")
    result = stepwell.run(machine(item_reader), services=services)
    assert result.output == [{"n": 1}, {"n": 2}]


def test_list_objects_v2_load_and_flatten_reads_the_objects(services: Services) -> None:
    put(services, "data", "logs/a.json", "[1, 2]")
    put(services, "data", "logs/b.json", "[3]")
    item_reader = {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "ReaderConfig": {"InputType": "JSON", "Transformation": "LOAD_AND_FLATTEN"},
        "Parameters": {"Bucket": "data", "Prefix": "logs/"},
    }
    result = stepwell.run(machine(item_reader), services=services)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == [1, 2, 3]


@pytest.mark.parametrize(
    ("key", "body", "config", "cause"),
    [
        ("m.json", "{}", {"ManifestType": "S3_INVENTORY", "InputType": "CSV"},
         "InputType must not be specified when ManifestType is S3_INVENTORY."),
        ("m.json", '{"fileFormat": "ORC", "files": []}', {"InputType": "MANIFEST"},
         "The output format of the Amazon S3 inventory report must be CSV."),
        ("m.json", "[1]", {"InputType": "MANIFEST"},
         "The S3 inventory manifest must be a JSON object with 'files'."),
        ("m.csv", "s3://data/x.json\n", {"ManifestType": "ATHENA_DATA", "InputType": "JSON"},
         "ManifestType ATHENA_DATA needs InputType CSV, JSONL or PARQUET."),
        ("m.csv", "data/x.csv\n", {"ManifestType": "ATHENA_DATA", "InputType": "CSV"},
         "The Athena manifest line 'data/x.csv' is not an s3:// URI."),
        ("m.csv", "s3://data/x.parquet\n",
         {"ManifestType": "ATHENA_DATA", "InputType": "PARQUET"},
         "InputType PARQUET is not supported: Stepwell has no Parquet reader."),
        ("m.csv", "", {"ManifestType": "OTHER"}, "ManifestType OTHER is not supported."),
        ("m.csv.zstd", "x", {"InputType": "CSV"},
         "The object m.csv.zstd is ZSTD-compressed: Stepwell's ItemReader reads plain and "
         "GZIP objects only."),
        ("m.csv.gz", "not gzip", {"InputType": "CSV"}, "The object m.csv.gz is not valid GZIP"),
        ("m.json", '{"files": [{"key": "gone.csv.gz"}], "destinationBucket": "inventory"}',
         {"InputType": "MANIFEST"}, "S3.NoSuchKey"),
    ],
)  # fmt: skip
def test_unreadable_manifests_fail_the_reader_and_say_why(
    services: Services, key: str, body: str, config: dict[str, Any], cause: str
) -> None:
    put(services, "inventory", key, body)
    put(services, "data", "x.parquet", "PAR1")
    result = stepwell.run(machine(get_object(key, **config)), services=services)
    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
    assert cause in (result.cause or "")


def _damaged_deflate() -> bytes:
    """A GZIP object whose header is sound but whose deflate stream is not."""
    packed = gzip.compress(b"[1,2,3]" * 100)
    return packed[:10] + b"\xff" * 20 + packed[30:]


@pytest.mark.parametrize(
    "body",
    [_damaged_deflate(), gzip.compress(b"[1,2,3]")[:-12], gzip.compress(b"[\xff]")],
    ids=["damaged deflate stream", "truncated", "not UTF-8 inside"],
)
def test_a_damaged_gzip_object_fails_the_reader(services: Services, body: bytes) -> None:
    """B5: an object the reader cannot read fails the run with ``States.ItemReaderFailed``
    (not an exception out of ``stepwell.run``)."""
    services.s3.put_object(Bucket="inventory", Key="rows.json.gz", Body=body)
    result = stepwell.run(machine(get_object("rows.json.gz", InputType="JSON")), services=services)
    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
    assert "The object rows.json.gz is not valid GZIP" in (result.cause or "")
