"""What an EventBridge rule sends to a target: the event, ``Input``, ``InputPath`` or the
``InputTransformer``'s rendering of it.

From the Amazon EventBridge User Guide ("Amazon EventBridge input transformation"):

* ``InputPathsMap`` names up to 100 variables, each a JSONPath into the event;
  ``InputTemplate`` uses them as ``<name>``;
* predefined variables, which may not be redefined: ``aws.events.rule-arn``,
  ``aws.events.rule-name``, ``aws.events.event.ingestion-time``, ``aws.events.event``
  (the event without ``detail``) and ``aws.events.event.json`` (the whole event);
* inside a quoted string of the template a variable's value is inserted as text (string
  values without their quotes, JSON-escaped); outside quotes it is inserted as JSON;
* a path that finds nothing in the event gives ``null`` (an empty text inside quotes).

Design decision: targets are checked when they are put (``check_target_input``), so a
bad path is a ``ValidationException`` at ``PutTargets``; rendering is a pure function
of the event, the rule and the time. The JSONPath dialect is Step Functions' (a superset
of what EventBridge documents: dot notation, indices, wildcards).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from stepwell.language.errors import ExpressionSyntaxError
from stepwell.language.jsonpath import PathNotFound, compile_path

MAX_VARIABLES: Final = 100
# Amazon EventBridge API Reference, InputTransformer: InputTemplate is 1 to 8,192 characters.
MAX_TEMPLATE_LENGTH: Final = 8192
PREDEFINED: Final = frozenset(
    {
        "aws.events.rule-arn",
        "aws.events.rule-name",
        "aws.events.event.ingestion-time",
        "aws.events.event",
        "aws.events.event.json",
    }
)
_PLACEHOLDER: Final = re.compile(r"<([A-Za-z0-9_.\-]+)>")


class InvalidTargetInput(ValueError):
    """A target's Input, InputPath or InputTransformer EventBridge refuses."""


def check_target_input(target: Mapping[str, Any]) -> None:
    """Raise InvalidTargetInput for a target whose input settings AWS would refuse."""
    given = [key for key in ("Input", "InputPath", "InputTransformer") if key in target]
    if len(given) > 1:
        raise InvalidTargetInput(
            f"Only one of Input, InputPath, or InputTransformer must be provided "
            f"for target {target.get('Id')}."
        )
    if "Input" in target:
        try:
            orjson.loads(str(target["Input"]))
        except orjson.JSONDecodeError:
            message = f"Input for target {target.get('Id')} is not valid JSON."
            raise InvalidTargetInput(message) from None
    if "InputPath" in target:
        _path(str(target["InputPath"]))
    transformer = target.get("InputTransformer")
    if isinstance(transformer, Mapping):
        _check_template(transformer.get("InputTemplate"))
        paths = transformer.get("InputPathsMap") or {}
        if not isinstance(paths, Mapping):
            raise InvalidTargetInput("InputPathsMap must be a map of variable names to paths.")
        if len(paths) > MAX_VARIABLES:
            raise InvalidTargetInput(f"InputPathsMap has more than {MAX_VARIABLES} variables.")
        for name, path in paths.items():
            if name in PREDEFINED:
                raise InvalidTargetInput(f"InputPathsMap may not redefine {name}.")
            _path(str(path))


def _check_template(template: Any) -> None:
    if template is None:
        return
    if not isinstance(template, str):
        raise InvalidTargetInput("InputTemplate must be a string.")
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise InvalidTargetInput(
            f"InputTemplate is longer than {MAX_TEMPLATE_LENGTH} characters ({len(template)})."
        )


def _path(text: str) -> Any:
    try:
        return compile_path(text)
    except (ExpressionSyntaxError, ValueError):
        raise InvalidTargetInput(f"{text!r} is not a valid JSONPath.") from None


def target_input(
    target: Mapping[str, Any],
    event: Mapping[str, Any],
    rule_name: str,
    rule_arn: str,
    ingestion_time: str,
) -> str:
    """The text a target receives for ``event`` (a checked target)."""
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return _json(_lookup(str(target["InputPath"]), event))
    transformer = target.get("InputTransformer")
    if isinstance(transformer, Mapping):
        variables: dict[str, Any] = {
            name: _lookup(str(path), event)
            for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        variables.update(
            {
                "aws.events.rule-arn": rule_arn,
                "aws.events.rule-name": rule_name,
                "aws.events.event.ingestion-time": ingestion_time,
                "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
                "aws.events.event.json": dict(event),
            }
        )
        return render_template(str(transformer.get("InputTemplate", "")), variables)
    return _json(event)


def _lookup(path: str, event: Mapping[str, Any]) -> Any:
    try:
        return _path(path).get(event, {})
    except PathNotFound:
        return None


def render_template(template: str, variables: Mapping[str, Any]) -> str:
    """``InputTemplate`` with each ``<name>`` replaced: as text inside a quoted string,
    as JSON outside. Names that are not variables are left as they are."""
    pieces: list[str] = []
    position = 0
    quotes = _QuoteScanner(template)
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in variables:
            continue
        pieces.append(template[position : match.start()])
        value = variables[name]
        if quotes.inside_at(match.start()):
            pieces.append(_as_text(value))
        else:
            pieces.append(_json(value))
        position = match.end()
    pieces.append(template[position:])
    return "".join(pieces)


class _QuoteScanner:
    """Whether an offset lies within a JSON string literal of the template, for offsets
    asked in increasing order: one left-to-right pass over the whole template."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.index = 0
        self.inside = False

    def inside_at(self, offset: int) -> bool:
        template, index, inside = self.template, self.index, self.inside
        while index < offset:
            char = template[index]
            if inside and char == "\\":
                index += 2
                continue
            if char == '"':
                inside = not inside
            index += 1
        self.index, self.inside = index, inside
        return inside


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else _json(value)
    return orjson.dumps(text).decode()[1:-1]  # JSON-escaped, without the quotes


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


__all__ = ["InvalidTargetInput", "check_target_input", "render_template", "target_input"]
