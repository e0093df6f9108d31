"""SNS subscription filter policies: which published messages a subscription receives.

From the Amazon SNS Developer Guide ("Amazon SNS subscription filter policies", "Filter
policy constraints", "Amazon SNS message filtering operators"):

* a policy is a JSON object; every key must match (AND), and a key's array of
  conditions matches if any one does (OR); ``"$or": [policy, …]`` matches if any
  sub-policy does;
* ``FilterPolicyScope`` ``MessageAttributes`` (the default) matches the message
  attributes (a ``String.Array`` attribute matches if any element does);
  ``MessageBody`` matches the message's JSON body, nested keys as nested objects;
* conditions: a string or number literal (exact; numbers compare numerically),
  ``{"prefix": …}``, ``{"suffix": …}``, ``{"equals-ignore-case": …}``,
  ``{"anything-but": value | [values] | {"prefix": …}}``, ``{"numeric": [">", 0, "<=", 5]}``,
  ``{"exists": true|false}``;
* a message without the key matches only ``{"exists": false}``.

Design decision: policies are checked (``check_policy``) when set, so a malformed one is
an ``InvalidParameter`` error at Subscribe, never a failure at publish time.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from contextlib import suppress
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

from stepwell.integrations.services.base import ServiceError

_MISSING: Final = object()
_COMPARISONS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
OPERATORS: Final = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists"}
)


def invalid_policy(reason: str) -> ServiceError:
    return ServiceError(
        "InvalidParameterException",
        f"Invalid parameter: FilterPolicy: {reason}",
        code="InvalidParameter",
    )


def parse_policy(text: str) -> dict[str, Any]:
    """A filter policy from its JSON text, checked."""
    try:
        policy = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise invalid_policy("failed to parse JSON") from None
    check_policy(policy)
    result: dict[str, Any] = policy
    return result


def check_policy(policy: Any) -> None:
    if not isinstance(policy, dict) or not policy:
        raise invalid_policy("Filter policy must be a non-empty JSON object")
    for key, conditions in policy.items():
        if key == "$or":
            if not isinstance(conditions, list) or len(conditions) < 2:
                raise invalid_policy("$or must be an array of at least two policies")
            for branch in conditions:
                check_policy(branch)
        elif isinstance(conditions, dict):
            check_policy(conditions)  # a nested key (MessageBody scope)
        elif not isinstance(conditions, list) or not conditions:
            raise invalid_policy(f'"{key}" must be an array of conditions')
        else:
            for condition in conditions:
                _check_condition(key, condition)


def _check_condition(key: str, condition: Any) -> None:
    if not isinstance(condition, dict):
        return  # a string, number, boolean or null literal
    if len(condition) != 1 or next(iter(condition)) not in OPERATORS:
        raise invalid_policy(f'Unrecognized match type {sorted(condition)} for "{key}"')
    name, value = next(iter(condition.items()))
    if name == "numeric":
        _numeric_pairs(key, value)
    elif name == "exists" and not isinstance(value, bool):
        raise invalid_policy(f'exists match pattern must be either true or false for "{key}"')
    elif name in ("prefix", "suffix", "equals-ignore-case") and not isinstance(value, str):
        raise invalid_policy(f'{name} match pattern must be a string for "{key}"')


def _numeric_pairs(key: str, value: Any) -> list[tuple[str, Decimal]]:
    if not isinstance(value, list) or not value or len(value) % 2:
        raise invalid_policy(f"Value of numeric must be an array of operators and numbers ({key})")
    pairs = []
    for index in range(0, len(value), 2):
        comparison, number = value[index], value[index + 1]
        if comparison not in _COMPARISONS or _number(number) is None:
            raise invalid_policy(f"Unrecognized numeric range operator: {comparison}")
        pairs.append((str(comparison), _number(number) or Decimal(0)))
    return pairs


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


# --- matching ---------------------------------------------------------------------------


def attribute_values(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Message attributes as the values a policy sees (String.Array → list, Number → num)."""
    values: dict[str, Any] = {}
    for name, attribute in attributes.items():
        data_type = str(attribute.get("DataType", "String"))
        value = attribute.get("StringValue")
        if data_type.startswith("Binary"):
            continue  # AWS does not filter on binary attributes
        if data_type == "String.Array":
            with suppress(orjson.JSONDecodeError):
                value = orjson.loads(str(value))
        elif data_type.startswith("Number"):
            value = _number(value) if _number(value) is not None else value
        values[name] = value
    return values


def matches(policy: Mapping[str, Any], document: Mapping[str, Any]) -> bool:
    """Whether a message (its attributes, or its body) passes the policy."""
    for key, conditions in policy.items():
        if key == "$or":
            if not any(matches(branch, document) for branch in conditions):
                return False
            continue
        value = document.get(key, _MISSING) if isinstance(document, Mapping) else _MISSING
        if isinstance(conditions, dict):
            if not isinstance(value, Mapping) or not matches(conditions, value):
                return False
        elif not any(_condition(condition, value) for condition in conditions):
            return False
    return True


def _condition(condition: Any, value: Any) -> bool:
    if isinstance(condition, dict) and next(iter(condition)) == "exists":
        return bool(condition["exists"]) == (value is not _MISSING)
    if value is _MISSING:
        return False
    if isinstance(value, list):
        return any(_condition(condition, item) for item in value)
    if not isinstance(condition, dict):
        return _equal(condition, value)
    name, expected = next(iter(condition.items()))
    return bool(_MATCHERS[name](expected, value))


def _equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, str) or expected is None or isinstance(expected, bool):
        return bool(expected == value) and type(expected) is type(value)
    if isinstance(value, str):
        return False  # a number matches Number attributes (and JSON numbers) only
    number, actual = _number(expected), _number(value)
    return number is not None and actual is not None and number == actual


def _anything_but(expected: Any, value: Any) -> bool:
    if isinstance(expected, dict):
        return not _MATCHERS["prefix"](expected.get("prefix"), value)
    excluded = expected if isinstance(expected, list) else [expected]
    return not any(_equal(item, value) for item in excluded)


def _numeric(expected: Any, value: Any) -> bool:
    actual = None if isinstance(value, str) else _number(value)
    if actual is None:
        return False
    return all(_COMPARISONS[op](actual, number) for op, number in _numeric_pairs("", expected))


_MATCHERS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "prefix": lambda expected, value: isinstance(value, str) and value.startswith(expected),
    "suffix": lambda expected, value: isinstance(value, str) and value.endswith(expected),
    "equals-ignore-case": lambda expected, value: (
        isinstance(value, str) and value.lower() == str(expected).lower()
    ),
    "anything-but": _anything_but,
    "numeric": _numeric,
}


def accepts(subscription_attributes: Mapping[str, str], message: str, attributes: Any) -> bool:
    """Whether a subscription with these attributes receives this message."""
    text = subscription_attributes.get("FilterPolicy")
    if not text:
        return True
    policy = orjson.loads(text)
    if subscription_attributes.get("FilterPolicyScope") == "MessageBody":
        try:
            body = orjson.loads(message)
        except orjson.JSONDecodeError:
            return False
        return isinstance(body, Mapping) and matches(policy, body)
    return matches(policy, attribute_values(attributes or {}))
