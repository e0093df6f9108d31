"""Reading request parameters the way DynamoDB's front end validates them.

Two layers, as on AWS. A member of the wrong JSON type (a number where a string belongs)
is a ``SerializationException``. A member that breaks a declared constraint (required,
length, pattern, enum, range) is collected, and all of them are reported together in
AWS's words: ``1 validation error detected: Value 'ab' at 'tableName' failed to satisfy
constraint: Member must have length greater than or equal to 3`` (members are named in
lower camel case, as in the service's messages).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from stepwell.integrations.dynamodb.errors import serialization, validation
from stepwell.integrations.dynamodb.values import json_kind

TABLE_NAME_PATTERN: Final = "[a-zA-Z0-9_.-]+"
_TABLE_NAME: Final = re.compile(TABLE_NAME_PATTERN)
RETURN_VALUES: Final = ("ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW")
RETURN_VALUES_ON_FAILURE: Final = ("ALL_OLD", "NONE")
SELECT: Final = ("SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES")
CONSUMED_CAPACITY: Final = ("INDEXES", "TOTAL", "NONE")
COLLECTION_METRICS: Final = ("SIZE", "NONE")
LEGACY_PARAMETERS: Final = (
    "AttributesToGet",
    "AttributeUpdates",
    "ConditionalOperator",
    "Expected",
    "KeyConditions",
    "QueryFilter",
    "ScanFilter",
)


class Request:
    """One operation's parameters, read with constraint checks that collect failures."""

    def __init__(self, parameters: object, prefix: str = "") -> None:
        if not isinstance(parameters, Mapping):
            raise serialization("Start of structure or map found where not expected")
        self.parameters: Mapping[str, Any] = parameters
        self.prefix = prefix
        self.failures: list[str] = []

    def member(self, field: str) -> str:
        """AWS's name for a parameter in messages: ``TableName`` → ``tableName``."""
        return self.prefix + field[0].lower() + field[1:]

    def violated(self, field: str, value: object, constraint: str) -> None:
        shown = "null" if value is None else f"'{_show(value)}'"
        self.failures.append(
            f"Value {shown} at '{self.member(field)}' failed to satisfy constraint: {constraint}"
        )

    def check(self) -> None:
        """Raise every collected constraint violation at once."""
        if self.failures:
            count = len(self.failures)
            noun = "error" if count == 1 else "errors"
            raise validation(f"{count} validation {noun} detected: " + "; ".join(self.failures))

    # --- typed readers --------------------------------------------------------------------

    def string(self, field: str, *, required: bool = False) -> str | None:
        value = self.parameters.get(field)
        if value is None:
            if required:
                self.violated(field, None, "Member must not be null")
            return None
        if not isinstance(value, str):
            raise serialization(f"{json_kind(value)} cannot be converted to String")
        return value

    def table_name(self, field: str = "TableName") -> str:
        name = self.string(field, required=True)
        if name is None:
            return ""
        self.length(field, name, 3, 255)
        if not _TABLE_NAME.fullmatch(name):
            self.violated(
                field, name, f"Member must satisfy regular expression pattern: {TABLE_NAME_PATTERN}"
            )
        return name

    def length(self, field: str, value: str, low: int, high: int) -> None:
        if len(value) < low:
            self.violated(field, value, f"Member must have length greater than or equal to {low}")
        if len(value) > high:
            self.violated(field, value, f"Member must have length less than or equal to {high}")

    def enum(self, field: str, allowed: Iterable[str], default: str | None = None) -> str | None:
        value = self.string(field)
        if value is None:
            return default
        allowed = tuple(allowed)
        if value not in allowed:
            self.violated(
                field, value, f"Member must satisfy enum value set: [{', '.join(allowed)}]"
            )
        return value

    def integer(self, field: str, low: int, high: int | None = None) -> int | None:
        value = self.parameters.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise serialization(f"{json_kind(value)} cannot be converted to Integer")
        if value < low:
            self.violated(field, value, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self.violated(field, value, f"Member must have value less than or equal to {high}")
        return value

    def boolean(self, field: str, default: bool = False) -> bool:
        value = self.parameters.get(field)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise serialization(f"{json_kind(value)} cannot be converted to Boolean")
        return value

    def mapping(self, field: str, *, required: bool = False) -> Mapping[str, Any] | None:
        value = self.parameters.get(field)
        if value is None:
            if required:
                self.violated(field, None, "Member must not be null")
            return None
        if not isinstance(value, Mapping):
            raise serialization(f"{json_kind(value)} cannot be converted to Map")
        return value

    def array(self, field: str) -> list[Any] | None:
        """A required list parameter (every list parameter Stepwell reads is required)."""
        value = self.parameters.get(field)
        if value is None:
            self.violated(field, None, "Member must not be null")
            return None
        if not isinstance(value, list | tuple):
            raise serialization(f"{json_kind(value)} cannot be converted to List")
        return list(value)

    def reject_legacy(self) -> None:
        """The pre-expression parameters are not implemented; say so plainly."""
        for field in LEGACY_PARAMETERS:
            if field in self.parameters:
                raise validation(
                    f"The legacy parameter {field} is not supported by Stepwell's embedded "
                    "DynamoDB; use the expression parameters instead"
                )


def _show(value: object) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)
