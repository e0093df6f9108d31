"""The expressions of one request, parsed (from cache) and bound together.

An operation names which expression parameters it accepts; ``read_expressions`` parses
each one present, binds all of them against the request's single pair of placeholder
maps, and then applies the request-wide rules: placeholder maps need an expression to
belong to, and every name and value they define must be used by some expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from stepwell.integrations.dynamodb.binding import Bindings, check_disjoint
from stepwell.integrations.dynamodb.errors import validation
from stepwell.integrations.dynamodb.parser import parse_condition, parse_projection, parse_update
from stepwell.integrations.dynamodb.requests import Request
from stepwell.integrations.dynamodb.syntax import Condition, Projection, UpdateExpression

CONDITION: Final = "ConditionExpression"
FILTER: Final = "FilterExpression"
KEY_CONDITION: Final = "KeyConditionExpression"
PROJECTION: Final = "ProjectionExpression"
UPDATE: Final = "UpdateExpression"


@dataclass(frozen=True, slots=True)
class Expressions:
    key_condition: Condition | None = None
    condition: Condition | None = None
    filter: Condition | None = None
    update: UpdateExpression | None = None
    projection: Projection | None = None


def read_expressions(request: Request, accepted: tuple[str, ...]) -> Expressions:
    texts = {field: request.string(field) for field in accepted}
    request.check()
    names = request.parameters.get("ExpressionAttributeNames")
    values = request.parameters.get("ExpressionAttributeValues")
    if all(text is None for text in texts.values()):
        for label, given in (
            ("ExpressionAttributeNames", names),
            ("ExpressionAttributeValues", values),
        ):
            if given is not None:
                raise validation(f"{label} can only be specified when using expressions")
    bindings = Bindings(names, values)
    key_condition = _condition(bindings, texts.get(KEY_CONDITION), KEY_CONDITION)
    condition = _condition(bindings, texts.get(CONDITION), CONDITION)
    update_text = texts.get(UPDATE)
    update = None if update_text is None else bindings.update(parse_update(update_text))
    filter_condition = _condition(bindings, texts.get(FILTER), FILTER)
    projection_text = texts.get(PROJECTION)
    projection = None if projection_text is None else _projection(bindings, projection_text)
    bindings.check_all_used()
    return Expressions(key_condition, condition, filter_condition, update, projection)


def _condition(bindings: Bindings, text: str | None, kind: str) -> Condition | None:
    return None if text is None else bindings.condition(parse_condition(text, kind), kind)


def _projection(bindings: Bindings, text: str) -> Projection:
    projection = bindings.projection(parse_projection(text))
    check_disjoint(list(projection.paths), PROJECTION)
    return projection
