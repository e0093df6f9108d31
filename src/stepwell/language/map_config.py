"""Compiling a Distributed Map's fields: ProcessorConfig, ItemReader, ItemBatcher and
ResultWriter (Developer Guide, "Map state in Distributed mode", "ItemReader (Map)",
"ItemBatcher (Map)", "ResultWriter (Map)").

Design decision: each of these objects becomes a template evaluated on the Map state's
input, like Parameters (JSONPath) or Arguments (JSONata). Their ``...Path`` fields
(``MaxItemsPath``, ``MaxItemsPerBatchPath``, ``MaxInputBytesPerBatchPath``) are rewritten
as the template field ``Name.$`` so one template yields the whole evaluated object. The
ItemProcessor becomes a definition of its own (JSON text), which the child executions of
the Map Run run (a child runs the processor, not the parent machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from stepwell.language import model as m
from stepwell.language.evaluation import JSON
from stepwell.language.jsonata import compile_jsonata_template
from stepwell.language.templates import compile_payload_template

_PATH_FIELDS = ("MaxItems", "MaxItemsPerBatch", "MaxInputBytesPerBatch")
EXPRESS_SECONDS = 300  # Developer Guide, "Choosing workflow type": Express, up to 5 minutes


def processor_config(body: Mapping[str, JSON]) -> Mapping[str, JSON]:
    """The ProcessorConfig of ``ItemProcessor`` or of the legacy ``Iterator`` (B6)."""
    processor = body.get("ItemProcessor") or body.get("Iterator") or {}
    config = processor.get("ProcessorConfig") if isinstance(processor, Mapping) else None
    return config if isinstance(config, Mapping) else {}


def compile_distributed(body: Mapping[str, JSON], language: str) -> m.DistributedConfig | None:
    """The distributed part of a Map state, or None for an inline Map."""
    config = processor_config(body)
    if config.get("Mode") != "DISTRIBUTED":
        return None
    jsonata = language == m.JSONATA
    processor = dict(body.get("ItemProcessor") or body["Iterator"])
    processor.pop("ProcessorConfig", None)
    processor.setdefault("QueryLanguage", language)
    execution_type = str(config.get("ExecutionType", "STANDARD"))
    if execution_type == "EXPRESS":  # an Express workflow runs five minutes at most
        processor["TimeoutSeconds"] = EXPRESS_SECONDS
    reader = _object(body, "ItemReader")
    batcher = dict(_object(body, "ItemBatcher"))
    batch_input = batcher.pop("BatchInput", None)
    writer = _object(body, "ResultWriter")
    return m.DistributedConfig(
        execution_type=execution_type,
        processor_definition=orjson.dumps(processor).decode(),
        reader_resource=_resource(reader),
        reader_arguments=_arguments(reader, jsonata),
        reader_config=_template(reader.get("ReaderConfig"), "ReaderConfig", jsonata),
        batcher=_template(batcher, "ItemBatcher", jsonata) if batcher else None,
        batch_input=_template(batch_input, "BatchInput", jsonata),
        writer_resource=_resource(writer),
        writer_arguments=_arguments(writer, jsonata),
        writer_config=_template(writer.get("WriterConfig"), "WriterConfig", jsonata),
    )


def _object(body: Mapping[str, JSON], name: str) -> Mapping[str, JSON]:
    value = body.get(name)
    return value if isinstance(value, Mapping) else {}


def _resource(field: Mapping[str, JSON]) -> str | None:
    resource = field.get("Resource")
    return resource if isinstance(resource, str) else None


def _arguments(field: Mapping[str, JSON], jsonata: bool) -> m.Evaluator | None:
    name = "Arguments" if jsonata else "Parameters"
    return _template(field.get(name), name, jsonata)


def _template(value: JSON, name: str, jsonata: bool) -> m.Evaluator | None:
    if value is None:
        return None
    if jsonata:
        return compile_jsonata_template(value, name)
    return compile_payload_template(_paths_as_templates(value))


def _paths_as_templates(value: Any) -> Any:
    """``{"MaxItemsPath": "$.n"}`` → ``{"MaxItems.$": "$.n"}``."""
    if not isinstance(value, Mapping):
        return value
    out = {}
    for key, item in value.items():
        if key.endswith("Path") and key[: -len("Path")] in _PATH_FIELDS:
            out[key[: -len("Path")] + ".$"] = item
        else:
            out[key] = item
    return out
