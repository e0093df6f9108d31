"""Reading a template file: YAML (with CloudFormation's short-form tags) or JSON.

The short forms (``!Ref X``, ``!GetAtt X.Arn``, ``!Sub "..."``, ``!If [...]``) are YAML
tags that a plain YAML reader refuses. ``cfn-flip``, AWS's own template converter, reads
them into the long forms (``{"Ref": "X"}``, ``{"Fn::GetAtt": ["X", "Arn"]}``). It was
chosen over cfn-lint's decoder by measurement: both read the same templates, but importing
cfn-lint's decoder takes 0.75 s and brings sympy and networkx (140 MB), cfn-flip 0.06 s.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import yaml
from cfn_flip import load_json, load_yaml

Template = dict[str, Any]


class StackError(Exception):
    """A template Stepwell cannot run: the message says what and where."""


def load_template(path: Path) -> Template:
    """The template at ``path`` as plain dicts and lists, short-form tags expanded."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as problem:
        raise StackError(f"cannot read the template {path}: {problem.strerror}") from None
    return parse_template(text, str(path))


def scalar_text(value: Any) -> str:
    """A YAML scalar JSON has no type for, as the text CloudFormation reads: an unquoted
    ``AWSTemplateFormatVersion: 2010-09-09`` is a date to YAML, the string "2010-09-09"
    to CloudFormation (User Guide, "Format version": the value "can only be a literal
    string")."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a template value")


def parse_template(text: str, where: str = "the template") -> Template:
    try:
        loaded = load_json(text) if text.lstrip().startswith("{") else load_yaml(text)
    except (ValueError, yaml.YAMLError) as problem:
        raise StackError(f"{where} is not valid YAML or JSON: {problem}") from None
    # cfn-flip gives its own ordered dict type; the rest of Stepwell wants plain JSON.
    try:
        template = json.loads(json.dumps(loaded, default=scalar_text))
    except TypeError as problem:
        raise StackError(f"{where} holds a value no template may hold: {problem}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise StackError(f"{where} has no Resources section: it is not a template")
    return template


def include_local_files(value: Any, base: Path, within: tuple[Path, ...] = ()) -> Any:
    """``value`` with each ``Fn::Transform`` of ``AWS::Include`` whose ``Location`` is a
    local file replaced by that file's content (CloudFormation User Guide, "AWS::Include
    transform": the snippet at ``Location`` is inserted where the transform stands; ``sam
    deploy`` and ``aws cloudformation package`` upload a local ``Location`` first). An
    include from S3 is left as it is: nothing is fetched. ``within``: the files being
    included around ``value``, so a file that includes itself is an error, not a loop."""
    if isinstance(value, list):
        return [include_local_files(item, base, within) for item in value]
    if not isinstance(value, dict):
        return value
    transform = value.get("Fn::Transform") if len(value) == 1 else None
    if isinstance(transform, dict) and transform.get("Name") == "AWS::Include":
        location = (transform.get("Parameters") or {}).get("Location")
        if isinstance(location, str) and "://" not in location:
            path = (base / location).resolve()
            if path in within:
                raise StackError(f"AWS::Include: {path} includes itself")
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as problem:
                raise StackError(f"AWS::Include: cannot read {path}: {problem.strerror}") from None
            included = json.loads(json.dumps(_load_snippet(text, str(path)), default=scalar_text))
            return include_local_files(included, path.parent, (*within, path))
    return {key: include_local_files(item, base, within) for key, item in value.items()}


def _load_snippet(text: str, where: str) -> Any:
    try:
        return load_json(text) if text.lstrip()[:1] in ("{", "[") else load_yaml(text)
    except (ValueError, yaml.YAMLError) as problem:
        raise StackError(f"{where} is not valid YAML or JSON: {problem}") from None
