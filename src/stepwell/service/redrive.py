"""RedriveExecution: restart a failed, timed-out or aborted Standard execution from the
state where it stopped, keeping its ARN, input and history (API Reference,
RedriveExecution; Developer Guide, "Redriving executions").

Design decision: a finished execution keeps no interpreter state, so the state to resume
from is rebuilt from its history (``runtime/redrive_plan.py``, shared with the Map Runs
that redrive their children). The service appends
``ExecutionRedriven`` and the state's ``...StateEntered`` event and reopens the
execution in one store transaction (``Store.redrive_execution``), which also drops the
previous attempt's leftover timers.

A Parallel or inline Map state reruns only its failed or aborted branches and iterations
(``redrive_keeps``); a Distributed Map state redrives its Map Run, which reruns only its
unsuccessful children (Developer Guide, "Redriving Map Runs").
"""

from __future__ import annotations

from dataclasses import replace

import orjson

from stepwell.engine.history import HISTORY_LIMIT
from stepwell.runtime.clock import to_datetime
from stepwell.runtime.map_runs import top_level_map_runs
from stepwell.runtime.redrive_plan import MAX_REDRIVES, plan_redrive
from stepwell.runtime.status_events import status_notices
from stepwell.service import errors as err
from stepwell.service.core import Request, Response, ServiceCore
from stepwell.store.base import ExecutionRecord

REDRIVABLE_DAYS = 14  # "the redrivable period of 14 days"
MAX_OPEN_DAYS = 365  # "the maximum open time of one year"
CLIENT_TOKENS = "redrive-tokens"  # document namespace: execution ARN -> recent client tokens
TOKENS_KEPT = 10  # "idempotent responses for the last 10 client tokens ..."
TOKEN_SECONDS = 15 * 60  # "... valid for up to 15 minutes after they are first used"
_DAY = 86_400.0
_REDRIVEN_FROM = ("FAILED", "TIMED_OUT", "ABORTED")


def redrive_status(record: ExecutionRecord, now: float) -> tuple[str, str | None]:
    """DescribeExecution's ``redriveStatus`` and ``redriveStatusReason``; the reasons are
    AWS's (API Reference, DescribeExecution, redriveStatusReason)."""
    reason = _not_redrivable(record, now)
    return ("NOT_REDRIVABLE", reason) if reason else ("REDRIVABLE", None)


def _not_redrivable(record: ExecutionRecord, now: float) -> str | None:
    if record.status not in _REDRIVEN_FROM:
        return f"Execution is {record.status} and cannot be redriven"  # K6: no period
    if now - record.start_date > MAX_OPEN_DAYS * _DAY:
        return "Execution has exceeded the max execution time."
    if record.stop_date is not None and now - record.stop_date > REDRIVABLE_DAYS * _DAY:
        return "Execution redrivable period exceeded."
    if record.redrive_count >= MAX_REDRIVES:
        return f"Execution has been redriven the maximum number of times ({MAX_REDRIVES})."
    return None


class RedriveOperations(ServiceCore):
    def redrive_execution(self, request: Request) -> Response:
        record = self._execution(request["executionArn"])
        token = request.get("clientToken")
        now = self.clock.now()
        earlier = self._redrive_for_token(record.arn, token, now)
        if earlier is not None:
            return {"redriveDate": to_datetime(earlier)}
        reason = _not_redrivable(record, now)
        history = self.store.history(record.arn)
        if reason is None and len(history) >= HISTORY_LIMIT - 1:
            reason = "Execution history event limit exceeded."
        machine_record = self.store.get_state_machine(
            record.version_arn or record.state_machine_arn
        )
        if reason is None and machine_record is None:
            reason = "State machine is in DELETING status."
        if reason is not None or machine_record is None:
            raise err.ExecutionNotRedrivable(
                f"Execution '{record.arn}' cannot be redriven: {reason}"
            )
        redriven = replace(
            record,
            status="RUNNING",
            stop_date=None,
            output=None,
            error=None,
            cause=None,
            redrive_count=record.redrive_count + 1,
            redrive_date=now,
            redrive_keeps=None,
        )
        machine = self.machines.for_execution(record, machine_record)
        if machine is None:
            raise err.ExecutionNotRedrivable(
                f"Execution '{record.arn}' cannot be redriven: its definition is gone."
            )
        plan = plan_redrive(
            machine,
            machine_record,
            redriven,
            history,
            now,
            record.redrive_keeps,
            top_level_map_runs(self.store, record.arn),
        )
        bus = self.integrations.services.events
        running = status_notices(redriven, bus, now, machine_record.type)  # RUNNING again
        if not self.store.redrive_execution(
            redriven, record, plan.state, plan.events, (*plan.items, *running)
        ):
            raise self._redriven_meanwhile(record, now)
        self._remember_token(record.arn, token, now)
        self._step_now(record.arn)
        return {"redriveDate": to_datetime(now)}

    def _redriven_meanwhile(self, record: ExecutionRecord, now: float) -> err.ServiceError:
        """The error for a redrive that another one, planned from the same attempt,
        beat to the store: the execution runs again (or ended again) since it was read."""
        current = self.store.get_execution(record.arn)
        reason = _not_redrivable(current, now) if current is not None else None
        return err.ExecutionNotRedrivable(
            f"Execution '{record.arn}' cannot be redriven: "
            + (reason or "Execution was redriven by another request meanwhile")
        )

    def _redrive_for_token(self, arn: str, token: str | None, now: float) -> float | None:
        """The redrive date an earlier request with this client token got, if recent."""
        if not token:
            return None
        with self.store.documents(CLIENT_TOKENS) as documents:
            stored = documents.get(arn)
        for used, date, first_used in orjson.loads(stored) if stored else []:
            if used == token and now - first_used <= TOKEN_SECONDS:
                return float(date)
        return None

    def _remember_token(self, arn: str, token: str | None, now: float) -> None:
        if not token:
            return
        with self.store.documents(CLIENT_TOKENS) as documents:
            stored = documents.get(arn)
            tokens = orjson.loads(stored) if stored else []
            tokens = [*tokens, [token, now, now]][-TOKENS_KEPT:]
            documents.put(arn, orjson.dumps(tokens))
