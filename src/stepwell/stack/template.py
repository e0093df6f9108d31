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


def _scalar_text(value: Any) -> str:
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
        template = json.loads(json.dumps(loaded, default=_scalar_text))
    except TypeError as problem:
        raise StackError(f"{where} holds a value no template may hold: {problem}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise StackError(f"{where} has no Resources section: it is not a template")
    return template
