"""The corpus of published definitions: state machines from AWS's own sample
repositories (``corpus/INDEX.tsv`` names the repository, path and commit of each), all
deployed on AWS by their authors. They are kept as data, re-serialised: whitespace and the
order of some keys differ from the published files and a few long ``Comment`` texts are
shortened; every value is as published. ``corpus/EXCLUDED.tsv`` names the published
definitions AWS itself would refuse, and why.

Many use ``DefinitionSubstitutions`` placeholders (``${OrderFunctionArn}``), which
CloudFormation replaces before it creates the machine. ``substituted`` does the same with
plausible values chosen from where the placeholder stands and what it is called: a Lambda
ARN as a Task's ``Resource`` (a DynamoDB integration for ``${DDBPutItem}`` and its kin),
the pseudo parameters' values for partition, region and account, ARNs for names that say
``Arn``, a number where the placeholder stands unquoted, the name itself (a table or
bucket name) otherwise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

CORPUS = Path(__file__).resolve().parent / "corpus"
_ACCOUNT = "us-east-1:123456789012"
_RESOURCE = re.compile(r'("Resource"\s*:\s*")\$\{([^}]+)\}(")')
_UNQUOTED = re.compile(r"(?<![\"\w])\$\{([^}]+)\}(?=\s*[,}\]])")
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
_DYNAMODB = re.compile(r"DDB(P|G|U|D)(ut|et|pdate|elete)Item")


@dataclass(frozen=True, slots=True)
class Published:
    name: str
    repo: str
    path: str
    commit: str

    @property
    def file(self) -> Path:
        return CORPUS / "definitions" / self.name


def published_definitions() -> list[Published]:
    rows = (CORPUS / "INDEX.tsv").read_text().splitlines()
    return [Published(*row.split("\t")) for row in rows if row.strip()]


def definition_text(item: Published) -> str:
    """The definition as CloudFormation creates it: substituted, and a YAML file (SAM's
    ``DefinitionUri`` may name one) turned into JSON."""
    text = substituted(item.file.read_text())
    if text.lstrip().startswith("{"):
        return text
    return json.dumps(yaml.safe_load(text), indent=1)


def substituted(text: str) -> str:
    """``text`` with every ``${Name}`` placeholder replaced as CloudFormation would."""
    text = _RESOURCE.sub(lambda m: m.group(1) + _lambda_arn(m.group(2)) + m.group(3), text)
    text = _UNQUOTED.sub("1", text)
    return _PLACEHOLDER.sub(lambda m: _value(m.group(1)), text)


def _lambda_arn(name: str) -> str:
    name = name.removesuffix(".Arn")  # a template's own !Sub: ${OrderFunction.Arn}
    dynamodb = _DYNAMODB.fullmatch(name)
    if dynamodb:  # the SAM samples' convention: DDBPutItem: arn:...:states:::dynamodb:putItem
        return f"arn:aws:states:::dynamodb:{dynamodb[1].lower()}{dynamodb[2]}Item"
    if "activity" in name.lower():
        return f"arn:aws:states:{_ACCOUNT}:activity:{name}"
    return f"arn:aws:lambda:{_ACCOUNT}:function:{name}"


def _value(name: str) -> str:
    lowered = name.lower()
    for hint, value in _PSEUDO:
        if hint in lowered:
            return value
    if "url" in lowered:
        return f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}"
    if "arn" not in lowered:
        return name
    for hint, arn in _ARNS:
        if hint in lowered:
            return arn.format(account=_ACCOUNT, name=name)
    return f"arn:aws:lambda:{_ACCOUNT}:function:{name}"


# Placeholders standing for the stack's pseudo parameters (``arn:${Partition}:states:::``).
_PSEUDO = (
    ("partition", "aws"),
    ("region", "us-east-1"),
    ("accountid", "123456789012"),
    ("account_id", "123456789012"),
)
_ARNS = (
    ("statemachine", "arn:aws:states:{account}:stateMachine:{name}"),
    ("activity", "arn:aws:states:{account}:activity:{name}"),
    ("topic", "arn:aws:sns:{account}:{name}"),
    ("sns", "arn:aws:sns:{account}:{name}"),
    ("queue", "arn:aws:sqs:{account}:{name}"),
    ("table", "arn:aws:dynamodb:{account}:table/{name}"),
    ("bus", "arn:aws:events:{account}:event-bus/{name}"),
    ("role", "arn:aws:iam::123456789012:role/{name}"),
    ("bucket", "arn:aws:s3:::{name}"),
    ("connection", "arn:aws:events:{account}:connection/{name}/1"),
)
