"""The Step Functions operations, implemented once for the API server, the CLI and Python.

``Service.handle(operation, request)`` takes an operation name as the AWS API spells it
("StartExecution") and its request members (camelCase, as in the API), and returns the
response members, timestamps as ``datetime``. Mistakes raise the ``ServiceError`` named
after the AWS error type. The API layer has already checked member types and lengths
against the service model; this layer checks meaning (names, ARNs, JSON, definitions).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from stepwell.engine import events as ev
from stepwell.engine.execution import ExecutionInfo
from stepwell.integrations.registry import Integrations
from stepwell.language.compiler import InvalidDefinition as DefinitionProblems
from stepwell.language.compiler import load_state_machine
from stepwell.language.validation import validate_definition
from stepwell.runtime.clock import Clock, SystemClock, to_datetime
from stepwell.runtime.codec import encode_event
from stepwell.runtime.local import LocalRunner
from stepwell.runtime.worker import MachineCache
from stepwell.service import errors as err
from stepwell.service.arns import Arns, check_name, split_arn
from stepwell.service.pages import paginate
from stepwell.store.base import (
    ActivityRecord,
    ExecutionRecord,
    StateMachineRecord,
    Store,
    WorkItem,
)

Request = dict[str, Any]
Response = dict[str, Any]
PAYLOAD_LIMIT = 262_144


class Service:
    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        arns: Arns | None = None,
        wake: Callable[[], None] | None = None,
        integrations: Integrations | None = None,
        run_now: Callable[[str], object] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.arns = arns or Arns()
        self.integrations = integrations or Integrations()
        self.machines = MachineCache(store)
        self._wake = wake or (lambda: None)
        # Runs an execution's first step at once (the calling thread), so a short
        # workflow has finished by the time StartExecution answers.
        self._run_now = run_now
        self._activity_signal = threading.Condition()

    def handle(self, operation: str, request: Request) -> Response:
        method = _OPERATIONS.get(operation)
        if method is None:
            raise err.UnknownOperationException(f"Operation {operation} is not supported.")
        result: Response = method(self, request)
        return result

    # ----------------------------------------------------------------- state machines

    def create_state_machine(self, request: Request) -> Response:
        name = check_name(request["name"])
        definition = request["definition"]
        _check_definition(definition, self.integrations)
        machine_type = request.get("type", "STANDARD")
        arn = self.arns.state_machine(name)
        existing = self.store.get_state_machine(arn)
        if existing is not None:
            if (
                existing.definition == definition
                and existing.role_arn == request["roleArn"]
                and existing.type == machine_type
            ):
                return {"stateMachineArn": arn, "creationDate": to_datetime(existing.creation_date)}
            raise err.StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
        record = StateMachineRecord(
            arn=arn,
            name=name,
            type=machine_type,
            definition=definition,
            role_arn=request["roleArn"],
            creation_date=self.clock.now(),
            revision_id=uuid.uuid4().hex,
            description=request.get("description", ""),
            logging_configuration=request.get("loggingConfiguration")
            or {"level": "OFF", "includeExecutionData": False},
            tracing_configuration=request.get("tracingConfiguration") or {"enabled": False},
            tags={t["key"]: t["value"] for t in request.get("tags", [])},
        )
        self.store.insert_state_machine(record)
        return {"stateMachineArn": arn, "creationDate": to_datetime(record.creation_date)}

    def describe_state_machine(self, request: Request) -> Response:
        record = self._machine(request["stateMachineArn"])
        return _describe_machine(record)

    def update_state_machine(self, request: Request) -> Response:
        record = self._machine(request["stateMachineArn"])
        changes: dict[str, Any] = {}
        if "definition" in request:
            _check_definition(request["definition"], self.integrations)
            changes["definition"] = request["definition"]
        if "roleArn" in request:
            changes["role_arn"] = request["roleArn"]
        if "loggingConfiguration" in request:
            changes["logging_configuration"] = request["loggingConfiguration"]
        if "tracingConfiguration" in request:
            changes["tracing_configuration"] = request["tracingConfiguration"]
        if not changes:
            raise err.MissingRequiredParameter(
                "Either the definition, the role ARN, the LoggingConfiguration, or the "
                "TracingConfiguration must be specified"
            )
        updated = replace(record, revision_id=uuid.uuid4().hex, **changes)
        self.store.replace_state_machine(updated)
        return {"updateDate": to_datetime(self.clock.now()), "revisionId": updated.revision_id}

    def delete_state_machine(self, request: Request) -> Response:
        arn = request["stateMachineArn"]
        split_arn(arn, "stateMachine")
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
        execution = self._execution(request["executionArn"])
        record = self._machine(execution.state_machine_arn)
        description = _describe_machine(record)
        return {
            key: description[key]
            for key in (
                "stateMachineArn",
                "name",
                "definition",
                "roleArn",
                "loggingConfiguration",
                "tracingConfiguration",
            )
        } | {"updateDate": to_datetime(record.creation_date), "revisionId": record.revision_id}

    def validate_state_machine_definition(self, request: Request) -> Response:
        diagnostics = validate_definition(request["definition"])
        found = [
            {"severity": d.severity, "code": d.code, "message": d.message, "location": d.location}
            for d in diagnostics
        ]
        max_results = request.get("maxResults") or 100
        errors = any(d["severity"] == "ERROR" for d in found)
        response: Response = {
            "result": "FAIL" if errors else "OK",
            "diagnostics": found[:max_results],
        }
        if len(found) > max_results:
            response["truncated"] = True
        return response

    # ----------------------------------------------------------------- executions

    def start_execution(self, request: Request) -> Response:
        machine = self._machine(request["stateMachineArn"])
        name = check_name(request.get("name") or str(uuid.uuid4()))
        text = _execution_input(request.get("input"))
        if machine.type == "EXPRESS":
            raise err.StateMachineTypeNotSupported(
                "Express state machines are started with StartSyncExecution by this server."
            )
        now = self.clock.now()
        record = ExecutionRecord(
            arn=self.arns.execution(machine.name, name),
            state_machine_arn=machine.arn,
            name=name,
            status="RUNNING",
            input=text,
            start_date=now,
            trace_header=request.get("traceHeader"),
        )
        stored, created = self.store.create_execution(
            record, WorkItem(record.arn, "start", b"{}", now)
        )
        if not created and (stored.status != "RUNNING" or stored.input != text):
            raise err.ExecutionAlreadyExists(f"Execution Already Exists: '{stored.arn}'")
        if created and self._run_now is not None:
            self._run_now(stored.arn)
        self._wake()
        return {"executionArn": stored.arn, "startDate": to_datetime(stored.start_date)}

    def start_sync_execution(self, request: Request) -> Response:
        """Run an Express execution to its end in memory and answer with the result."""
        machine = self._machine(request["stateMachineArn"])
        if machine.type != "EXPRESS":
            raise err.StateMachineTypeNotSupported(
                "This operation is not supported by this type of state machine"
            )
        name = check_name(request.get("name") or str(uuid.uuid4()))
        text = _execution_input(request.get("input"))
        started = self.clock.now()
        arn = self.arns.express_execution(machine.name, name, str(uuid.uuid4()))
        info = ExecutionInfo(
            execution_arn=arn,
            name=name,
            state_machine_arn=machine.arn,
            state_machine_name=machine.name,
            role_arn=machine.role_arn,
            region=self.arns.region,
            start_time=to_datetime(started),
            input_text=text,
        )
        runner = LocalRunner(
            self.machines.compiled(machine),
            self.integrations,
            to_datetime(started),
            random.Random(os.urandom(16)),
            record_history=False,
            real_time=isinstance(self.clock, SystemClock),
        )
        execution = runner.run(orjson.loads(text), info)
        stopped = runner.clock.timestamp()
        response: Response = {
            "executionArn": arn,
            "stateMachineArn": machine.arn,
            "name": name,
            "startDate": to_datetime(started),
            "stopDate": to_datetime(stopped),
            "status": execution.status,
            "input": text,
            "inputDetails": {"included": True},
            "billingDetails": {
                "billedMemoryUsedInMB": 64,
                "billedDurationInMilliseconds": max(100, int((stopped - started) * 1000)),
            },
        }
        if execution.status == "SUCCEEDED":
            response["output"] = orjson.dumps(execution.output).decode()
            response["outputDetails"] = {"included": True}
        else:
            response.update(_present(error=execution.error, cause=execution.cause))
        return response

    def describe_execution(self, request: Request) -> Response:
        record = self._execution(request["executionArn"])
        response: Response = {
            "executionArn": record.arn,
            "stateMachineArn": record.state_machine_arn,
            "name": record.name,
            "status": record.status,
            "startDate": to_datetime(record.start_date),
            "input": record.input,
            "inputDetails": {"included": True},
            "redriveCount": record.redrive_count,
            "redriveStatus": "NOT_REDRIVABLE"
            if record.status in ("RUNNING", "SUCCEEDED")
            else "REDRIVABLE",
        }
        if record.stop_date is not None:
            response["stopDate"] = to_datetime(record.stop_date)
        if record.output is not None:
            response["output"] = record.output
            response["outputDetails"] = {"included": True}
        if record.error is not None:
            response["error"] = record.error
        if record.cause is not None:
            response["cause"] = record.cause
        if record.trace_header:
            response["traceHeader"] = record.trace_header
        return response

    def stop_execution(self, request: Request) -> Response:
        record = self._execution(request["executionArn"])
        now = self.clock.now()
        if record.status == "RUNNING":
            stop = ev.StopRequested(request.get("error"), request.get("cause"))
            self.store.enqueue(WorkItem(record.arn, "event", encode_event(stop), now))
            self._wake()
        return {"stopDate": to_datetime(now)}

    def list_executions(self, request: Request) -> Response:
        machine_arn = request.get("stateMachineArn")
        if machine_arn is None and "mapRunArn" not in request:
            raise err.ValidationException("Must provide a StateMachine ARN or MapRun ARN")
        if machine_arn is not None:
            self._machine(machine_arn)
        records = self.store.list_executions(machine_arn, request.get("statusFilter"))
        page, token = paginate(records, request)
        return {
            "executions": [
                {
                    "executionArn": r.arn,
                    "stateMachineArn": r.state_machine_arn,
                    "name": r.name,
                    "status": r.status,
                    "startDate": to_datetime(r.start_date),
                    **({"stopDate": to_datetime(r.stop_date)} if r.stop_date else {}),
                }
                for r in page
            ],
            **token,
        }

    def get_execution_history(self, request: Request) -> Response:
        record = self._execution(request["executionArn"])
        events = self.store.history(record.arn)
        if request.get("reverseOrder"):
            events.reverse()
        page, token = paginate(events, request)
        include_data = request.get("includeExecutionData", True)
        return {"events": [_api_event(e, include_data) for e in page], **token}

    # ----------------------------------------------------------------- callbacks

    def send_task_success(self, request: Request) -> Response:
        output = request["output"]
        try:
            value = orjson.loads(output)
        except orjson.JSONDecodeError:
            raise err.InvalidOutput(f"Invalid Output: '{output}'") from None
        if len(output.encode()) > PAYLOAD_LIMIT:
            raise err.ValidationException("The output exceeds the maximum size of 262144 bytes.")
        self._resolve(request["taskToken"], lambda t: ev.TaskSucceeded(t.frame, t.seq, value))
        return {}

    def send_task_failure(self, request: Request) -> Response:
        error, cause = request.get("error", ""), request.get("cause", "")
        self._resolve(
            request["taskToken"], lambda t: ev.TaskFailed(t.frame, t.seq, error or "", cause or "")
        )
        return {}

    def send_task_heartbeat(self, request: Request) -> Response:
        token = self._token(request["taskToken"])
        beat = ev.TaskHeartbeat(token.frame, token.seq)
        self.store.enqueue(
            WorkItem(token.execution_arn, "event", encode_event(beat), self.clock.now())
        )
        self._wake()
        return {}

    def _token(self, text: str) -> Any:
        if not text or len(text) > 2048:
            raise err.InvalidToken(f"Invalid Token: '{text}'")
        token = self.store.get_task_token(text)
        if token is None:
            raise err.TaskDoesNotExist("Task Does Not Exist")
        return token

    def _resolve(self, text: str, make_event: Callable[[Any], ev.Event]) -> None:
        token = self._token(text)
        item = WorkItem(
            token.execution_arn, "event", encode_event(make_event(token)), self.clock.now()
        )
        if not self.store.resolve_task_token(text, item):
            raise err.TaskDoesNotExist("Task Does Not Exist")
        self._wake()

    # ----------------------------------------------------------------- activities

    def create_activity(self, request: Request) -> Response:
        name = check_name(request["name"])
        arn = self.arns.activity(name)
        existing = self.store.get_activity(arn)
        if existing is None:
            existing = ActivityRecord(
                arn, name, self.clock.now(), {t["key"]: t["value"] for t in request.get("tags", [])}
            )
            self.store.insert_activity(existing)
        return {"activityArn": arn, "creationDate": to_datetime(existing.creation_date)}

    def describe_activity(self, request: Request) -> Response:
        record = self._activity(request["activityArn"])
        return {
            "activityArn": record.arn,
            "name": record.name,
            "creationDate": to_datetime(record.creation_date),
        }

    def delete_activity(self, request: Request) -> Response:
        split_arn(request["activityArn"], "activity")
        self.store.delete_activity(request["activityArn"])
        return {}

    def list_activities(self, request: Request) -> Response:
        page, token = paginate(self.store.list_activities(), request)
        return {
            "activities": [
                {"activityArn": a.arn, "name": a.name, "creationDate": to_datetime(a.creation_date)}
                for a in page
            ],
            **token,
        }

    def get_activity_task(self, request: Request, wait_seconds: float = 60.0) -> Response:
        """Long poll: up to 60 s for a task of this activity (API Reference)."""
        activity = self._activity(request["activityArn"])
        deadline = time.monotonic() + wait_seconds
        while True:
            task = self.store.lease_activity_task(activity.arn, request.get("workerName", ""))
            if task is not None:
                return {"taskToken": task.token, "input": task.input}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {}
            with self._activity_signal:
                self._activity_signal.wait(min(remaining, 0.2))

    # ----------------------------------------------------------------- lookups

    def _machine(self, arn: str) -> StateMachineRecord:
        split_arn(arn, "stateMachine")
        record = self.store.get_state_machine(arn)
        if record is None:
            raise err.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return record

    def _execution(self, arn: str) -> ExecutionRecord:
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


def _present(**members: Any) -> Response:
    return {key: value for key, value in members.items() if value is not None}


def _check_definition(definition: str, integrations: Integrations) -> None:
    try:
        machine = load_state_machine(definition)
    except DefinitionProblems as invalid:
        raise err.InvalidDefinition(str(invalid)) from None
    refused = integrations.check(machine)
    if refused:
        raise err.InvalidDefinition(
            "Invalid State Machine Definition: " + ", ".join(f"'{r}'" for r in refused)
        )


def _execution_input(text: str | None) -> str:
    text = "{}" if text is None else text
    if len(text.encode()) > PAYLOAD_LIMIT:
        raise err.ValidationException(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: "
            "Member must have length less than or equal to 262144"
        )
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        raise err.InvalidExecutionInput(
            f"Invalid State Machine Execution Input: '{text}'"
        ) from None
    return text


def _describe_machine(record: StateMachineRecord) -> Response:
    response: Response = {
        "stateMachineArn": record.arn,
        "name": record.name,
        "status": record.status,
        "definition": record.definition,
        "roleArn": record.role_arn,
        "type": record.type,
        "creationDate": to_datetime(record.creation_date),
        "loggingConfiguration": record.logging_configuration,
        "tracingConfiguration": record.tracing_configuration,
        "revisionId": record.revision_id,
    }
    if record.description:
        response["description"] = record.description
    return response


_DATA_FIELDS = ("input", "output", "parameters")


def _api_event(stored: dict[str, Any], include_data: bool) -> dict[str, Any]:
    event = {**stored, "timestamp": to_datetime(stored["timestamp"])}
    if not include_data:
        for key, value in event.items():
            if key.endswith("EventDetails") and isinstance(value, dict):
                event[key] = {
                    k: v
                    for k, v in value.items()
                    if k not in _DATA_FIELDS and not k.endswith("Details")
                }
    return event


_OPERATIONS: dict[str, Callable[[Service, Request], Response]] = {
    "CreateStateMachine": Service.create_state_machine,
    "DescribeStateMachine": Service.describe_state_machine,
    "UpdateStateMachine": Service.update_state_machine,
    "DeleteStateMachine": Service.delete_state_machine,
    "ListStateMachines": Service.list_state_machines,
    "DescribeStateMachineForExecution": Service.describe_state_machine_for_execution,
    "ValidateStateMachineDefinition": Service.validate_state_machine_definition,
    "StartExecution": Service.start_execution,
    "StartSyncExecution": Service.start_sync_execution,
    "DescribeExecution": Service.describe_execution,
    "StopExecution": Service.stop_execution,
    "ListExecutions": Service.list_executions,
    "GetExecutionHistory": Service.get_execution_history,
    "SendTaskSuccess": Service.send_task_success,
    "SendTaskFailure": Service.send_task_failure,
    "SendTaskHeartbeat": Service.send_task_heartbeat,
    "CreateActivity": Service.create_activity,
    "DescribeActivity": Service.describe_activity,
    "DeleteActivity": Service.delete_activity,
    "ListActivities": Service.list_activities,
    "GetActivityTask": Service.get_activity_task,
}
