"""Run the failed-communications seed against an in-process Stepwell server.

    python -m examples.reprocessing.run        (or: make example-reprocessing)

An hourly schedule (the seed's CloudWatch rule) starts ``ScheduledReprocessing``, whose
Lambda function fetches the application's failed communications 20 at a time and starts
``ReprocessFailedCommunications`` once per batch; a Map sends each communication again
through the application's API (``endpoint.py``, served on a local port).

Time is virtual (see ``examples/local_stepwell.py``): the hour between two ticks of the
schedule and the minutes of retry back-off pass at once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from examples.local_stepwell import LocalStepwell, local_stepwell
from examples.reprocessing.endpoint import ALWAYS, CommunicationsApp, serving
from examples.reprocessing.functions import FetchFailedCommunications, SendCommunication

HERE = Path(__file__).parent
START = datetime(2024, 5, 1, 8, 59, tzinfo=UTC)
# As [[schedules]] in stepwell.toml: an EventBridge cron rule targeting a state machine.
SCHEDULE = {
    "name": "reprocess-failed-communications",
    "expression": "cron(0 * * * ? *)",
    "state_machine": "ScheduledReprocessing",
}
TOPIC = "arn:aws:sns:us-east-1:123456789012:failed-communications"
FLAKY, BROKEN = "c-007", "c-013"  # fails once, then sends; never sends


def failed_communications(app: CommunicationsApp, count: int = 45) -> None:
    for n in range(1, count + 1):
        primary_id = f"c-{n:03}"
        payload = {
            "primaryId": primary_id,
            "operation": "send.email" if n % 3 else "send.sms",
            "createdBy": f"user-{n % 4}",
            "created": f"2024-04-30T{n % 24:02}:00:00Z",
        }
        failures = {FLAKY: 1, BROKEN: ALWAYS}.get(primary_id, 0)
        app.add_failed(payload, failures)


def prepare(local: LocalStepwell, api_url: str) -> tuple[str, str, str]:
    """The queue, topic and subscription, both state machines and both functions."""
    dlq = local.services.sqs.create_queue(QueueName="failed-communications-dlq")["QueueUrl"]
    local.services.sns.create_topic(Name="failed-communications")
    local.services.sns.subscribe(TopicArn=TOPIC, Protocol="email", Endpoint="ops@example.com")
    scheduled = local.create_state_machine("ScheduledReprocessing", HERE / "scheduled.asl.json")
    reprocess = local.create_state_machine(
        "ReprocessFailedCommunications", HERE / "reprocessing.asl.json"
    )
    fetch = FetchFailedCommunications(api_url, local.sfn, reprocess)
    local.register_function("fetch-failed-communications", fetch)
    local.register_function("send-communication", SendCommunication(api_url))
    return dlq, scheduled, reprocess


def tick(local: LocalStepwell, scheduled: str, number: int) -> dict[str, Any]:
    """Move to the next full hour; the schedule fires; run its execution to the end."""
    local.advance(
        (local.now() + timedelta(hours=1)).replace(minute=0).timestamp() - local.clock.now()
    )
    [fired, *_] = local.wait_for(lambda: _executions(local, scheduled, number), what="the tick")
    output: dict[str, Any] = json.loads(local.run_until_done(fired["executionArn"])["output"])
    print(
        f"{local.now():%H:%M} the schedule fired {fired['name']}: {output['items']} failed, "
        f"{len(output['executions'])} executions started"
    )
    return output


def _executions(local: LocalStepwell, machine: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = local.sfn.list_executions(stateMachineArn=machine)["executions"]
    return found if len(found) >= count else []


def report(local: LocalStepwell, execution: str) -> None:
    described = local.run_until_done(execution)
    name, status = described["name"], described["status"]
    seconds = (described["stopDate"] - described["startDate"]).total_seconds()
    error = f" ({described['error']})" if "error" in described else ""
    print(f"  {name}: {status}{error} after {seconds:.0f} s")


def _batch(mail: dict[str, Any]) -> int:
    return int(json.loads(mail["Body"])["batch"])


def main() -> None:
    app = CommunicationsApp()
    failed_communications(app)
    with serving(app) as api_url, local_stepwell({}, start=START, schedules=(SCHEDULE,)) as local:
        dlq, scheduled, _ = prepare(local, api_url)
        print(f"Stepwell on {local.url}; the application's API on {api_url}")
        print(f"{local.now():%H:%M} 45 failed communications; {FLAKY} fails once, {BROKEN} always")
        started = tick(local, scheduled, 1)["executions"]
        for execution in started:
            report(local, execution)
        print(
            f"  sends attempted: {len(app.attempts)} ({app.attempts.count(FLAKY)} for {FLAKY}, "
            f"{app.attempts.count(BROKEN)} for {BROKEN})"
        )
        for mail in sorted(local.services.sns.outbox("ops@example.com"), key=_batch):
            body = json.loads(mail["Body"])
            print(
                f"  mail: {mail['Subject']!r}: batch {body['batch']}/{body['of']}, "
                f"{len(body['sent'])} sent, dead-lettered {body['deadLettered']}"
            )
        for message in local.services.sqs.receive_message(QueueUrl=dlq).get("Messages", []):
            body = json.loads(message["Body"])
            print(f"  dead-letter queue: {body['primaryId']} ({body['error']['Error']})")
        tick(local, scheduled, 2)


if __name__ == "__main__":
    main()
