"""State machines: Create, Describe, Update, Delete, List, DescribeStateMachineForExecution
and ValidateStateMachineDefinition.

CreateStateMachine is idempotent on what defines the machine (API Reference: name,
definition, type, logging and tracing configuration, publish and versionDescription; "a
different roleArn or tags ... will be ignored"). An update that changes nothing keeps
the revision, so publishing after it is still idempotent. Deleting a state machine also
deletes its versions and aliases ("This API action also deletes all versions and aliases
associated with a state machine").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stepwell.language.compiler import InvalidDefinition as DefinitionProblems
from stepwell.language.compiler import load_state_machine
from stepwell.language.validation import Diagnostic, validate_definition
from stepwell.runtime.clock import to_datetime
from stepwell.service import errors as err
from stepwell.service.aliases import AliasOperations
from stepwell.service.arns import check_name, parse_machine_arn
from stepwell.service.core import (
    ENCRYPTION,
    Request,
    Response,
    check_definition,
    describe_machine,
    initial_revision,
    new_revision,
    present,
    public_revision,
    resource_diagnostics,
    tag_map,
    variable_references,
)
from stepwell.service.pages import paginate
from stepwell.service.versions import ALIASES, VERSIONS
from stepwell.store.base import DEFINITIONS, ExecutionRecord, StateMachineRecord, definition_key

_DEFAULT_LOGGING = {"includeExecutionData": False, "level": "OFF"}
_DEFAULT_TRACING = {"enabled": False}
# UpdateStateMachine's request members and the record fields they set.
_UPDATABLE = {
    "definition": "definition",
    "roleArn": "role_arn",
    "loggingConfiguration": "logging_configuration",
    "tracingConfiguration": "tracing_configuration",
}


class MachineOperations(AliasOperations):
    def create_state_machine(self, request: Request) -> Response:
        name = check_name(request["name"])
        definition = request["definition"]
        check_definition(definition, self.integrations, request.get("type", "STANDARD"))
        _check_version_description(request)
        arn = self.arns.state_machine(name)
        record = self._new_machine(arn, name, request)
        existing = self.store.get_state_machine(arn)
        if existing is not None:
            if not _same_machine(existing, record):
                raise err.StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
            record = existing
        else:
            self.store.insert_state_machine(record)
        version = (
            self._publish(record, request.get("versionDescription"))
            if request.get("publish")
            else None
        )
        return present(
            stateMachineArn=arn,
            creationDate=to_datetime(record.creation_date),
            stateMachineVersionArn=version.arn if version else None,
        )

    def _new_machine(self, arn: str, name: str, request: Request) -> StateMachineRecord:
        now = self.clock.now()
        return StateMachineRecord(
            arn=arn,
            name=name,
            type=request.get("type", "STANDARD"),
            definition=request["definition"],
            role_arn=request["roleArn"],
            creation_date=now,
            revision_id=initial_revision(arn, now),
            logging_configuration=logging_configuration(request.get("loggingConfiguration")),
            tracing_configuration=request.get("tracingConfiguration") or dict(_DEFAULT_TRACING),
            tags=tag_map(request.get("tags"), arn),
        )

    def describe_state_machine(self, request: Request) -> Response:
        record = self._machine(request["stateMachineArn"])
        return describe_machine(record, self._references(record, None))

    def update_state_machine(self, request: Request) -> Response:
        arn = request["stateMachineArn"]
        if parse_machine_arn(arn).qualifier is not None:  # K14: a version names no machine
            raise err.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        _, record = self._unqualified_machine(arn)
        if "loggingConfiguration" in request:
            request = {
                **request,
                "loggingConfiguration": logging_configuration(request["loggingConfiguration"]),
            }
        given = {
            field: request[member] for member, field in _UPDATABLE.items() if member in request
        }
        if not given:
            raise err.MissingRequiredParameter(
                "Either the definition, the role ARN, the LoggingConfiguration, or the "
                "TracingConfiguration must be specified"
            )
        _check_version_description(request)
        if "definition" in given:
            check_definition(given["definition"], self.integrations, record.type)
        changed = {k: v for k, v in given.items() if getattr(record, k) != v}
        if changed:
            record = replace(record, revision_id=new_revision(), **changed)
            self.store.replace_state_machine(record)
        version = (
            self._publish(record, request.get("versionDescription"))
            if request.get("publish")
            else None
        )
        return present(
            updateDate=to_datetime(self.clock.now()),
            revisionId=public_revision(record.revision_id),
            stateMachineVersionArn=version.arn if version else None,
        )

    def delete_state_machine(self, request: Request) -> Response:
        arn = request["stateMachineArn"]
        parsed = parse_machine_arn(arn)
        if parsed.qualifier is not None:
            raise err.ValidationException(f"Expected an unqualified state machine ARN, got '{arn}'")
        for version in self._versions(arn, deleted=True):
            self.store.delete_state_machine(version.arn)
        with self.store.documents(ALIASES) as documents:
            for alias_arn, _ in documents.scan(f"{arn}:"):
                documents.delete(alias_arn)
        with self.store.documents(VERSIONS) as documents:
            documents.delete(arn)
        self.store.delete_state_machine(arn)
        return {}

    def list_state_machines(self, request: Request) -> Response:
        machines = [m for m in self.store.list_state_machines() if m.version_of is None]
        page, token = paginate(machines, request)
        return {
            "stateMachines": [
                {
                    "stateMachineArn": m.arn,
                    "name": m.name,
                    "type": m.type,
                    "creationDate": to_datetime(m.creation_date),
                }
                for m in page
            ],
            **token,
        }

    def describe_state_machine_for_execution(self, request: Request) -> Response:
        """The definition the execution runs: its version's, when started through a version
        or an alias; ``updateDate`` is when that revision (or version) was made."""
        execution = self._execution(request["executionArn"])
        # A Distributed Map's child: its Map Run's processor, under MACHINE/LABEL.
        record = self.machines.record(execution.version_arn or execution.state_machine_arn)
        if record is None:
            raise err.StateMachineDoesNotExist(
                f"State Machine Does Not Exist: '{execution.state_machine_arn}'"
            )
        references = self._references(record, execution)
        return present(
            stateMachineArn=execution.state_machine_arn,
            name=record.name,
            definition=self._definition_of(execution, record.definition),
            roleArn=record.role_arn,
            updateDate=to_datetime(record.creation_date),
            loggingConfiguration=record.logging_configuration,
            tracingConfiguration=record.tracing_configuration,
            revisionId=public_revision(record.revision_id),
            encryptionConfiguration=dict(ENCRYPTION),
            variableReferences=variable_references(references),
            mapRunArn=execution.map_run_arn,
            label=execution.state_machine_arn.rsplit("/", 1)[-1] if execution.map_run_arn else None,
        )

    def _references(
        self, record: StateMachineRecord, execution: ExecutionRecord | None
    ) -> dict[str, tuple[str, ...]] | None:
        """K5, worked out when the definition was compiled. Describe never fails for it:
        a stored definition a newer Stepwell no longer compiles just lists none."""
        try:
            if execution is None:
                return self.machines.compiled(record).variable_references
            compiled = self.machines.for_execution(execution, record)
        except DefinitionProblems:
            return None
        return compiled.variable_references if compiled is not None else None

    def _definition_of(self, execution: ExecutionRecord, current: str) -> str:
        """The definition the execution started with (the machine may have changed)."""
        key = execution.definition_key
        if key is None or definition_key(current) == key:
            return current
        with self.store.documents(DEFINITIONS) as kept:
            found = kept.get(key)
        return found.decode() if found is not None else current

    def validate_state_machine_definition(self, request: Request) -> Response:
        """L: ``truncated`` is always there; a blank definition's one diagnostic has no
        location; a location at the root is ``/``."""
        definition = request["definition"]
        if not definition.strip():
            found = [{**_BLANK}]
        else:
            found = [_diagnostic(d) for d in self._definition_diagnostics(request)]
        max_results = request.get("maxResults") or 100
        errors = any(d["severity"] == "ERROR" for d in found)
        return {
            "result": "FAIL" if errors else "OK",
            "diagnostics": found[:max_results],
            "truncated": len(found) > max_results,
        }

    def _definition_diagnostics(self, request: Request) -> list[Diagnostic]:
        """The definition's own problems; once it has none, its Task resources'."""
        diagnostics = validate_definition(request["definition"])
        if any(d.severity == "ERROR" for d in diagnostics):
            return diagnostics
        machine = load_state_machine(request["definition"])
        machine_type = request.get("type", "STANDARD")
        return diagnostics + resource_diagnostics(machine, self.integrations, machine_type)


def _check_version_description(request: Request) -> None:
    """ "You can only set the description if the publish parameter is set to true.
    Otherwise ... this API action throws ValidationException" (API Reference)."""
    if request.get("versionDescription") is not None and not request.get("publish"):
        raise err.ValidationException("Version description can only be set when publish is true")


def logging_configuration(given: dict[str, Any] | None) -> dict[str, Any]:
    """K3: missing members take their defaults; K4: a level other than OFF needs exactly
    one destination."""
    config = {**_DEFAULT_LOGGING, **(given or {})}
    if config["level"] != "OFF" and len(config.get("destinations") or ()) != 1:
        raise err.InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination."
        )
    return dict(sorted(config.items()))


# L: what ValidateStateMachineDefinition answers for a blank definition: no location.
_BLANK = {
    "severity": "ERROR",
    "code": "SCHEMA_VALIDATION_FAILED",
    "message": "Definition must be a valid JSON object",
}


def _diagnostic(found: Diagnostic) -> dict[str, str]:
    return {
        "severity": found.severity,
        "code": found.code,
        "message": found.message,
        "location": found.location or "/",
    }


def _same_machine(existing: StateMachineRecord, requested: StateMachineRecord) -> bool:
    def identity(record: StateMachineRecord) -> tuple[Any, ...]:
        return (
            record.definition,
            record.type,
            record.logging_configuration,
            record.tracing_configuration,
        )

    return identity(existing) == identity(requested)
