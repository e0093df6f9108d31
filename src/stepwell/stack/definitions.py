"""A state machine resource's definition as CloudFormation hands it to Step Functions.

The definition comes inline (``Definition``, ``DefinitionString``) or from a file
(SAM's ``DefinitionUri``, translated to ``DefinitionS3Location``). CloudFormation User
Guide, ``AWS::StepFunctions::StateMachine`` ``DefinitionS3Location``: the file "must be
a JSON or YAML file"; a YAML one is turned into JSON here, as the state machine keeps
JSON. ``DefinitionSubstitutions`` then replace each ``${Name}`` placeholder with its
value ("Definition substitutions ... replace a placeholder ... with the value").

``stepwell up --check`` asks the same questions as ``stepwell up`` does, so a missing
file, a definition kept in real S3 or one CreateStateMachine would refuse is reported
before anything starts.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from stepwell.integrations.resources import diagnostics as resource_diagnostics
from stepwell.language.compiler import load_state_machine
from stepwell.language.validation import format_invalid_definition, validate_definition
from stepwell.stack.plan import Plan, PlannedResource
from stepwell.stack.template import StackError, scalar_text

_SUBSTITUTION = re.compile(r"\$\{([^}]+)\}")


def definition_text(plan: Plan, resource: PlannedResource) -> str:
    """The definition of ``resource`` with its substitutions applied."""
    props = resource.properties
    return substitute(_raw_definition(plan, resource), props.get("DefinitionSubstitutions"))


def definition_problems(plan: Plan, resource: PlannedResource) -> list[str]:
    """Why CreateStateMachine would refuse the definition of ``resource`` (empty: it
    would not)."""
    who = f"state machine {resource.logical_id}"
    try:
        text = definition_text(plan, resource)
    except StackError as problem:
        return [f"{who}: {problem}"]
    errors = [d for d in validate_definition(text) if d.severity == "ERROR"]
    if not errors:  # and the Task resources CreateStateMachine refuses
        errors = resource_diagnostics(load_state_machine(text))
    return [f"{who}: {format_invalid_definition(errors)}"] if errors else []


def substitute(definition: str, substitutions: Any) -> str:
    if not isinstance(substitutions, dict) or not substitutions:
        return definition

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        return attribute_text(substitutions[key]) if key in substitutions else match.group(0)

    return _SUBSTITUTION.sub(replace, definition)


def attribute_text(value: Any) -> str:
    """A resolved template value as the text CloudFormation puts in its place."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _raw_definition(plan: Plan, resource: PlannedResource) -> str:
    props = resource.properties
    if isinstance(props.get("DefinitionString"), str):
        return str(props["DefinitionString"])
    if isinstance(props.get("Definition"), dict):
        return json.dumps(props["Definition"], indent=2)
    location = props.get("DefinitionS3Location")
    if not isinstance(location, dict):
        raise StackError(f"{resource.logical_id}: no Definition, DefinitionString or DefinitionUri")
    path = plan.artifacts.local(location.get("Bucket"), location.get("Key"))
    if path is None:
        raise StackError(
            f"{resource.logical_id}: its definition is in S3 "
            f"(s3://{location.get('Bucket')}/{location.get('Key')}); give a local "
            "DefinitionUri or an inline Definition instead"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as problem:
        raise StackError(f"{resource.logical_id}: cannot read {path}: {problem.strerror}") from None
    return text if text.lstrip().startswith("{") else _yaml_as_json(text, resource)


def _yaml_as_json(text: str, resource: PlannedResource) -> str:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as problem:
        raise StackError(
            f"{resource.logical_id}: its definition file is neither JSON nor YAML: {problem}"
        ) from None
    try:
        return json.dumps(data, indent=2, default=scalar_text)  # unquoted dates stay text
    except TypeError as problem:
        raise StackError(
            f"{resource.logical_id}: its definition file holds a value JSON cannot: {problem}"
        ) from None
