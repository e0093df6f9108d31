"""Which workflow variables each state reads: DescribeStateMachine's ``variableReferences``.

AWS lists, for every state that reads variables through JSONPath, the sorted names it
reads (aws-behaviour K5): ``.$`` fields of its templates (Parameters, ResultSelector,
ItemSelector, Assign, ItemReader, ItemBatcher, ResultWriter, Catch and Choice Assign),
its ``...Path`` fields (InputPath, ItemsPath, SecondsPath, ErrorPath, MaxItemsPath, ...),
a Choice rule's ``Variable`` and ``...Path`` operands, and the arguments of intrinsic
functions (``States.Format($template, $.x)``). A value without ``.$`` (``"$bucket"``)
is text, not a reference; ResultPath writes, it does not read. States of Parallel
branches and Map processors are listed by their own names. JSONata states are left out:
how AWS lists their ``$var`` references was not observed.

Design: worked out once, when a definition is compiled (``compiler.compile_definition``
keeps the result on the ``StateMachine``), by walking the compiled graphs beside the raw
definition: the compiled state knows its resolved query language, the raw body its fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from stepwell.language import model as m
from stepwell.language.errors import ExpressionSyntaxError
from stepwell.language.intrinsics import is_intrinsic
from stepwell.language.jsonpath import compile_path

JSON = Any

# Fields of a state (or of its ItemReader.ReaderConfig / ItemBatcher) holding a path read
# from the data or the variables.
_PATH_FIELDS: Final = (
    "InputPath",
    "OutputPath",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
    "ErrorPath",
    "CausePath",
    "MaxItemsPath",
    "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatchPath",
)
# Fields of a state holding a payload template, whose ``.$`` keys are expressions.
_TEMPLATE_FIELDS: Final = ("Parameters", "ResultSelector", "ItemSelector", "Assign")
# Distributed Map configuration objects: their own templates and path fields.
_MAP_CONFIGS: Final = ("ItemReader", "ItemBatcher", "ResultWriter")
_DYNAMIC: Final = ".$"
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")
_VARIABLE = re.compile(r"(?<![$\w])\$([^\W\d]\w*)")

References = dict[str, tuple[str, ...]]


def variable_references(root: m.Graph, data: Mapping[str, JSON]) -> References:
    """State name -> sorted names of the variables it reads; states reading none are left
    out, so a machine reading no variable has an empty mapping."""
    found: References = {}
    for name, names in _graph_references(root, data):
        if names:
            found[name] = tuple(sorted(names))
    return found


def _graph_references(graph: m.Graph, data: JSON) -> Iterator[tuple[str, set[str]]]:
    """The compiled graph beside its (validated) raw definition, state by state."""
    for name, state in graph.states.items():
        body = data["States"][name]
        if not state.is_jsonata:
            yield name, _state_reads(body)
        if isinstance(state, m.ParallelState):
            for branch, raw in zip(state.branches, body["Branches"], strict=True):
                yield from _graph_references(branch, raw)
        elif isinstance(state, m.MapState):
            processor = body.get("ItemProcessor", body.get("Iterator"))
            yield from _graph_references(state.processor, processor)


def _state_reads(body: Mapping[str, JSON]) -> set[str]:
    names = _fields_reads(body)
    for key in _MAP_CONFIGS:
        config = body.get(key)
        if isinstance(config, dict):
            names |= _fields_reads(config)
            reader = config.get("ReaderConfig")
            if isinstance(reader, dict):
                names |= _fields_reads(reader)
            names |= _template_reads(config.get("BatchInput"))
    for catcher in _objects(body.get("Catch")):
        names |= _template_reads(catcher.get("Assign"))
    for rule in _objects(body.get("Choices")):
        names |= _rule_reads(rule)
        names |= _template_reads(rule.get("Assign"))
    return names


def _fields_reads(body: Mapping[str, JSON]) -> set[str]:
    names: set[str] = set()
    for key in _PATH_FIELDS:
        names |= _expression_reads(body.get(key))
    for key in _TEMPLATE_FIELDS:
        names |= _template_reads(body.get(key))
    return names


def _rule_reads(rule: Mapping[str, JSON]) -> set[str]:
    """A Choice rule's ``Variable``, its ``...Path`` comparisons, and nested rules."""
    names = _expression_reads(rule.get("Variable"))
    for key, value in rule.items():
        if key.endswith("Path"):
            names |= _expression_reads(value)
    for nested in _objects(rule.get("And")) + _objects(rule.get("Or")):
        names |= _rule_reads(nested)
    inner = rule.get("Not")
    if isinstance(inner, dict):
        names |= _rule_reads(inner)
    return names


def _template_reads(template: JSON) -> set[str]:
    names: set[str] = set()
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(_DYNAMIC) and isinstance(value, str):
                names |= _expression_reads(value)
            else:
                names |= _template_reads(value)
    elif isinstance(template, list):
        for item in template:
            names |= _template_reads(item)
    return names


def _expression_reads(text: JSON) -> set[str]:
    """The variables a path or an intrinsic call reads."""
    if not isinstance(text, str):
        return set()
    text = text.strip()
    if is_intrinsic(text):
        # Arguments are paths, literals and nested calls: the paths are what is left
        # once the quoted literals are taken out.
        return set(_VARIABLE.findall(_STRING_LITERAL.sub("''", text)))
    try:
        path = compile_path(text)
    except ExpressionSyntaxError:
        return set()
    return {path.variable} if path.root == "variable" else set()


def _objects(value: JSON) -> list[dict[str, JSON]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
