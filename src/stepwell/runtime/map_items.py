"""What a Map Run does with data: read its items, batch them, tolerate failures, and
write or return its results. Shared by the durable Map Runs (``map_runs.py``) and the
in-process runner (``local.py``).

Sources: Developer Guide, "ItemReader (Map)" (JSON, JSONL and CSV objects read with
``arn:aws:states:::s3:getObject``, GZIP ones unpacked; object listings with
``s3:listObjectsV2``, or with ``Transformation: LOAD_AND_FLATTEN`` the listed objects'
items; manifests naming the data files: an S3 inventory ``manifest.json``
(``InputType: MANIFEST`` or ``ManifestType: S3_INVENTORY``) and an Athena ``UNLOAD``
manifest (``ManifestType: ATHENA_DATA``); ``ReaderConfig.MaxItems`` and
``ReaderConfig.ItemsPointer``; CSV by "How Step Functions parses input CSV files",
``delimited.py``), "ItemBatcher (Map)"
(``MaxItemsPerBatch``, ``MaxInputBytesPerBatch``, ``BatchInput``: a child gets
``{"BatchInput": ..., "Items": [...]}``), "ResultWriter (Map)" (``manifest.json`` and one
``<STATUS>_0.json`` file per status under ``<Prefix>/<map run id>/``; the Map's output is
then ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``; ``WriterConfig``
``Transformation`` NONE/COMPACT/FLATTEN and ``OutputType`` JSON/JSONL, and WriterConfig
alone to format the state's output without writing), and aws-behaviour B5 for the
``States.ItemReaderFailed`` messages.

Design decision: S3 is reached through the Task integrations
(``arn:aws:states:::aws-sdk:s3:getObject`` and friends), so the same code reads the
embedded bucket store or, when forwarding is configured for s3, real S3. The exception is
a GZIP object: the integration answers text, so its bytes come from the embedded store.
Parquet (no reader here) and ZSTD objects fail the reader with a message saying so.
"""

from __future__ import annotations

import gzip
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from stepwell.integrations.functions import Outcome
from stepwell.integrations.registry import Integrations, Invocation
from stepwell.integrations.services import ServiceError
from stepwell.language.evaluation import JSON
from stepwell.language.verbatim import compact_json, parse_sent_json
from stepwell.runtime import delimited

ITEM_READER_FAILED: Final = "States.ItemReaderFailed"
RESULT_WRITER_FAILED: Final = "States.ResultWriterFailed"
THRESHOLD_EXCEEDED: Final = "States.ExceedToleratedFailureThreshold"
THRESHOLD_CAUSE: Final = "The specified tolerated failure threshold was exceeded"
NON_ITERABLE: Final = "Attempting to map over non-iterable node."
_DELIMITERS: Final = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
_SDK: Final = "arn:aws:states:::aws-sdk:s3:"
_GZIP: Final = (".gz", ".gzip")
_ZSTD: Final = (".zst", ".zstd")
BATCH_BYTES: Final = (
    256 * 1024
)  # ItemBatcher: "the maximum size of a batch in bytes, up to 256 KiB"


