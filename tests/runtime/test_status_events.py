"""Step Functions' "Execution Status Change" events on the default event bus, on every
store: put when an execution starts and ends, committed with the status so a crash
before publishing loses nothing, delivered once to a state machine target, and not
made at all while no rule listens (Step Functions Developer Guide, "Automating Step
Functions event delivery with EventBridge"; EventBridge User Guide, "Amazon
EventBridge events")."""

from __future__ import annotations

import json
from typing import Any

from stepwell.integrations.registry import Integrations
from stepwell.integrations.services import Services
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.status_events import notice_event
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store.base import Store

ROLE = "arn:aws:iam::123456789012:role/stepwell"
START = 1_709_542_920.0
FAIL = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Oops", "Cause": "why"}}}
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


class Harness:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.clock = VirtualClock(START)
        # The event bus and the queue live in the store under test, as in a server.
        self.integrations = Integrations(services=Services(store, self.clock.now))
        self.service = Service(store, self.clock, integrations=self.integrations)
        self.events = self.integrations.services.events
        self.sqs = self.integrations.services.sqs
        self.queue = self.sqs.call("CreateQueue", {"QueueName": "status"})["QueueUrl"]

    def worker(self) -> Worker:
        return Worker(self.store, self.integrations, self.clock)

    def machine(self, name: str, definition: dict[str, Any]) -> str:
        request = {"name": name, "definition": json.dumps(definition), "roleArn": ROLE}
        return str(self.service.create_state_machine(request)["stateMachineArn"])

    def rule(self, name: str, pattern: dict[str, Any], target: str) -> None:
        self.events.call("PutRule", {"Name": name, "EventPattern": json.dumps(pattern)})
        self.events.call("PutTargets", {"Rule": name, "Targets": [{"Id": "t", "Arn": target}]})

    def received(self) -> list[dict[str, Any]]:
        reply = self.sqs.call("ReceiveMessage", {"QueueUrl": self.queue, "MaxNumberOfMessages": 10})
        return [json.loads(m["Body"]) for m in reply.get("Messages", [])]

    def pending_notices(self) -> list[dict[str, Any]]:
        items = self.store.lease_invocations("peek", self.clock.now(), 0.0, 100)
        return [n[0] for item in items if (n := notice_event(item.payload)) is not None]


QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:status"


def test_start_and_end_are_put_on_the_default_bus(store: Store) -> None:
    h = Harness(store)
    machine = h.machine("passes", PASS)
    h.rule("all-status", {"source": ["aws.states"]}, QUEUE_ARN)
    started = h.service.start_execution({"stateMachineArn": machine, "input": '{"a": 1}'})
    h.worker().run_until_idle()
    events = h.received()
    assert [e["detail"]["status"] for e in events] == ["RUNNING", "SUCCEEDED"]
    running, succeeded = events
    assert running["detail-type"] == "Step Functions Execution Status Change"
    assert running["resources"] == [started["executionArn"]]
    assert running["detail"]["stopDate"] is None and running["detail"]["output"] is None
    assert json.loads(succeeded["detail"]["output"]) == {"a": 1}
    assert succeeded["detail"]["outputDetails"] == {"included": True}
    assert succeeded["detail"]["startDate"] == int(START * 1000)
    assert succeeded["time"] == "2024-03-04T09:02:00Z"
    assert (succeeded["detail"]["redriveStatus"], succeeded["detail"]["redriveStatusReason"]) == (
        "NOT_REDRIVABLE",
        "Execution is SUCCEEDED and cannot be redriven",
    )


def test_a_notice_survives_a_crash_before_it_is_published(store: Store) -> None:
    h = Harness(store)
    failing = h.machine("fails", FAIL)
    h.rule("failures", {"source": ["aws.states"], "detail": {"status": ["FAILED"]}}, QUEUE_ARN)
    h.service.start_execution({"stateMachineArn": failing, "input": "{}"})
    crashed = h.worker()
    assert crashed.advance_one()  # the step that records FAILED commits its notice
    assert (
        h.service.list_executions({"stateMachineArn": failing})["executions"][0]["status"]
        == "FAILED"
    )
    # The worker dies before it publishes: the notice is in the store, nothing delivered.
    assert h.received() == []
    assert [e["detail"]["status"] for e in h.pending_notices()] == ["FAILED"]
    h.clock.advance(60)
    h.worker().run_until_idle()  # another worker, or the restarted one
    (event,) = h.received()
    assert (event["detail"]["status"], event["detail"]["error"]) == ("FAILED", "Oops")


def test_a_failed_execution_starts_its_handler_once_even_if_published_twice(
    store: Store,
) -> None:
    h = Harness(store)
    failing = h.machine("fails", FAIL)
    handler = h.machine("handler", PASS)
    h.rule("on-failure", {"source": ["aws.states"], "detail": {"status": ["FAILED"]}}, handler)
    h.service.start_execution({"stateMachineArn": failing, "input": "{}"})
    worker = h.worker()
    worker.advance_one()
    (event,) = h.pending_notices()
    h.events.publish(event)  # an at-least-once redelivery of the same event
    h.clock.advance(60)
    worker.run_until_idle()
    (started,) = h.service.list_executions({"stateMachineArn": handler})["executions"]
    described = h.service.describe_execution({"executionArn": started["executionArn"]})
    assert json.loads(described["input"])["detail"]["stateMachineArn"] == failing


