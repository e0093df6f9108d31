"""Check published state machines and SAM applications against Stepwell, in a folder you
cloned yourself (for example ``git clone https://github.com/aws-samples/step-functions-workflows-collection``).

Stepwell keeps no copy of other projects' files; ``docs/published-samples.tsv`` records
which samples were checked, at which commit, and what came out. This script re-runs the
check on a checkout:

* every state machine definition (``*.asl.json``, ``*.asl.yaml``, ``*.asl.yml``, and any
  other JSON or YAML file holding ``StartAt`` and ``States``) must pass
  ValidateStateMachineDefinition with no ERROR, compile, and name only Task resources
  CreateStateMachine accepts. Its ``${Placeholder}`` substitutions are first replaced, as
  CloudFormation would, by plausible values chosen from where each stands and what it is
  called (a Lambda ARN as a Task's ``Resource``, a number where it stands unquoted, an
  ARN for a name saying ``Arn``, the name itself otherwise);
* every ``template.yaml``/``template.yml`` must plan and pass ``stepwell up --check``.
  A Parameter without a Default, which ``sam deploy --guided`` asks for, takes the value
  given with ``--parameter Name=value``, or ``example`` when none is given.

    .venv/bin/python bench/check_published.py ~/src/step-functions-workflows-collection
        [--parameter EmailAddress=someone@example.com ...]

It prints one line per file (``ok`` or what is wrong) and exits 1 when any is wrong.
A published sample AWS itself would refuse fails here too: the reasons found so far are
in ``docs/published-samples.tsv``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

from stepwell.integrations.resources import diagnostics as resource_diagnostics
from stepwell.language.compiler import load_state_machine
from stepwell.language.validation import validate_definition
from stepwell.stack.checks import check_plan
from stepwell.stack.plan import plan_stack
from stepwell.stack.template import StackError, load_template

_ACCOUNT = "us-east-1:123456789012"
_RESOURCE = re.compile(r'("Resource"\s*:\s*")\$\{([^}]+)\}(")')
_UNQUOTED = re.compile(r"(?<![\"\w])\$\{([^}]+)\}(?=\s*[,}\]])")
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
# A YAML value that is a placeholder alone, unquoted (``TimeoutSeconds: ${Limit}``).
_YAML_UNQUOTED = re.compile(r"(:[ \t]+)\$\{[^}]+\}([ \t]*(?:#.*)?)$", re.MULTILINE)
_DYNAMODB = re.compile(r"DDB(P|G|U|D)(ut|et|pdate|elete)Item")
_SKIPPED = {".git", "node_modules", ".aws-sam", "cdk.out", ".venv", "build", "dist"}

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


def substituted(text: str) -> str:
    """``text`` with every ``${Name}`` placeholder replaced as CloudFormation would."""
    text = _RESOURCE.sub(lambda m: m.group(1) + _task_resource(m.group(2)) + m.group(3), text)
    text = _UNQUOTED.sub("1", text)
    return _PLACEHOLDER.sub(lambda m: _value(m.group(1)), text)


def _task_resource(name: str) -> str:
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


def definition_problems(path: Path) -> list[str]:
    """Why CreateStateMachine would refuse the definition in ``path`` (empty: it would not)."""
    text = path.read_text()
    if not text.lstrip().startswith("{"):  # a YAML definition, turned into JSON first
        text = _YAML_UNQUOTED.sub(r"\g<1>1\g<2>", text)  # a number, as unquoted in JSON
        text = json.dumps(yaml.safe_load(text), indent=1)
    text = substituted(text)
    errors = [
        f"{d.code}: {d.message} at {d.location}"
        for d in validate_definition(text)
        if d.severity == "ERROR"
    ]
    if errors:
        return errors
    return [f"{d.code}: {d.message}" for d in resource_diagnostics(load_state_machine(text))]


def template_problems(path: Path, given: dict[str, str]) -> list[str]:
    """What ``stepwell up --check`` finds wrong with the application of ``path``."""
    try:
        declared = load_template(path).get("Parameters") or {}
        parameters = {
            name: given.get(name, "example")
            for name, spec in declared.items()
            if name in given or not (isinstance(spec, dict) and "Default" in spec)
        }
        plan = plan_stack(path, stack_name="published", parameters=parameters)
    except StackError as problem:
        return [str(problem)]
    return check_plan(plan).problems


def is_definition(path: Path) -> bool:
    name = path.name.lower()
    if name.endswith((".asl.json", ".asl.yaml", ".asl.yml")):
        return True
    if name.startswith("template.") or not name.endswith((".json", ".yaml", ".yml")):
        return False
    text = path.read_text(errors="replace")
    if name.endswith(".json"):
        return '"StartAt"' in text and '"States"' in text
    return re.search(r"^StartAt:", text, re.M) is not None and "States:" in text


def files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if _SKIPPED & set(path.relative_to(root).parts) or not path.is_file():
            continue
        if path.name in ("template.yaml", "template.yml") or is_definition(path):
            found.append(path)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="a folder holding published samples")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for a template Parameter without a Default (repeatable)",
    )
    args = parser.parse_args(argv)
    malformed = [item for item in args.parameter if "=" not in item]
    if malformed:
        parser.error(f"--parameter {malformed[0]}: expected NAME=VALUE")
    given = dict(item.split("=", 1) for item in args.parameter)
    found = files(args.root)
    failed = 0
    for path in found:
        where = path.relative_to(args.root)
        try:
            if path.name.startswith("template."):
                problems = template_problems(path, given)
            else:
                problems = definition_problems(path)
        except Exception as error:  # a crash on a sample is a finding too
            problems = [f"crashed: {type(error).__name__}: {error}"]
        failed += bool(problems)
        print(f"{where}: " + ("ok" if not problems else "; ".join(problems)))
    print(f"{len(found) - failed} ok, {failed} not ok", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