class MapRunFailure(Exception):
    """The Map Run fails with ``error`` and ``cause`` (reader, writer)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(error, cause)
        self.error = error
        self.cause = cause


def reader_failed(cause: str) -> MapRunFailure:
    return MapRunFailure(ITEM_READER_FAILED, cause)


# --------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class ReadItems:
    """The run's items, and each item's ``$$.Map.Item.Source``: one origin for them all
    (``source``), or one per item (``sources``) when they come from several objects."""

    items: list[JSON]
    source: str
    sources: list[str] | None = None

    def source_of(self, index: int) -> str:
        return self.sources[index] if self.sources is not None else self.source


def read_items(integrations: Integrations, spec: dict[str, Any]) -> ReadItems:
    """The run's items: the state's, or those the ItemReader reads."""
    reader = spec.get("reader")
    if reader is None:
        return ReadItems(list(spec["items"]), "STATE_DATA")
    config = reader.get("ReaderConfig") or {}
    max_items = _max_items(config)
    arguments = reader.get("Arguments") or {}
    action = str(reader.get("Resource", "")).rsplit(":", 1)[-1]
    source = _object_arn(arguments.get("Bucket", ""), arguments.get("Key", ""))
    if action == "listObjectsV2":
        listed = _listed_objects(integrations, arguments, max_items)
        if config.get("Transformation", "NONE") == "LOAD_AND_FLATTEN":
            bucket = str(arguments.get("Bucket", ""))
            files = [(bucket, str(entry["Key"])) for entry in listed if isinstance(entry, dict)]
            read = _data_files(integrations, files, config, max_items)
        else:
            read = ReadItems(listed, source)
    elif action == "getObject":
        read = _object_items(integrations, arguments, config, source, max_items)
    else:
        raise reader_failed(f"The ItemReader resource {reader.get('Resource')} is not supported.")
    return _first(read, max_items)


def _first(read: ReadItems, max_items: int | None) -> ReadItems:
    """``ReaderConfig.MaxItems``: the first items only."""
    if max_items is None or len(read.items) <= max_items:
        return read
    sources = read.sources[:max_items] if read.sources is not None else None
    return ReadItems(read.items[:max_items], read.source, sources)


def _object_items(
    integrations: Integrations,
    arguments: dict[str, Any],
    config: dict[str, Any],
    source: str,
    max_items: int | None,
) -> ReadItems:
    """Items of one object read with ``getObject``: a data file, or a manifest naming the
    data files (``InputType: MANIFEST`` or ``ManifestType``)."""
    manifest = config.get("ManifestType")
    kind = str(config.get("InputType", "JSON")).upper()
    if manifest == "S3_INVENTORY" and "InputType" in config:
        raise reader_failed("InputType must not be specified when ManifestType is S3_INVENTORY.")
    body = _body(integrations, arguments)
    if kind == "MANIFEST" or manifest == "S3_INVENTORY":
        return _inventory_items(integrations, body, config, max_items)
    if manifest == "ATHENA_DATA":
        return _athena_items(integrations, body, config, max_items)
    if manifest is not None:
        raise reader_failed(f"ManifestType {manifest} is not supported.")
    return ReadItems(parse_object(body, config), source)


def _body(integrations: Integrations, arguments: dict[str, Any]) -> str:
    """An object's text. "Input files support the following external compression types:
    GZIP, ZSTD" (``.gz``, ``.zstd``): GZIP objects are unpacked (read from the embedded
    S3: a forwarded call returns text, not bytes); ZSTD needs a library Stepwell lacks."""
    key = str(arguments.get("Key", ""))
    if key.endswith(_GZIP):
        return _gunzipped(integrations, arguments, key)
    if key.endswith(_ZSTD):
        raise reader_failed(
            f"The object {key} is ZSTD-compressed: Stepwell's ItemReader reads plain and "
            "GZIP objects only."
        )
    return str(_call(integrations, "getObject", arguments)["Body"])


def _gunzipped(integrations: Integrations, arguments: dict[str, Any], key: str) -> str:
    forwarder = integrations.forwarder
    if forwarder is not None and forwarder.config.forwards("s3", True):
        raise reader_failed(
            f"The object {key} is GZIP-compressed: Stepwell unpacks compressed objects from "
            "its embedded S3 only, not from a forwarded one."
        )
    request: dict[str, Any] = {
        k: arguments[k] for k in ("Bucket", "Key", "VersionId") if k in arguments
    }
    try:
        packed = integrations.services.s3.call("GetObject", request)["Body"]
    except ServiceError as error:
        raise reader_failed(f"S3.{error.exception}: {error.message}") from None
    try:
        return gzip.decompress(bytes(packed)).decode()
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:  # zlib: damaged data
        raise reader_failed(f"The object {key} is not valid GZIP: {error}") from None


def _object_arn(bucket: Any, key: Any) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _data_files(
    integrations: Integrations,
    files: Sequence[tuple[str, str]],
    config: dict[str, Any],
    max_items: int | None,
) -> ReadItems:
    """The items of several data files, each read as ``InputType`` says, in order; each
    item's source is its file (``arn:aws:s3:::BUCKET/KEY``)."""
    items: list[JSON] = []
    sources: list[str] = []
    for bucket, key in files:
        found = parse_object(_body(integrations, {"Bucket": bucket, "Key": key}), config)
        items.extend(found)
        sources.extend([_object_arn(bucket, key)] * len(found))
        if max_items is not None and len(items) >= max_items:
            break
    return ReadItems(items, "", sources)


