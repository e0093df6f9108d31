"""Validation of Map states (Developer Guide, "Map workflow state", inline and distributed).

A Map runs ``ItemProcessor`` (or the legacy ``Iterator``) once per item: that graph is
validated like the machine's own, through the scope's graph checker. ``ProcessorConfig``
picks the mode; the limits (``MaxConcurrency``, ``ToleratedFailurePercentage``,
``ToleratedFailureCount``) are numbers, or in JSONPath their ``...Path`` forms, or in
JSONata ``{% %}`` expressions.
"""

from __future__ import annotations

from typing import Final

from stepwell.language.validation_rules.base import (
    JSON,
    StateScope,
    check_exclusive,
    check_integer_or_jsonata,
    check_jsonata_string,
    check_jsonata_value,
    check_path_field,
    check_payload_template,
    is_number,
    join,
    show,
    unknown_fields,
)

MODES: Final = ("INLINE", "DISTRIBUTED")
EXECUTION_TYPES: Final = ("STANDARD", "EXPRESS")
_PROCESSOR_CONFIG_FIELDS: Final = frozenset({"Mode", "ExecutionType"})
_LIMITS: Final = ("MaxConcurrency", "ToleratedFailurePercentage", "ToleratedFailureCount")


def check_map_state(scope: StateScope) -> None:
    _check_processor(scope)
    _check_items(scope)
    _check_limits(scope)
    for key in ("ItemReader", "ItemBatcher", "ResultWriter"):
        if key in scope.body and not isinstance(scope.body[key], dict):
            scope.error(f'The field "{key}" must be an object', key)
        elif key in scope.body and scope.jsonata:
            check_jsonata_value(scope.report, scope.at(key), scope.body[key])
    if "Label" in scope.body:
        _check_label(scope, scope.body["Label"])


def _check_label(scope: StateScope, label: JSON) -> None:
    """Developer Guide, "Distributed Map state", ``Label``: "Labels can't exceed 40
    characters in length, must be unique within a state machine definition, and can't
    contain" whitespace, wildcard, bracket, special or control characters. The guide gives
    no error text: the wording here is Stepwell's (uniqueness: ``validation.py``)."""
    if not isinstance(label, str):
        scope.error('The field "Label" must be a string', "Label")
    elif len(label) > MAX_LABEL_LENGTH:
        scope.error(f'The field "Label" must be at most {MAX_LABEL_LENGTH} characters', "Label")
    elif forbidden := next((c for c in label if _forbidden_in_label(c)), None):
        shown = repr(forbidden) if forbidden.isspace() or not forbidden.isprintable() else forbidden
        scope.error(f'The field "Label" must not contain the character {shown}', "Label")


MAX_LABEL_LENGTH: Final = 40
_LABEL_SPECIALS: Final = frozenset('?*<>{}[]:;,\\|^~$#%&`"')


def _forbidden_in_label(char: str) -> bool:
    """Whitespace, ``? *``, ``< > { } [ ]``, ``: ; , \\ | ^ ~ $ # % & ` "``, and the control
    characters U+0000-U+001F and U+007F-U+009F."""
    code = ord(char)
    return char.isspace() or char in _LABEL_SPECIALS or code <= 0x1F or 0x7F <= code <= 0x9F


def _check_processor(scope: StateScope) -> None:
    present = check_exclusive(scope, "ItemProcessor", "Iterator")
    if not present:
        scope.error('Missing required field "ItemProcessor"')
        return
    key = present[0]
    graph = scope.body[key]
    scope.check_graph(graph, scope.at(key), "processor" if key == "ItemProcessor" else "iterator")
    if isinstance(graph, dict) and "ProcessorConfig" in graph:
        # ``Iterator.ProcessorConfig`` is accepted and acts as under ItemProcessor (B6).
        _check_processor_config(scope, key, graph["ProcessorConfig"])


def _check_processor_config(scope: StateScope, key: str, config: JSON) -> None:
    location = scope.at(key, "ProcessorConfig")
    if not isinstance(config, dict):
        scope.report.error(location, 'The field "ProcessorConfig" must be an object')
        return
    unknown_fields(scope.report, location, config, _PROCESSOR_CONFIG_FIELDS)
    mode = config.get("Mode", "INLINE")
    if mode not in MODES:
        scope.report.error(
            join(location, "Mode"),
            f'The field "Mode" must be "INLINE" or "DISTRIBUTED", not {show(mode)}',
        )
    execution_type = config.get("ExecutionType")
    if mode == "DISTRIBUTED" and "ExecutionType" not in config:
        scope.report.error(location, 'Missing required field "ExecutionType" for DISTRIBUTED mode')
    elif "ExecutionType" in config and execution_type not in EXECUTION_TYPES:
        scope.report.error(
            join(location, "ExecutionType"),
            'The field "ExecutionType" must be "STANDARD" or "EXPRESS"',
        )


def _check_items(scope: StateScope) -> None:
    body = scope.body
    if scope.jsonata:
        if "Items" in body:
            items = body["Items"]
            if isinstance(items, str):
                check_jsonata_string(scope.report, scope.at("Items"), items, required=True)
            elif isinstance(items, list):
                check_jsonata_value(scope.report, scope.at("Items"), items)
            else:
                scope.error('The field "Items" must be an array or a JSONata expression', "Items")
        if "ItemSelector" in body:
            check_jsonata_value(scope.report, scope.at("ItemSelector"), body["ItemSelector"])
        return
    if "ItemsPath" in body:
        check_path_field(scope.report, scope.at("ItemsPath"), "ItemsPath", body["ItemsPath"])
    for key in check_exclusive(scope, "ItemSelector", "Parameters"):
        check_payload_template(scope.report, scope.at(key), key, body[key])


def _check_limits(scope: StateScope) -> None:
    body = scope.body
    for key in _LIMITS:
        check_exclusive(scope, key, f"{key}Path")
        if f"{key}Path" in body:
            check_path_field(scope.report, scope.at(f"{key}Path"), f"{key}Path", body[f"{key}Path"])
    check_integer_or_jsonata(scope, "MaxConcurrency", 0)
    check_integer_or_jsonata(scope, "ToleratedFailureCount", 0)
    if "ToleratedFailurePercentage" not in body:
        return
    percentage = body["ToleratedFailurePercentage"]
    if scope.jsonata and isinstance(percentage, str):
        check_jsonata_string(
            scope.report, scope.at("ToleratedFailurePercentage"), percentage, required=True
        )
    elif not (is_number(percentage) and 0 <= percentage <= 100):
        scope.error(
            'The field "ToleratedFailurePercentage" must be a number between 0 and 100',
            "ToleratedFailurePercentage",
        )
