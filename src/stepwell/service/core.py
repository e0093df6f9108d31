"""What every group of operations shares: the service's parts, lookups, and checks.

The operations are split by topic into mixins (``machines``, ``versions``, ``aliases``,
``executions``, ``redrive``, ``callbacks``, ``tags``, ``testing``), each a subclass of
``ServiceCore``; ``service.Service`` puts them together and dispatches by operation name.
A lookup here raises the AWS error a caller would get for a missing or malformed
resource, so every operation reports them the same way.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import orjson

from stepwell.engine.serialize import MAX_DEPTH, nesting_depth
from stepwell.integrations.registry import Integrations
from stepwell.integrations.resources import SYNC, SYNC2, WAIT_FOR_TOKEN, task_states
from stepwell.language.compiler import InvalidDefinition as DefinitionProblems
from stepwell.language.compiler import load_state_machine
from stepwell.language.json_errors import input_problem
from stepwell.language.model import StateMachine
from stepwell.language.validation import Diagnostic, format_invalid_definition
from stepwell.runtime.clock import Clock, to_datetime
from stepwell.runtime.worker import MachineCache
from stepwell.service import errors as err
from stepwell.service.arns import Arns, MachineArn, parse_machine_arn, split_arn
from stepwell.store.base import (
    ActivityRecord,
    ExecutionRecord,
    StateMachineRecord,
    Store,
    WorkItem,
)

Request = dict[str, Any]
Response = dict[str, Any]
PAYLOAD_LIMIT = 262_144  # bytes (Developer Guide, "Step Functions service quotas")
MAX_TAGS = 50  # tags per resource (Developer Guide, "Step Functions service quotas")
ACTIVE = "ACTIVE"
DELETED = "DELETED"  # a deleted version, kept for the executions that still run it


class InlineStepper(Protocol):
    """A worker that steps executions at once, in the caller's thread, under a lease of
    the caller's own (``runtime.worker.Worker``)."""

    def start_now(
        self,
        record: ExecutionRecord,
        first: WorkItem,
        machine: StateMachineRecord | None = None,
    ) -> tuple[ExecutionRecord, bool, float | None]:
        """Create the execution (unless its ARN exists) with its first step, in one
        transaction: the stored record, whether it was created, and when the work left
        to others is due (None: none is left). ``machine``: the record it runs, as
        just read."""
        ...

    def resolve_now(self, token: str, event: WorkItem) -> tuple[bool, float | None]:
        """Resolve a task token and apply its outcome ``event`` at once, in one
        transaction when it can: whether the token was resolved (False: used already),
        and when the work left to others is due."""
        ...

    def advance_now(self, arn: str, owner: str | None = None) -> float | None:
        """Step it while work is due now; when the work left to others is due (None:
        none is left)."""
        ...


logger = logging.getLogger("stepwell.service")


class Wake(Protocol):
    """Rouses the runtime's idle workers: for work due now, or (``due``, epoch seconds)
    for a timer that comes due then (``runtime.pool.WorkerPool.wake``)."""

    def __call__(self, due: float | None = None) -> None: ...


