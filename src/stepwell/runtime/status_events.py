"""Step Functions' own events on the default event bus: "Step Functions Execution Status
Change" (source ``aws.states``), put when an execution starts (or is redriven) and when
it ends, so a rule with ``{"source": ["aws.states"], "detail": {"status": ["FAILED"]}}``
reacts to a failed execution (Step Functions Developer Guide, "Automating Step Functions event
delivery with EventBridge": events of *standard* workflows; Express ones send none).

The same notices carry the events of ``PutEvents`` when a Stepwell has workers: the API
answers once the event is stored, and a worker delivers it (as EventBridge delivers
after it answered), so an accepted event survives a crash and a slow target never holds
the caller.

Design decision: durability without a second store. The worker adds a *notice* to the
step that records the status (an ``invoke`` work item, committed in the same
transaction), so a crash between the status and the event loses neither; any worker
leases the notice and publishes it (at least once, as EventBridge delivers). The event's
id is derived from the execution, its status and its redrive count, so a repeated
delivery to a state machine target starts no second execution. A notice is added only
when some rule would receive the event (``EventsClient.listening``), so executions cost
nothing extra while nobody listens.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import orjson

from stepwell.integrations.services.events import EventsClient, iso_time
from stepwell.store.base import ExecutionRecord, WorkItem

SOURCE: Final = "aws.states"
DETAIL_TYPE: Final = "Step Functions Execution Status Change"
_NOTICE: Final = b'{"notice":"events",'
_REDRIVABLE: Final = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
_IDS: Final = uuid.UUID("3b0e2f6c-91d4-4c7a-b5e8-7a1f0c9d2e64")


def status_notices(
    record: ExecutionRecord, bus: EventsClient, now: float, machine_type: str | None
) -> list[WorkItem]:
    """The notice of ``record``'s status change, to commit with the status, when a rule
    would receive it; none for Express workflows."""
    if machine_type == "EXPRESS" or not bus.may_listen():
        return []  # most executions: no rule listens, and no event is built
    event = status_change_event(record, now)
    if not bus.listening(event):
        return []
    return [notice(event, now, owner=notice_owner(record.arn))]


def notice_owner(execution_arn: str) -> str:
    """The key a status notice is filed under: not the execution's ARN, since a redrive
    deletes every work item of that ARN and a notice not yet delivered must outlive it.
    Invoke items are leased by queue, never joined to their execution, so no execution
    row need bear this key."""
    return f"{execution_arn}#events"


def status_change_event(record: ExecutionRecord, now: float) -> dict[str, Any]:
    """The EventBridge event for ``record``'s current status."""
    parts = record.arn.split(":")
    region, account = (parts[3], parts[4]) if len(parts) > 4 else ("us-east-1", "123456789012")
    ended = record.status != "RUNNING"
    return {
        "version": "0",
        "id": str(uuid.uuid5(_IDS, f"{record.arn}/{record.status}/{record.redrive_count}")),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": iso_time(now),
        "region": region,
        "resources": [record.arn],
        "detail": {
            "executionArn": record.arn,
            "stateMachineArn": record.state_machine_arn,
            "name": record.name,
            "status": record.status,
            "startDate": _millis(record.start_date),
            "stopDate": _millis(record.stop_date) if ended else None,
            "input": record.input,
            "output": record.output,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if record.output is not None else None,
            "error": record.error,
            "cause": record.cause,
            "redriveCount": record.redrive_count,
            "redriveDate": _millis(record.redrive_date),
            **_redrive_status(record.status),
        },
    }


def _redrive_status(status: str) -> dict[str, Any]:
    """As DescribeExecution reports it (aws-behaviour.md: "Execution is SUCCEEDED and
    cannot be redriven")."""
    if status in _REDRIVABLE:
        return {"redriveStatus": "REDRIVABLE", "redriveStatusReason": None}
    reason = f"Execution is {status} and cannot be redriven"
    return {"redriveStatus": "NOT_REDRIVABLE", "redriveStatusReason": reason}


def _millis(epoch: float | None) -> int | None:
    return None if epoch is None else round(epoch * 1000)


def notice(event: dict[str, Any], now: float, bus: str = "default", owner: str = "") -> WorkItem:
    """The work item that publishes ``event`` on ``bus``: a status change (committed with
    the status it reports, ``owner`` its execution) or an event of ``PutEvents``."""
    payload = _NOTICE + orjson.dumps({"bus": bus, "event": event})[1:]
    return WorkItem(owner or bus_arn(event, bus), "invoke", payload, now)


def bus_arn(event: dict[str, Any], bus: str) -> str:
    return f"arn:aws:events:{event.get('region')}:{event.get('account')}:event-bus/{bus}"


def notice_event(payload: bytes) -> tuple[dict[str, Any], str] | None:
    """The event a notice item carries and its bus, or None for a task invocation."""
    if not payload.startswith(_NOTICE):
        return None
    data = orjson.loads(payload)
    return data["event"], str(data.get("bus", "default"))