def _inventory_items(
    integrations: Integrations, body: str, config: dict[str, Any], max_items: int | None
) -> ReadItems:
    """An Amazon S3 inventory ``manifest.json``: the rows of the CSV data files it lists
    (``files[].key`` in ``destinationBucket``), keyed by its ``fileSchema`` (Developer
    Guide, "ItemReader (Map)", Amazon S3 inventory: a child gets e.g.
    ``{"Bucket": ..., "Key": ..., "Size": "3399671", "LastModifiedDate": ...}``)."""
    try:
        manifest = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise reader_failed(f"Invalid S3 inventory manifest: {error}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise reader_failed("The S3 inventory manifest must be a JSON object with 'files'.")
    if str(manifest.get("fileFormat", "CSV")).upper() != "CSV":
        raise reader_failed("The output format of the Amazon S3 inventory report must be CSV.")
    bucket = str(manifest.get("destinationBucket", "")).removeprefix("arn:aws:s3:::")
    schema = [name.strip() for name in str(manifest.get("fileSchema", "")).split(",")]
    csv_config = {**config, "InputType": "CSV"}
    if csv_config.get("CSVHeaderLocation") != "GIVEN":  # inventory files have no header row
        csv_config.update(CSVHeaderLocation="GIVEN", CSVHeaders=schema)
    files = [(bucket, str(f.get("key", ""))) for f in manifest["files"] if isinstance(f, dict)]
    return _data_files(integrations, files, csv_config, max_items)


def _athena_items(
    integrations: Integrations, body: str, config: dict[str, Any], max_items: int | None
) -> ReadItems:
    """``ManifestType: ATHENA_DATA``: the manifest an Athena ``UNLOAD`` writes lists its
    data files, one ``s3://BUCKET/KEY`` a line; each is read as ``InputType`` (CSV or
    JSONL; the guide also lists PARQUET) says."""
    kind = str(config.get("InputType", "")).upper()
    if kind not in ("CSV", "JSONL", "PARQUET"):
        raise reader_failed(
            f"InputType {kind or 'missing'}: ManifestType ATHENA_DATA needs InputType CSV, "
            "JSONL or PARQUET."
        )
    files = []
    for line in body.splitlines():
        uri = line.strip().strip('"')
        if not uri:
            continue
        bucket, _, key = uri.removeprefix("s3://").removeprefix("S3://").partition("/")
        if not uri.lower().startswith("s3://") or not bucket or not key:
            raise reader_failed(f"The Athena manifest line '{uri}' is not an s3:// URI.")
        files.append((bucket, key))
    return _data_files(integrations, files, config, max_items)


def _max_items(config: dict[str, Any]) -> int | None:
    value = config.get("MaxItems")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise reader_failed("field MaxItems must be positive")
    return value


def parse_object(body: str, config: dict[str, Any]) -> list[JSON]:
    """An object's items by ``ReaderConfig.InputType`` (JSON unless told otherwise)."""
    kind = str(config.get("InputType", "JSON")).upper()
    if kind == "CSV":
        return parse_csv(body, config)
    if kind == "JSONL":
        try:
            return [orjson.loads(line) for line in body.splitlines() if line.strip()]
        except orjson.JSONDecodeError as error:
            raise reader_failed(f"Invalid JSON line: {error}") from None
    if kind == "PARQUET":
        raise reader_failed(
            "InputType PARQUET is not supported: Stepwell has no Parquet reader. Use CSV, "
            "JSON or JSONL objects."
        )
    if kind != "JSON":
        raise reader_failed(f"InputType {kind} is not supported.")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise reader_failed(f"Invalid JSON: {error}") from None
    pointer = config.get("ItemsPointer")
    if pointer is not None:
        value = items_at_pointer(value, str(pointer))
    if not isinstance(value, list):
        raise reader_failed(NON_ITERABLE)
    return value


def items_at_pointer(document: JSON, pointer: str) -> JSON:
    """``ReaderConfig.ItemsPointer``: the value a JSON Pointer (RFC 6901) names in a JSON
    object read by the ItemReader (``/data/items``; ``~1`` is ``/``, ``~0`` is ``~``)."""
    if pointer and not pointer.startswith("/"):
        raise reader_failed(f"The ItemsPointer '{pointer}' is not a valid JSON Pointer.")
    value = document
    for token in pointer.split("/")[1:] if pointer else ():
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise reader_failed(
                f"The ItemsPointer '{pointer}' does not point to a value in the JSON object."
            )
    return value


def parse_csv(body: str, config: dict[str, Any]) -> list[JSON]:
    """Each row as an object keyed by the headers (the first row, or ``CSVHeaders``),
    parsed by the guide's rules (``delimited.py``)."""
    delimiter = _DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")), ",")
    rows = delimited.records(body, delimiter)
    if config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
        given = config.get("CSVHeaders") or []
        if not isinstance(given, list):  # a string would be read letter by letter
            raise reader_failed(
                "The field 'CSVHeaders' must be an array of strings, "
                f"not {compact_json(given).decode()}."
            )
        headers = [str(h) for h in given]
    else:
        headers, rows = (rows[0], rows[1:]) if rows else ([], [])
    if len(set(headers)) != len(headers):
        raise reader_failed("CSV headers cannot contain duplicates.")
    return list(delimited.rows_as_objects(rows, headers))


def _listed_objects(
    integrations: Integrations, arguments: dict[str, Any], max_items: int | None
) -> list[JSON]:
    items: list[JSON] = []
    request = {k: v for k, v in arguments.items() if k != "ContinuationToken"}
    while True:
        page = _call(integrations, "listObjectsV2", request)
        for entry in page.get("Contents", []):
            items.append(
                {
                    "Etag": entry["ETag"],
                    "Key": entry["Key"],
                    "LastModified": _epoch(entry["LastModified"]),
                    "Size": entry["Size"],
                    "StorageClass": entry.get("StorageClass", "STANDARD"),
                }
            )
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token or (max_items and len(items) >= max_items):
            return items
        request["ContinuationToken"] = token


def _epoch(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())


def _call(integrations: Integrations, action: str, request: dict[str, Any]) -> dict[str, Any]:
    outcome = integrations.invoke(Invocation(_SDK + action, request, request_id=str(uuid.uuid4())))
    assert outcome is not None  # request-response: never waits
    if not outcome.ok:
        raise MapRunFailure(ITEM_READER_FAILED, _failure_text(outcome))
    result: dict[str, Any] = outcome.output
    return result


def _failure_text(outcome: Outcome) -> str:
    return f"{outcome.error}: {outcome.cause}" if outcome.cause else str(outcome.error)


# --------------------------------------------------------------------- batching


def child_inputs(values: Sequence[JSON], spec: dict[str, Any]) -> list[tuple[JSON, int]]:
    """Each child's input and how many items it carries. A batch holds at most
    ``MaxItemsPerBatch`` items and ``MaxInputBytesPerBatch`` bytes of JSON, which is 256 KiB
    at most and by default ("ItemBatcher (Map)": "If you use batching and don't specify a
    maximum batch size, the interpreter processes as many items it can process up to 256
    KiB"); an item bigger than that goes alone. Sizes add up item by item, so batching is
    linear in the number of items."""
    batcher = spec.get("batcher")
    if batcher is None:
        return [(value, 1) for value in values]
    per_batch = _positive(batcher.get("MaxItemsPerBatch"))
    max_bytes = min(_positive(batcher.get("MaxInputBytesPerBatch")) or BATCH_BYTES, BATCH_BYTES)
    empty = len(_batch_text([], spec))  # the batch's JSON without items: {"Items":[]}
    batches: list[tuple[JSON, int]] = []
    current: list[JSON] = []
    size = empty
    for value in values:
        added = len(compact_json(value)) + (1 if current else 0)  # a comma before it
        too_many = per_batch is not None and len(current) + 1 > per_batch
        if current and (too_many or size + added > max_bytes):
            batches.append((_batch(current, spec), len(current)))
            current, size, added = [], empty, added - 1
        current.append(value)
        size += added
    if current:
        batches.append((_batch(current, spec), len(current)))
    return batches


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _batch(items: list[JSON], spec: dict[str, Any]) -> JSON:
    batch: dict[str, JSON] = {}
    if spec.get("has_batch_input"):
        batch["BatchInput"] = spec.get("batch_input")
    batch["Items"] = items
    return batch


def _batch_text(items: list[JSON], spec: dict[str, Any]) -> bytes:
    return compact_json(_batch(items, spec))


# --------------------------------------------------------------------- failures


# --------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ChildResult:
    """A child execution as the result files describe it."""

    arn: str
    name: str
    state_machine_arn: str
    status: str
    input: str
    start: float
    stop: float | None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    redrive_count: int = 0


def result_array(children: Sequence[ChildResult]) -> list[JSON]:
    """The Map's output without a ResultWriter: each child's output, in item order; a
    tolerated failure's place holds its error and cause."""
    results: list[JSON] = []
    for child in children:
        if child.status == "SUCCEEDED":
            results.append(parse_sent_json(child.output) if child.output is not None else None)
        else:
            results.append({"Error": child.error, "Cause": child.cause})
    return results


Writer = Callable[[str, str, bytes], None]


def write_results(
    integrations: Integrations,
    writer: dict[str, Any],
    map_run_arn: str,
    children: Sequence[ChildResult],
) -> JSON:
    """Write ``manifest.json`` and the result files; the Map's output names them."""
    arguments = writer.get("Arguments") or {}
    config = writer.get("WriterConfig") or {}
    transformation = str(config.get("Transformation") or "NONE")
    lines = str(config.get("OutputType") or "JSON") == "JSONL"
    bucket = str(arguments.get("Bucket", ""))
    prefix = str(arguments.get("Prefix", "")).rstrip("/")
    folder = (
        f"{prefix}/{map_run_arn.rsplit(':', 1)[-1]}" if prefix else map_run_arn.rsplit(":", 1)[-1]
    )
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status in ("SUCCEEDED", "FAILED", "PENDING"):
        chosen = [c for c in children if _file_status(c.status) == status]
        if not chosen:
            continue
        key = f"{folder}/{status}_0.{'jsonl' if lines else 'json'}"
        body = _results_text(transformed(chosen, transformation), lines)
        _put(integrations, bucket, key, body)
        files[status].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
    key = f"{folder}/manifest.json"
    _put(integrations, bucket, key, orjson.dumps(manifest))
    return {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}


def transformed(children: Sequence[ChildResult], transformation: str) -> list[JSON]:
    """``WriterConfig.Transformation``: NONE, each child's entry with its metadata;
    COMPACT, each child's output; FLATTEN, likewise with array outputs flattened. A child
    that did not succeed keeps its entry whatever the transformation."""
    results: list[JSON] = []
    for child in children:
        if transformation == "NONE" or child.status != "SUCCEEDED":
            results.append(_entry(child))
            continue
        output = parse_sent_json(child.output) if child.output is not None else None
        if transformation == "FLATTEN" and isinstance(output, list):
            results.extend(output)
        else:
            results.append(output)
    return results


def _results_text(results: list[JSON], lines: bool) -> bytes:
    """``WriterConfig.OutputType``: a JSON array, or JSON Lines (one result a line)."""
    if not lines:
        return compact_json(results)
    return b"".join(compact_json(result) + b"\n" for result in results)


def _file_status(status: str) -> str:
    if status == "SUCCEEDED":
        return "SUCCEEDED"
    return "PENDING" if status == "RUNNING" else "FAILED"


def _entry(child: ChildResult) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ExecutionArn": child.arn,
        "Input": child.input,
        "InputDetails": {"Included": True},
        "Name": child.name,
    }
    if child.output is not None:
        entry["Output"] = child.output
        entry["OutputDetails"] = {"Included": True}
    if child.error is not None:
        entry["Error"] = child.error
    if child.cause is not None:
        entry["Cause"] = child.cause
    entry["RedriveCount"] = child.redrive_count
    if child.status in ("SUCCEEDED", "RUNNING"):  # "ResultWriter (Map)", Transformation NONE
        entry["RedriveStatus"] = "NOT_REDRIVABLE"
        entry["RedriveStatusReason"] = f"Execution is {child.status} and cannot be redriven"
    else:
        entry["RedriveStatus"] = "REDRIVABLE"
    entry.update(
        {
            "StartDate": _iso(child.start),
            "StateMachineArn": child.state_machine_arn,
            "Status": child.status,
        }
    )
    if child.stop is not None:
        entry["StopDate"] = _iso(child.stop)
    return entry