class ServiceCore:
    """The service's state and the lookups every operation uses."""

    store: Store
    clock: Clock
    arns: Arns
    integrations: Integrations
    machines: MachineCache
    routing: random.Random  # picks an alias's version; seed it for reproducible tests
    _wake: Wake
    _run_now: InlineStepper | None
    _activity_signal: threading.Condition
    activity_long_poll_seconds: float = 60.0  # GetActivityTask waits this long at most
    _background: set[threading.Thread]
    _background_lock: threading.Lock

    # ----------------------------------------------------------------- lookups

    def _step_now(self, arn: str) -> None:
        """Step an execution that has work due now in this thread (so a short workflow
        has moved on by the time the call answers), then wake the runtime's workers for
        the work the steps left them, if any; without an inline stepper, wake them."""
        due: float | None = self.clock.now()
        if self._run_now is not None:
            try:
                due = self._run_now.advance_now(arn)
            except Exception:  # the work is stored: the runtime's workers go on with it
                logger.warning("steps of %s deferred to the workers", arn, exc_info=True)
                due = self.clock.now()
        if due is not None:
            self._wake(due)

    def _machine(self, arn: str) -> StateMachineRecord:
        """A state machine or one of its versions; an alias ARN names neither."""
        parse_machine_arn(arn)
        record = self._live_machine(arn)
        if record is None:
            raise err.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return record

    def _live_machine(self, arn: str) -> StateMachineRecord | None:
        """The record at ``arn`` unless it is missing or a deleted version (whose record
        stays for the executions still running it: see ``versions.py``)."""
        record = self.store.get_state_machine(arn)
        return record if record is not None and record.status == ACTIVE else None

    def _unqualified_machine(self, arn: str) -> tuple[MachineArn, StateMachineRecord]:
        """The state machine itself: a version or alias ARN is a ValidationException."""
        parsed = parse_machine_arn(arn)
        if parsed.qualifier is not None:
            raise err.ValidationException(f"Expected an unqualified state machine ARN, got '{arn}'")
        return parsed, self._machine(arn)

    def _execution(self, arn: str, dispatched_express: bool = False) -> ExecutionRecord:
        """The stored execution; ``dispatched_express``: an Express execution a Map Run
        dispatched is one too (DescribeExecution "aren't supported ... unless a Map Run
        dispatched them")."""
        if dispatched_express and _is_express(arn):
            record = self.store.get_execution(arn)
            if record is not None and record.map_run_arn is not None:
                return record
        _reject_express(arn)
        split_arn(arn, "execution")
        record = self.store.get_execution(arn)
        if record is None:
            raise err.ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return record

    def _activity(self, arn: str) -> ActivityRecord:
        split_arn(arn, "activity")
        record = self.store.get_activity(arn)
        if record is None:
            raise err.ActivityDoesNotExist(f"Activity Does Not Exist: '{arn}'")
        return record

    def _versions(self, machine_arn: str, deleted: bool = False) -> list[StateMachineRecord]:
        """The published versions of a state machine, newest first; with ``deleted``,
        the deleted ones too."""
        versions = [
            m
            for m in self.store.list_state_machines()
            if m.version_of == machine_arn and (deleted or m.status == ACTIVE)
        ]
        return sorted(versions, key=lambda m: -(m.version or 0))


def _reject_express(arn: str) -> None:
    """Express executions have no durable record: AWS refuses their ARNs in the
    operations that read one (API Reference, DescribeExecution: "Executions of an EXPRESS
    state machine aren't supported")."""
    if _is_express(arn):
        raise err.InvalidArn("Invalid Arn: 'Resource type not valid in this context: express'")


def _is_express(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 5 and parts[5] == "express"


def present(**members: Any) -> Response:
    """The members that have a value: AWS leaves absent members out."""
    return {key: value for key, value in members.items() if value is not None}


def check_definition(
    definition: str, integrations: Integrations, machine_type: str = "STANDARD"
) -> StateMachine:
    """The compiled definition; InvalidDefinition as AWS words it if it is refused."""
    try:
        machine = load_state_machine(definition)
    except DefinitionProblems as invalid:
        raise err.InvalidDefinition(str(invalid)) from None
    refused = resource_diagnostics(machine, integrations, machine_type)
    if refused:
        raise err.InvalidDefinition(format_invalid_definition(refused))
    return machine


def resource_diagnostics(
    machine: StateMachine, integrations: Integrations, machine_type: str
) -> list[Diagnostic]:
    """The Task resources AWS refuses: unknown integrations, and in an Express machine
    the patterns and activities only Standard workflows have (K16)."""
    found = integrations.diagnostics(machine)
    if machine_type == "EXPRESS":
        found += express_diagnostics(machine)
    return found


def express_diagnostics(machine: StateMachine) -> list[Diagnostic]:
    """K16 / L: AWS's words, ``.waitForTaskToken``'s with its trailing space."""
    found = []
    for pointer, task in task_states(machine.root, ""):
        resource = task.resource
        if resource.endswith((SYNC, SYNC2)):
            message = "Express state machine does not support '.sync' service integration"
        elif resource.endswith(WAIT_FOR_TOKEN):
            message = "Express state machine does not support '.waitForTaskToken' service "
            message += "integration "
        elif resource.split(":")[5:6] == ["activity"]:
            message = "Express state machine does not support Activity ARN"
        else:
            continue
        found.append(
            Diagnostic("ERROR", "SCHEMA_VALIDATION_FAILED", message, f"{pointer}/Resource")
        )
    return found


def execution_input(text: str | None, member: str = "input") -> str:
    """Execution input as sent, checked: JSON, at most 256 KiB."""
    text = "{}" if text is None else text
    if len(text.encode()) > PAYLOAD_LIMIT:
        raise err.ValidationException(
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {PAYLOAD_LIMIT}"
        )
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error):  # orjson's own bound (1,024), past ours
            raise _too_deep() from None
        raise err.InvalidExecutionInput(
            f"Invalid State Machine Execution Input: '{input_problem(text)}'"
        ) from None
    # Nesting past MAX_DEPTH takes that many brackets: counting them in C rules out the
    # walk over the value for nearly every input.
    if text.count("[") + text.count("{") > MAX_DEPTH and nesting_depth(value) > MAX_DEPTH:
        raise _too_deep()
    return text