def test_without_a_listening_rule_no_notice_is_made(store: Store) -> None:
    h = Harness(store)
    machine = h.machine("fails", FAIL)
    h.rule("others", {"source": ["my.app"]}, QUEUE_ARN)
    h.events.call("PutRule", {"Name": "no-targets", "EventPattern": '{"source": ["aws.states"]}'})
    h.service.start_execution({"stateMachineArn": machine, "input": "{}"})
    h.worker().advance_one()
    assert h.pending_notices() == []
    assert h.received() == []


def test_put_events_answers_first_and_a_worker_delivers_even_after_a_crash(
    store: Store,
) -> None:
    # EventBridge delivers after PutEvents answered; an accepted event is stored first.
    h = Harness(store)
    h.rule("orders", {"source": ["shop"]}, QUEUE_ARN)
    entry = {"Source": "shop", "DetailType": "Order", "Detail": '{"id": 1}'}
    reply = h.events.call("PutEvents", {"Entries": [entry]})
    assert h.received() == []  # not yet delivered: the process may die now
    (pending,) = h.pending_notices()
    assert pending["id"] == reply["Entries"][0]["EventId"]
    h.clock.advance(60)
    h.worker().run_until_idle()
    (event,) = h.received()
    assert (event["id"], event["detail"]) == (reply["Entries"][0]["EventId"], {"id": 1})


def test_express_workflows_send_no_status_events(store: Store) -> None:
    # Developer Guide, "Automating Step Functions event delivery with EventBridge": the
    # events come from standard workflows.
    h = Harness(store)
    request = {"name": "quick", "definition": json.dumps(FAIL), "roleArn": ROLE, "type": "EXPRESS"}
    express = h.service.create_state_machine(request)["stateMachineArn"]
    h.rule("all-status", {"source": ["aws.states"]}, QUEUE_ARN)
    h.service.start_execution({"stateMachineArn": express, "input": "{}"})
    h.worker().run_until_idle()
    assert h.received() == []


def test_a_redrive_puts_running_again_with_its_redrive_count(store: Store) -> None:
    # Developer Guide, "Redriving state machines": a redriven execution runs again
    # (RUNNING, redriveCount 1) and its events are those of a new attempt.
    h = Harness(store)
    failing = h.machine("fails", FAIL)
    h.rule("all-status", {"source": ["aws.states"]}, QUEUE_ARN)
    started = h.service.start_execution({"stateMachineArn": failing, "input": "{}"})
    worker = h.worker()
    worker.run_until_idle()
    h.service.redrive_execution({"executionArn": started["executionArn"]})
    worker.run_until_idle()
    statuses = [(e["detail"]["status"], e["detail"]["redriveCount"]) for e in h.received()]
    assert statuses == [("RUNNING", 0), ("FAILED", 0), ("RUNNING", 1), ("FAILED", 1)]


def test_a_failed_notice_not_yet_delivered_survives_a_redrive(store: Store) -> None:
    # A redrive drops the execution's pending work, not its status notices: the FAILED
    # event of the first attempt still reaches the rule's target (Developer Guide,
    # "Redriving state machines"; "Automating Step Functions event delivery with
    # EventBridge").
    h = Harness(store)
    failing = h.machine("fails", FAIL)
    h.rule("failures", {"source": ["aws.states"], "detail": {"status": ["FAILED"]}}, QUEUE_ARN)
    started = h.service.start_execution({"stateMachineArn": failing, "input": "{}"})
    assert h.worker().advance_one()  # FAILED is recorded with its notice, not yet delivered
    h.service.redrive_execution({"executionArn": started["executionArn"]})
    h.clock.advance(60)
    h.worker().run_until_idle()
    statuses = [(e["detail"]["status"], e["detail"]["redriveCount"]) for e in h.received()]
    assert sorted(statuses) == [("FAILED", 0), ("FAILED", 1)]


def test_a_bus_may_listen_only_with_an_enabled_rule_that_has_targets(store: Store) -> None:
    """``may_listen`` lets a worker skip building the status event of every execution
    while no rule could receive it; any rule that could makes it look closer."""
    h = Harness(store)
    assert not h.events.may_listen()
    h.events.call("PutRule", {"Name": "no-targets", "EventPattern": '{"source": ["aws.states"]}'})
    assert not h.events.may_listen()
    h.rule("others", {"source": ["my.app"]}, QUEUE_ARN)
    assert h.events.may_listen()  # it listens to the bus, if not to this source
    h.events.call("DisableRule", {"Name": "others"})
    assert not h.events.may_listen()
