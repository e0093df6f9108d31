"""What a Map Run does with data: read its items, batch them, tolerate failures, and
write or return its results. Shared by the durable Map Runs (``map_runs.py``) and the
in-process runner (``local.py``).

Sources: Developer Guide, "ItemReader (Map)" (JSON, JSONL and CSV objects read with
``arn:aws:states:::s3:getObject``; object listings with ``s3:listObjectsV2``;
``ReaderConfig.MaxItems`` and ``ReaderConfig.ItemsPointer``), "ItemBatcher (Map)"
(``MaxItemsPerBatch``, ``MaxInputBytesPerBatch``, ``BatchInput``: a child gets
``{"BatchInput": ..., "Items": [...]}``), "ResultWriter (Map)" (``manifest.json`` and one
``<STATUS>_0.json`` file per status under ``<Prefix>/<map run id>/``; the Map's output is
then ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``; ``WriterConfig``
``Transformation`` NONE/COMPACT/FLATTEN and ``OutputType`` JSON/JSONL, and WriterConfig
alone to format the state's output without writing), and aws-behaviour B5 for the
``States.ItemReaderFailed`` messages.

Design decision: S3 is reached through the Task integrations
(``arn:aws:states:::aws-sdk:s3:getObject`` and friends), so the same code reads the
embedded bucket store or, when forwarding is configured for s3, real S3.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from stepwell.integrations.functions import Outcome
from stepwell.integrations.registry import Integrations, Invocation
from stepwell.language.evaluation import JSON

ITEM_READER_FAILED: Final = "States.ItemReaderFailed"
RESULT_WRITER_FAILED: Final = "States.ResultWriterFailed"
THRESHOLD_EXCEEDED: Final = "States.ExceedToleratedFailureThreshold"
THRESHOLD_CAUSE: Final = "The specified tolerated failure threshold was exceeded"
NON_ITERABLE: Final = "Attempting to map over non-iterable node."
_DELIMITERS: Final = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
_SDK: Final = "arn:aws:states:::aws-sdk:s3:"


class MapRunFailure(Exception):
    """The Map Run fails with ``error`` and ``cause`` (reader, writer)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(error, cause)
        self.error = error
        self.cause = cause


def reader_failed(cause: str) -> MapRunFailure:
    return MapRunFailure(ITEM_READER_FAILED, cause)


# --------------------------------------------------------------------- reading


def read_items(integrations: Integrations, spec: dict[str, Any]) -> tuple[list[JSON], str]:
    """The run's items and their ``$$.Map.Item.Source``-style origin."""
    reader = spec.get("reader")
    if reader is None:
        return list(spec["items"]), "STATE_DATA"
    config = reader.get("ReaderConfig") or {}
    max_items = _max_items(config)
    arguments = reader.get("Arguments") or {}
    action = str(reader.get("Resource", "")).rsplit(":", 1)[-1]
    if action == "listObjectsV2":
        items = _listed_objects(integrations, arguments, max_items)
    elif action == "getObject":
        body = _call(integrations, "getObject", arguments)["Body"]
        items = parse_object(str(body), config)
    else:
        raise reader_failed(f"The ItemReader resource {reader.get('Resource')} is not supported.")
    source = f"arn:aws:s3:::{arguments.get('Bucket', '')}/{arguments.get('Key', '')}"
    return items[:max_items] if max_items is not None else items, source


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
    """Each row as an object keyed by the headers (the first row, or ``CSVHeaders``)."""
    delimiter = _DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")), ",")
    rows = list(csv.reader(io.StringIO(body), delimiter=delimiter))
    if config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
        headers = [str(h) for h in config.get("CSVHeaders") or []]
    else:
        headers, rows = (rows[0], rows[1:]) if rows else ([], [])
    if len(set(headers)) != len(headers):
        raise reader_failed("CSV headers cannot contain duplicates.")
    return [dict(zip(headers, row, strict=False)) for row in rows if row]


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
    """Each child's input and how many items it carries."""
    batcher = spec.get("batcher")
    if batcher is None:
        return [(value, 1) for value in values]
    per_batch = _positive(batcher.get("MaxItemsPerBatch"))
    max_bytes = _positive(batcher.get("MaxInputBytesPerBatch"))
    batches: list[tuple[JSON, int]] = []
    current: list[JSON] = []
    for value in values:
        candidate = [*current, value]
        too_many = per_batch is not None and len(candidate) > per_batch
        too_big = max_bytes is not None and len(_batch_text(candidate, spec)) > max_bytes
        if current and (too_many or too_big):
            batches.append((_batch(current, spec), len(current)))
            candidate = [value]
        current = candidate
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
    return orjson.dumps(_batch(items, spec))


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


def result_array(children: Sequence[ChildResult]) -> list[JSON]:
    """The Map's output without a ResultWriter: each child's output, in item order; a
    tolerated failure's place holds its error and cause."""
    results: list[JSON] = []
    for child in children:
        if child.status == "SUCCEEDED":
            results.append(orjson.loads(child.output) if child.output is not None else None)
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
        output = orjson.loads(child.output) if child.output is not None else None
        if transformation == "FLATTEN" and isinstance(output, list):
            results.extend(output)
        else:
            results.append(output)
    return results


def _results_text(results: list[JSON], lines: bool) -> bytes:
    """``WriterConfig.OutputType``: a JSON array, or JSON Lines (one result a line)."""
    if not lines:
        return orjson.dumps(results)
    return b"".join(orjson.dumps(result) + b"\n" for result in results)


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
    entry.update(
        {
            "RedriveCount": 0,
            "RedriveStatus": "NOT_REDRIVABLE" if child.status == "SUCCEEDED" else "REDRIVABLE",
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
