"""Executions: Start, StartSync, Describe, Stop, List, GetExecutionHistory, and the Map Run
operations.

Standard executions are durable: StartExecution writes the execution and its first work
item in one transaction and the runtime's workers do the rest. Express executions have
no durable record (Developer Guide, "Standard and Express workflow types"):
StartSyncExecution runs one to its end in memory and answers with the result;
StartExecution runs one the same way in a background thread and answers at once with its
ARN, which DescribeExecution and GetExecutionHistory then refuse, as AWS does.

The Map Run operations are in ``map_runs.py``; ListExecutions(mapRunArn) lists a run's
children, and StopExecution also stops the execution's running Map Runs.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import uuid
from typing import Any

from stepwell.engine import events as ev
from stepwell.engine.execution import ExecutionInfo, ExecutionState
from stepwell.integrations.mocks import split_test_case
from stepwell.language.verbatim import compact_json, parse_sent_json
from stepwell.runtime.clock import SystemClock, to_datetime
from stepwell.runtime.codec import encode_event
from stepwell.runtime.local import LocalRunner
from stepwell.service import errors as err
from stepwell.service.aliases import StartTarget
from stepwell.service.arns import check_name, parse_machine_arn
from stepwell.service.core import Request, Response, execution_input, present
from stepwell.service.machines import MachineOperations
from stepwell.service.map_runs import MapRunOperations
from stepwell.service.pages import paginate
from stepwell.service.redrive import redrive_status
from stepwell.store.base import ExecutionRecord, WorkItem, definition_key

logger = logging.getLogger("stepwell.service")

_DATA_FIELDS = ("input", "output", "parameters")
# The same few definitions start every execution: hash each once, not on every start.
_definition_key = functools.lru_cache(maxsize=32)(definition_key)


class ExecutionOperations(MapRunOperations, MachineOperations):
    def start_execution(self, request: Request) -> Response:
        # "ARN#TestCase" picks a test case of the mock configuration, as Step Functions
        # Local does ("Using mocked service integrations").
        machine_arn, test_case = split_test_case(request["stateMachineArn"])
        target = self._start_target(machine_arn)
        name = check_name(request.get("name") or str(uuid.uuid4()))
        text = execution_input(request.get("input"))
        if target.machine.type == "EXPRESS":
            return self._start_express(target, name, text)
        now = self.clock.now()
        record = ExecutionRecord(
            arn=self.arns.execution(target.machine_name, name),
            state_machine_arn=target.machine_arn,
            name=name,
            status="RUNNING",
            input=text,
            start_date=now,
            version_arn=target.version_arn,
            alias_arn=target.alias_arn,
            trace_header=request.get("traceHeader"),
            definition_key=_definition_key(target.machine.definition),
        )
        first = WorkItem(record.arn, "start", b"{}", now)
        if self._run_now is not None and test_case is None:
            # Created and stepped in one transaction, under a lease of this call's own.
            stored, created, due = self._run_now.start_now(record, first, target.machine)
            self._check_same(stored, created, text)
            if not created or due is not None:
                self._wake(due if created else None)
            return {"executionArn": stored.arn, "startDate": to_datetime(stored.start_date)}
        stored, created = self.store.create_execution(record, first)
        self._check_same(stored, created, text)
        if created and test_case is not None:
            select = getattr(self.integrations, "select", None)
            if select is None:
                raise err.ValidationException(
                    f"Test case '{test_case}' given, but no mock configuration is loaded."
                )
            select(stored.arn, test_case)
        if created:
            self._step_now(stored.arn)
        else:
            self._wake()
        return {"executionArn": stored.arn, "startDate": to_datetime(stored.start_date)}

    @staticmethod
    def _check_same(stored: ExecutionRecord, created: bool, text: str) -> None:
        """StartExecution of a name in use is idempotent only for a running execution
        with the same input (API Reference, StartExecution)."""
        if not created and (stored.status != "RUNNING" or stored.input != text):
            raise err.ExecutionAlreadyExists(f"Execution Already Exists: '{stored.arn}'")

    def start_sync_execution(self, request: Request) -> Response:
        """Run an Express execution to its end in memory and answer with the result."""
        target = self._start_target(request["stateMachineArn"])
        if target.machine.type != "EXPRESS":
            raise err.StateMachineTypeNotSupported(
                "This operation is not supported by this type of state machine"
            )
        name = check_name(request.get("name") or str(uuid.uuid4()))
        text = execution_input(request.get("input"))
        started = self.clock.now()
        arn = self.arns.express_execution(target.machine_name, name, str(uuid.uuid4()))
        execution, stopped = self._run_in_memory(target, name, text, arn, started)
        response: Response = {
            "executionArn": arn,
            "stateMachineArn": target.machine_arn,
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
        response["outputDetails"] = {"included": True}  # K8: a failed one says so too
        if execution.status == "SUCCEEDED":
            response["output"] = compact_json(execution.output).decode().lstrip()
        else:
            response.update(present(error=execution.error, cause=execution.cause))
        return response

    def describe_execution(self, request: Request) -> Response:
        record = self._execution(request["executionArn"], dispatched_express=True)
        status, reason = redrive_status(record, self.clock.now())
        return present(
            executionArn=record.arn,
            stateMachineArn=record.state_machine_arn,
            name=record.name,
            status=record.status,
            startDate=to_datetime(record.start_date),
            stopDate=to_datetime(record.stop_date) if record.stop_date is not None else None,
            input=record.input,
            inputDetails={"included": True},
            output=record.output,
            outputDetails={"included": True} if record.output is not None else None,
            error=record.error,
            cause=record.cause,
            traceHeader=record.trace_header or None,
            stateMachineVersionArn=record.version_arn,
            stateMachineAliasArn=record.alias_arn,
            mapRunArn=record.map_run_arn,
            redriveCount=record.redrive_count,
            redriveDate=to_datetime(record.redrive_date) if record.redrive_date else None,
            redriveStatus=status,
            redriveStatusReason=reason,
        )

    def stop_execution(self, request: Request) -> Response:
        record = self._execution(request["executionArn"])
        now = self.clock.now()
        if record.status == "RUNNING":
            stop = ev.StopRequested(request.get("error"), request.get("cause"))
            self.store.enqueue(WorkItem(record.arn, "event", encode_event(stop), now))
            self._stop_map_runs(record.arn)
            self._wake()
        return {"stopDate": to_datetime(now)}

    def list_executions(self, request: Request) -> Response:
        """Executions of a machine, of one of its versions or of an alias; newest first:
        running ones by start (or redrive) date, the others by stop date (API Reference,
        ListExecutions)."""
        records = self._listed_executions(request)
        records.sort(key=_listing_date, reverse=True)
        page, token = paginate(records, request)
        return {"executions": [_execution_item(r) for r in page], **token}

    def _listed_executions(self, request: Request) -> list[ExecutionRecord]:
        arn = request.get("stateMachineArn")
        status = request.get("statusFilter")
        if "mapRunArn" in request:
            if arn is not None:
                raise err.ValidationException(
                    "Only one of stateMachineArn and mapRunArn may be specified"
                )
            return self._map_run_children(request["mapRunArn"], status)
        if arn is None:
            raise err.ValidationException("Must provide a StateMachine ARN or MapRun ARN")
        if status == "PENDING_REDRIVE":
            raise err.ValidationException("The PENDING_REDRIVE status filter requires a mapRunArn")
        parsed = parse_machine_arn(arn)
        if parsed.alias is not None:
            self._alias(arn)
        elif self._machine(arn).type == "EXPRESS":
            raise err.StateMachineTypeNotSupported(
                "This operation is not supported by this type of state machine"
            )
        records = self.store.list_executions(parsed.machine_arn, status)
        if parsed.version is not None:
            records = [r for r in records if r.version_arn == arn]
        elif parsed.alias is not None:
            records = [r for r in records if r.alias_arn == arn]
        redriven = request.get("redriveFilter")
        if redriven is not None:
            records = [r for r in records if (r.redrive_count > 0) == (redriven == "REDRIVEN")]
        return records

    def get_execution_history(self, request: Request) -> Response:
        record = self._execution(request["executionArn"])
        events = self.store.history(record.arn)
        if request.get("reverseOrder"):
            events.reverse()
        page, token = paginate(events, request)
        include_data = request.get("includeExecutionData", True)
        return {"events": [_api_event(e, record, include_data) for e in page], **token}

    # ----------------------------------------------------------------- Express

    def _start_express(self, target: StartTarget, name: str, text: str) -> Response:
        """StartExecution on an Express machine: run it in a background thread, in
        memory, and answer at once (StartExecution "isn't idempotent for EXPRESS")."""
        started = self.clock.now()
        arn = self.arns.express_execution(target.machine_name, name, str(uuid.uuid4()))
        thread = threading.Thread(
            target=self._run_express,
            args=(target, name, text, arn, started),
            name=f"stepwell-express-{name}",
            daemon=True,
        )
        with self._background_lock:
            self._background.add(thread)
        thread.start()
        return {"executionArn": arn, "startDate": to_datetime(started)}

    def _run_express(
        self, target: StartTarget, name: str, text: str, arn: str, started: float
    ) -> None:
        try:
            self._run_in_memory(target, name, text, arn, started)
        except Exception:
            logger.exception("Express execution %s failed to run", arn)
        finally:
            with self._background_lock:
                self._background.discard(threading.current_thread())

    def wait_for_background(self, timeout: float) -> bool:
        """Wait for Express executions started with StartExecution; True if all ended."""
        with self._background_lock:
            running = list(self._background)
        for thread in running:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in running)

    def _run_in_memory(
        self, target: StartTarget, name: str, text: str, arn: str, started: float
    ) -> tuple[ExecutionState, float]:
        machine = target.machine
        info = ExecutionInfo(
            execution_arn=arn,
            name=name,
            state_machine_arn=target.machine_arn,
            state_machine_name=target.machine_name,
            role_arn=machine.role_arn,
            region=self.arns.region,
            start_time=to_datetime(started),
            input_text=text,
            express=True,
        )
        runner = LocalRunner(
            self.machines.compiled(machine),
            self.integrations,
            to_datetime(started),
            random.Random(os.urandom(16)),
            record_history=False,
            real_time=isinstance(self.clock, SystemClock),
        )
        execution = runner.run(parse_sent_json(text), info)
        return execution, runner.clock.timestamp()


def _listing_date(record: ExecutionRecord) -> float:
    if record.status == "RUNNING":
        return record.redrive_date or record.start_date
    return record.stop_date or record.start_date


def _execution_item(record: ExecutionRecord) -> dict[str, Any]:
    return present(
        executionArn=record.arn,
        stateMachineArn=record.state_machine_arn,
        name=record.name,
        status=record.status,
        startDate=to_datetime(record.start_date),
        stopDate=to_datetime(record.stop_date) if record.stop_date is not None else None,
        stateMachineVersionArn=record.version_arn,
        stateMachineAliasArn=record.alias_arn,
        mapRunArn=record.map_run_arn,
        redriveCount=record.redrive_count,
        redriveDate=to_datetime(record.redrive_date) if record.redrive_date else None,
    )


def _api_event(stored: dict[str, Any], record: ExecutionRecord, include_data: bool) -> Response:
    event = {**stored, "timestamp": to_datetime(stored["timestamp"])}
    if event["type"] == "ExecutionStarted":
        # The version or alias the execution was started through (API Reference,
        # ExecutionStartedEventDetails: stateMachineAliasArn, stateMachineVersionArn).
        event["executionStartedEventDetails"] = {
            **event.get("executionStartedEventDetails", {}),
            **present(
                stateMachineVersionArn=record.version_arn, stateMachineAliasArn=record.alias_arn
            ),
        }
    if not include_data:
        for key, value in event.items():
            if key.endswith("EventDetails") and isinstance(value, dict):
                event[key] = {
                    k: v
                    for k, v in value.items()
                    if k not in _DATA_FIELDS and not k.endswith("Details")
                }
    return event
