"""A mocked Map or Parallel state's own fields, read beside the run (M3, M5, M9).

The mock stands for the iterations or branches, so nothing runs them; what the state
reads before it starts them still happens: InputPath, ``ItemsPath`` or JSONata ``Items``
(even with a mock: a value that is not an array fails the state, M9, D5),
``MaxConcurrency`` and the tolerated failure fields, which ``inspectionData`` reports.
With ``mapIterationFailureCount``, the failures count against the tolerated thresholds
only (M5): above them the state fails with ``States.ExceedToleratedFailureThreshold``,
which its Retry and Catch then see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from stepwell.engine.dataflow import field_error, jsonata_states, select_path
from stepwell.engine.execution import Frame
from stepwell.engine.fanout import items_not_an_array
from stepwell.engine.fanout import threshold_exceeded as failures_exceed
from stepwell.engine.history import to_json_text
from stepwell.language import errors as e
from stepwell.language.evaluation import JSON, EvalContext
from stepwell.language.model import MapState, State
from stepwell.runtime.map_items import (
    ITEM_READER_FAILED,
    NON_ITERABLE,
    MapRunFailure,
    items_at_pointer,
    parse_csv,
)
from stepwell.service.test_state.request import StateTest

EXCEEDED = e.StatesError(
    "States.ExceedToleratedFailureThreshold",
    "The specified tolerated failure threshold was exceeded",
)


@dataclass(slots=True)
class MapReading:
    """What a Map state read before its iterations would start."""

    fields: dict[str, Any] = field(default_factory=dict)  # inspectionData values
    failure: e.StatesError | None = None  # reading failed: the state fails with this
    tolerated_count: int | None = None
    tolerated_percentage: float | None = None


def read_map(state: State, test: StateTest, ctx: EvalContext, frame: Frame) -> MapReading:
    """The Map's own fields, read as the state would before its iterations; with an
    ItemReader the items come from the reader (``mapItemReaderData``), not ItemsPath."""
    reading = MapReading()
    if not isinstance(state, MapState):
        return reading
    raw = test.input
    items: JSON = None
    try:
        if state.is_jsonata:
            scope: JSON = jsonata_states(raw, ctx)
            if not test.reads_items:
                items = _jsonata_items(state, scope, raw, ctx, frame)
        else:
            scope = select_path(state.input_path, raw, ctx, state, frame)
            reading.fields["afterInputPath"] = scope
            if not test.reads_items:
                items = reading.fields["afterItemsPath"] = _items_path(state, scope, ctx, frame)
        if test.reads_items:
            items = _reader_items(test.reader_data, test.reader_config, reading.fields)
        _limits(state, scope, ctx, reading)
        if isinstance(items, list) and state.item_selector is not None:
            items = reading.fields["afterItemSelector"] = _selected(state, scope, items, ctx)
        if isinstance(items, list) and test.batcher is not None:
            reading.fields["afterItemBatcher"] = _batches(test.batcher, items)
    except e.StatesError as error:
        reading.failure = error
    return reading


def _reader_items(text: str | None, config: dict[str, Any], fields: dict[str, Any]) -> JSON:
    """The items of ``mapItemReaderData``: a JSON array as read (JSON Lines: one a line;
    CSV: a row an object, as ``ReaderConfig`` says); with ``ReaderConfig.ItemsPointer``,
    the array it names (``afterItemsPointer``)."""
    if text is None:
        return None
    if str(config.get("InputType", "")).upper() == "CSV":
        try:
            return parse_csv(text, config)
        except MapRunFailure as failure:
            raise e.StatesError(failure.error, failure.cause) from None
    try:
        value: JSON = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError:
            return None
    pointer = config.get("ItemsPointer")
    if isinstance(pointer, str):
        try:
            value = fields["afterItemsPointer"] = items_at_pointer(value, pointer)
        except MapRunFailure as failure:
            raise e.StatesError(failure.error, failure.cause) from None
        if not isinstance(value, list):
            raise e.StatesError(ITEM_READER_FAILED, NON_ITERABLE)
    return value


def _batches(batcher: dict[str, Any], items: list[JSON]) -> list[JSON]:
    """ItemBatcher (Developer Guide, "ItemBatcher (Map)"): ``{"Items": [...]}`` batches of
    at most ``MaxItemsPerBatch`` items, with a static ``BatchInput`` beside them."""
    size = batcher.get("MaxItemsPerBatch")
    size = size if isinstance(size, int) and size > 0 else len(items) or 1
    batches: list[JSON] = []
    for start in range(0, len(items), size):
        batch: dict[str, JSON] = {"Items": items[start : start + size]}
        if isinstance(batcher.get("BatchInput"), dict):
            batch = {"BatchInput": batcher["BatchInput"], **batch}
        batches.append(batch)
    return batches


def _selected(state: MapState, scope: JSON, items: list[JSON], ctx: EvalContext) -> list[JSON]:
    """Each item through ItemSelector, with ``$$.Map.Item`` as the engine sets it."""
    assert state.item_selector is not None
    selected = []
    for index, item in enumerate(items):
        context = {
            **ctx.context,
            "Map": {"Item": {"Index": index, "Value": item, "Source": "STATE_DATA"}},
        }
        item_ctx = EvalContext(context, ctx.variables, ctx.random, ctx.uuid4)
        if state.is_jsonata and isinstance(scope, dict):  # $states.context sees the item
            item_scope: JSON = jsonata_states(scope.get("input"), item_ctx)
        else:
            item_scope = scope
        selected.append(state.item_selector.evaluate(item_scope, item_ctx))
    return selected


def _jsonata_items(
    state: MapState, scope: JSON, raw: JSON, ctx: EvalContext, frame: Frame
) -> list[JSON]:
    """``Items``, or the input without it: an array, else the state fails (D5), mocked or
    not, as an ``ItemsPath`` does (M9)."""
    items = state.items.evaluate(scope, ctx) if state.items is not None else raw
    if isinstance(items, list):
        return items
    if state.items is not None:
        raise field_error(state, frame, "Items", items_not_an_array(state.items, items))
    detail = f"Map state input must be an array but was: {to_json_text(items)}"
    raise e.StatesError(e.QUERY_EVALUATION_ERROR, detail)


def _items_path(state: MapState, scope: JSON, ctx: EvalContext, frame: Frame) -> JSON:
    if state.items is not None:  # a literal Items array in a JSONPath Map
        return state.items.evaluate(scope, ctx)
    items = select_path(state.items_path, scope, ctx, state, frame)
    if not isinstance(items, list):
        text = state.items_path.text if state.items_path is not None else "$"
        raise e.StatesError(e.RUNTIME, f'Reference path "{_shown(text)}" must point to array.')
    return items


def _shown(path: str) -> str:
    """AWS shows a context path with its first ``$`` removed: ``$$.a`` as ``$.a``."""
    return path[1:] if path.startswith("$$") else path


def _limits(state: MapState, scope: JSON, ctx: EvalContext, reading: MapReading) -> None:
    fields = reading.fields
    concurrency = (
        state.max_concurrency.evaluate(scope, ctx) if state.max_concurrency is not None else 0
    )
    fields["maxConcurrency"] = _integer(concurrency)
    if state.tolerated_failure_count is not None:
        count = _integer(state.tolerated_failure_count.evaluate(scope, ctx))
        fields["toleratedFailureCount"] = reading.tolerated_count = count
    if state.tolerated_failure_percentage is not None:
        value = state.tolerated_failure_percentage.evaluate(scope, ctx)
        percentage = float(value) if isinstance(value, int | float) else 0.0
        fields["toleratedFailurePercentage"] = reading.tolerated_percentage = percentage


def _integer(value: JSON) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def threshold_exceeded(reading: MapReading, failures: int | None, total: int) -> bool:
    """M5: the failures are above a tolerated threshold (none defined: never)."""
    if not failures:
        return False
    count, percentage = reading.tolerated_count, reading.tolerated_percentage
    if count is None and percentage is None:
        return False
    return failures_exceed(failures, total, count, percentage)