def _too_deep() -> err.InvalidExecutionInput:
    return err.InvalidExecutionInput(
        f"Invalid State Machine Execution Input: nested more than {MAX_DEPTH} levels deep"
    )


def tag_map(tags: list[dict[str, str]] | None, resource: str) -> dict[str, str]:
    """Tags as a dict; TooManyTags past 50 (Developer Guide, "Quotas": 50 tags)."""
    found = tag_pairs(tags)
    check_tag_count(found, resource)
    return found


def tag_pairs(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """Tags as a dict. The model makes ``key`` optional; a tag without one is refused."""
    if any("key" not in tag for tag in tags or []):
        raise err.ValidationException("Every tag must have a key")
    return {tag["key"]: tag.get("value", "") for tag in tags or []}


def check_tag_count(tags: dict[str, str], resource: str) -> None:
    if len(tags) > MAX_TAGS:
        raise err.TooManyTags(
            f"Too many tags: a resource can have at most {MAX_TAGS} tags.",
            resource_name=resource,
        )


SCHEMA = "SCHEMA_VALIDATION_FAILED"
# K2: what describe shows when no customer key was configured (Stepwell keeps no other).
ENCRYPTION = {"type": "AWS_OWNED_KEY"}


def initial_revision(arn: str, creation_date: float) -> str:
    """The revision id a state machine gets when it is created: a name-based (version 5)
    UUID of its ARN and creation time. Updates get random (version 4) ones, so "never
    updated" is told by the UUID's version, with no extra storage (K1)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}@{creation_date!r}").hex


def new_revision() -> str:
    """The revision id an update that changes something creates: a dashed UUID (K1)."""
    return str(uuid.uuid4())


def public_revision(revision_id: str) -> str | None:
    """The ``revisionId`` AWS shows: none until a real update, then the dashed UUID (K1)."""
    try:
        parsed = uuid.UUID(revision_id)
    except ValueError:
        return revision_id
    return None if parsed.version == 5 else str(parsed)


def describe_machine(
    record: StateMachineRecord, references: Mapping[str, Sequence[str]] | None = None
) -> Response:
    """DescribeStateMachine's answer for a state machine or a version of one;
    ``references`` is the compiled machine's ``variableReferences`` (K5)."""
    return present(
        stateMachineArn=record.arn,
        name=record.name,
        status=record.status,
        definition=record.definition,
        roleArn=record.role_arn,
        type=record.type,
        creationDate=to_datetime(record.creation_date),
        loggingConfiguration=record.logging_configuration,
        tracingConfiguration=record.tracing_configuration,
        revisionId=public_revision(record.revision_id),
        description=record.description or None,
        encryptionConfiguration=dict(ENCRYPTION),
        variableReferences=variable_references(references),
    )


def variable_references(references: Mapping[str, Sequence[str]] | None) -> Response | None:
    """K5: state name -> the variables it reads; the member is absent when none."""
    return {name: list(names) for name, names in references.items()} if references else None