def _iso(seconds: float) -> str:
    return (
        datetime.fromtimestamp(seconds, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _put(integrations: Integrations, bucket: str, key: str, body: bytes) -> None:
    request = {"Bucket": bucket, "Key": key, "Body": body.decode()}
    outcome = integrations.invoke(
        Invocation(_SDK + "putObject", request, request_id=str(uuid.uuid4()))
    )
    if outcome is not None and not outcome.ok:
        raise MapRunFailure(RESULT_WRITER_FAILED, _failure_text(outcome))


def exports_results(spec: dict[str, Any]) -> bool:
    """The ResultWriter writes to S3 (it has a Resource), not only formats (WriterConfig)."""
    return bool((spec.get("writer") or {}).get("Resource"))


def map_output(
    integrations: Integrations,
    spec: dict[str, Any],
    map_run_arn: str,
    children: Sequence[ChildResult],
) -> JSON:
    """The Map state's result: the results array, or where the ResultWriter put it."""
    writer = spec.get("writer") or {}
    if writer.get("Resource"):
        return write_results(integrations, writer, map_run_arn, children)
    config = writer.get("WriterConfig")
    if config:  # WriterConfig alone: the formatted results, not written anywhere
        return transformed(children, str(config.get("Transformation") or "COMPACT"))
    return result_array(children)
