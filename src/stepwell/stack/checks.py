"""What ``stepwell up`` checks before it starts anything: problems stop it, warnings
are shown and it goes on."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any

from stepwell.integrations.functions import function_name
from stepwell.integrations.lambda_runtime import supported_runtime, unmet_requirements
from stepwell.integrations.services.events_targets import TARGET_SERVICES, arn_service
from stepwell.language.event_patterns import InvalidEventPattern, parse_pattern
from stepwell.stack.apply import ONE_TIME, SECONDARY_INDEXES
from stepwell.stack.definitions import definition_problems
from stepwell.stack.layers import local_layers
from stepwell.stack.plan import Plan


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_plan(plan: Plan) -> Findings:
    findings = Findings()
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for resource in plan.of_kind("schedule"):
        expression = str(resource.properties.get("ScheduleExpression"))
        if ONE_TIME.fullmatch(expression):
            findings.warnings.append(
                f"schedule {resource.logical_id}: one-time schedules ({expression}) are not "
                "emulated; it is accepted and never fires"
            )
    for resource in plan.of_kind("activity"):
        # CloudFormation User Guide, AWS::StepFunctions::Activity: Name is Required: Yes.
        if not resource.properties.get("Name"):
            findings.problems.append(f"activity {resource.logical_id}: Name is required")
    for resource in plan.of_kind("function"):
        props = resource.properties
        runtime = str(props.get("Runtime", ""))
        who = f"function {resource.logical_id}"
        if not supported_runtime(runtime):
            findings.warnings.append(
                f"{who}: runtime {runtime or '(none)'} cannot run here (Stepwell runs "
                "python3.x and nodejs functions); it is not started, and calling it fails "
                "with Lambda.ResourceNotFoundException"
            )
            for mapping in plan.of_kind("event source mapping"):
                if function_name(str(mapping.properties.get("FunctionName"))) == resource.name:
                    findings.warnings.append(
                        f"event source mapping {mapping.logical_id}: not started, its "
                        f"function {resource.logical_id} is not started"
                    )
            continue
        if runtime.startswith("nodejs") and shutil.which("node") is None:
            findings.problems.append(f"{who}: runtime {runtime} needs `node` on the PATH")
        path = plan.artifacts.code(props.get("Code"), runtime)
        if path is None:
            findings.problems.append(f"{who}: its code is not a local CodeUri")
            continue
        if not path.exists():
            findings.problems.append(f"{who}: its CodeUri {path} does not exist")
            continue
        layers, elsewhere = local_layers(plan, props.get("Layers"))
        if elsewhere:
            findings.warnings.append(
                f"{who}: layers are not emulated ({', '.join(elsewhere)}); what they "
                "bring must be installed here"
            )
        if runtime.startswith("python") and runtime != here:
            findings.warnings.append(f"{who}: {runtime} runs on this environment's {here}")
        for folder in [path if path.is_dir() else path.parent, *layers]:
            for unmet in unmet_requirements(folder):
                findings.warnings.append(f"{who}: requirements.txt: {unmet}")
    for resource in plan.of_kind("table"):
        indexes = [key for key in SECONDARY_INDEXES if resource.properties.get(key)]
        if indexes:
            findings.warnings.append(
                f"table {resource.logical_id}: {' and '.join(indexes)} are not emulated; "
                "the table is created without them, and a query naming an index fails"
            )
    for resource in plan.of_kind("state machine"):
        findings.problems.extend(definition_problems(plan, resource))
    for resource in plan.of_kind("rule"):
        _check_rule(resource.logical_id, resource.properties, findings)
    return findings


def _check_rule(logical_id: str, props: dict[str, Any], findings: Findings) -> None:
    """A rule's pattern must be valid; targets Stepwell cannot reach are warned about."""
    pattern = props.get("EventPattern")
    if pattern:
        text = pattern if isinstance(pattern, str) else json.dumps(pattern)
        try:
            parse_pattern(text)
        except InvalidEventPattern as problem:
            findings.problems.append(f"rule {logical_id}: {problem}")
    for target in props.get("Targets") or []:
        arn = str(target.get("Arn", "")) if isinstance(target, dict) else ""
        if arn_service(arn) not in TARGET_SERVICES:
            findings.warnings.append(
                f"rule {logical_id}: target {arn or '(none)'} is not emulated; "
                "Stepwell delivers to state machines, functions, queues and topics"
            )
