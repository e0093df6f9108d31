"""CloudFormation's intrinsic functions, conditions, parameters and pseudo parameters.

Written here because no maintained library resolves them outside CloudFormation itself:
cfn-lint checks templates without evaluating them, and the SAM translator resolves only
the few it needs. The rules are the CloudFormation User Guide's ("Intrinsic function
reference", "Pseudo parameters reference", "Parameters"): ``Ref`` of a Number parameter
is a string, of a ``List<...>``/``CommaDelimitedList`` parameter a list of strings;
``AWS::NoValue`` removes the property or list element it stands in.

Resources are asked for their ``Ref`` value and attributes through ``ResourceLookup``,
so this module knows nothing of resource types.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stepwell.stack.template import StackError

ResourceLookup = Callable[[str, str | None], Any]  # (logical id, attribute or None for Ref)

_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")


@dataclass(frozen=True, slots=True)
class StackIdentity:
    """What the pseudo parameters resolve to."""

    name: str
    region: str
    account: str
    stack_id: str

    @property
    def pseudo(self) -> dict[str, Any]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::StackName": self.name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }


@dataclass
class Resolver:
    """Evaluates the intrinsic functions in any part of one template."""

    template: Mapping[str, Any]
    identity: StackIdentity
    parameters: Mapping[str, Any]
    lookup: ResourceLookup
    _conditions: dict[str, bool] = field(default_factory=dict)
    _evaluating: set[str] = field(default_factory=set)

    def resolve(self, value: Any) -> Any:
        resolved = self._resolve(value)
        return None if resolved is _NO_VALUE else resolved

    def condition(self, name: str) -> bool:
        """The value of the named condition of the Conditions section."""
        if name in self._conditions:
            return self._conditions[name]
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise StackError(f"the condition {name!r} is not in the Conditions section")
        if name in self._evaluating:
            raise StackError(f"the condition {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            result = bool(self._resolve(conditions[name]))
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = result
        return result

    # ----------------------------------------------------------------- walking

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, argument)
        resolved = {key: self._resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    # ----------------------------------------------------------------- functions

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise StackError(f"Ref needs a name, not {name!r}")
        if name == "AWS::NoValue":
            return _NO_VALUE
        pseudo = self.identity.pseudo
        if name in pseudo:
            return pseudo[name]
        if name in (self.template.get("Parameters") or {}):
            return self.parameter(name)
        if name in self.template["Resources"]:
            return self.lookup(name, None)
        raise StackError(f"Ref to {name!r}: no parameter or resource has that name")

    def parameter(self, name: str) -> Any:
        declared = self.template["Parameters"][name] or {}
        if name in self.parameters:
            value = self.parameters[name]
        elif "Default" in declared:
            value = declared["Default"]
        else:
            raise StackError(
                f"the parameter {name} has no default: give it with --parameter-overrides "
                f"{name}=VALUE"
            )
        kind = str(declared.get("Type", "String"))
        if kind.startswith("List<") or kind == "CommaDelimitedList":
            items = value if isinstance(value, list) else str(value).split(",")
            return [str(item).strip() for item in items]
        return _text(value)

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            logical, _, attribute = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2:
            logical, attribute = str(argument[0]), str(self._resolve(argument[1]))
        else:
            raise StackError(f"Fn::GetAtt needs [resource, attribute], not {argument!r}")
        if logical not in self.template["Resources"]:
            raise StackError(f"Fn::GetAtt of {logical!r}: no resource has that name")
        return self.lookup(logical, attribute)

    def _sub(self, argument: Any) -> Any:
        variables: dict[str, Any] = {}
        if isinstance(argument, str):
            text = argument
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            text, variables = argument[0], self._resolve(argument[1]) or {}
        else:
            raise StackError(f"Fn::Sub needs a string or [string, variables], not {argument!r}")

        def substitute(match: re.Match[str]) -> str:
            if match.group(1):  # ${!Literal}
                return "${" + match.group(2) + "}"
            name = match.group(2).strip()
            if name in variables:
                return _text(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                return _text(self._get_att(name))
            return _text(self._ref(name))

        return _SUB_VARIABLE.sub(substitute, text)

    def _join(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise StackError(f"Fn::Join needs [delimiter, [values]], not {argument!r}")
        delimiter, values = argument[0], self._resolve(argument[1])
        if not isinstance(values, list):
            raise StackError(f"Fn::Join needs a list of values, not {values!r}")
        return str(delimiter).join(_text(item) for item in values)

    def _if(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3):
            raise StackError(f"Fn::If needs [condition, then, else], not {argument!r}")
        chosen = argument[1] if self.condition(str(argument[0])) else argument[2]
        return self._resolve(chosen)

    def _select(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise StackError(f"Fn::Select needs [index, list], not {argument!r}")
        index, values = self._resolve(argument[0]), self._resolve(argument[1])
        try:
            return values[int(index)]
        except (ValueError, TypeError, IndexError):
            raise StackError(f"Fn::Select: no item {index!r} in {values!r}") from None

    def _split(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise StackError(f"Fn::Split needs [delimiter, string], not {argument!r}")
        return _text(self._resolve(argument[1])).split(str(argument[0]))

    def _find_in_map(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) in (3, 4)):
            raise StackError(f"Fn::FindInMap needs [map, key, key], not {argument!r}")
        name, top, second = (_text(self._resolve(part)) for part in argument[:3])
        try:
            return self.template["Mappings"][name][top][second]
        except (KeyError, TypeError):
            if len(argument) == 4 and isinstance(argument[3], dict):  # DefaultValue
                return self._resolve(argument[3].get("DefaultValue"))
            raise StackError(f"Fn::FindInMap: no {name}/{top}/{second} in Mappings") from None

    def _equals(self, argument: Any) -> bool:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise StackError(f"Fn::Equals needs two values, not {argument!r}")
        left, right = (self._resolve(part) for part in argument)
        return _text(left) == _text(right) if not isinstance(left, list) else left == right

    def _and(self, argument: Any) -> bool:
        return all(self._boolean(part) for part in _conditions_list(argument, "Fn::And"))

    def _or(self, argument: Any) -> bool:
        return any(self._boolean(part) for part in _conditions_list(argument, "Fn::Or"))

    def _not(self, argument: Any) -> bool:
        parts = _conditions_list(argument, "Fn::Not")
        return not self._boolean(parts[0])

    def _boolean(self, part: Any) -> bool:
        return bool(self._resolve(part))

    def _condition_reference(self, argument: Any) -> bool:
        return self.condition(str(argument))

    def _base64(self, argument: Any) -> str:
        return base64.b64encode(_text(self._resolve(argument)).encode()).decode()

    def _get_azs(self, argument: Any) -> list[str]:
        region = _text(self._resolve(argument)) or self.identity.region
        return [f"{region}{zone}" for zone in "abc"]

    def _import_value(self, argument: Any) -> Any:
        raise StackError(
            f"Fn::ImportValue {self._resolve(argument)!r}: exports of other stacks are not "
            "available to a local stack; pass the value as a parameter instead"
        )

    def _to_json_string(self, argument: Any) -> str:
        import json

        return json.dumps(self._resolve(argument), separators=(",", ":"))

    def _length(self, argument: Any) -> int:
        values = self._resolve(argument)
        if not isinstance(values, list):
            raise StackError(f"Fn::Length needs a list, not {values!r}")
        return len(values)


def _conditions_list(argument: Any, name: str) -> list[Any]:
    if not isinstance(argument, list) or not argument:
        raise StackError(f"{name} needs a list of conditions, not {argument!r}")
    return argument


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    return str(value)


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": Resolver._ref,
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::If": Resolver._if,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::Equals": Resolver._equals,
    "Fn::And": Resolver._and,
    "Fn::Or": Resolver._or,
    "Fn::Not": Resolver._not,
    "Condition": Resolver._condition_reference,
    "Fn::Base64": Resolver._base64,
    "Fn::GetAZs": Resolver._get_azs,
    "Fn::ImportValue": Resolver._import_value,
    "Fn::ToJsonString": Resolver._to_json_string,
    "Fn::Length": Resolver._length,
}
