"""The embedded EventBridge on every store: rules and targets are durable and shared by
every client of the store (another process, a restart), and ``PutEvents`` delivers to the
targets of the rules that match (Amazon EventBridge API Reference: PutRule, PutTargets,
PutEvents, DeleteRule; User Guide, "Rules in Amazon EventBridge")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import stepwell
from stepwell.integrations.functions import FunctionRegistry
from stepwell.integrations.services import Services
from stepwell.runtime.clock import VirtualClock
from stepwell.store.base import Store
from stepwell.store.sqlite import open_sqlite

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:bus"


def test_rules_are_shared_by_every_client_of_the_store(store: Store) -> None:
    clock = VirtualClock(1_700_000_000)
    writer, reader = Services(store, clock.now), Services(store, clock.now)
    queue = writer.sqs.create_queue(QueueName="bus")["QueueUrl"]
    writer.events.put_rule(Name="r", EventPattern='{"detail": {"n": [{"numeric": [">", 1]}]}}')
    writer.events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": QUEUE_ARN}])
    assert [r["Name"] for r in reader.events.list_rules()["Rules"]] == ["r"]
    entries = [{"Source": "s", "DetailType": "d", "Detail": json.dumps({"n": n})} for n in (1, 2)]
    assert reader.events.put_events(Entries=entries)["FailedEntryCount"] == 0
    (message,) = writer.sqs.receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"])["detail"] == {"n": 2}
    assert json.loads(message["Body"])["time"] == "2023-11-14T22:13:20Z"  # the store's clock


def test_rules_survive_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    first = open_sqlite(path)
    Services(first).events.put_rule(Name="kept", ScheduleExpression="rate(1 day)")
    first.close()
    again = open_sqlite(path)
    try:
        assert Services(again).events.describe_rule(Name="kept")["ScheduleExpression"] == (
            "rate(1 day)"
        )
    finally:
        again.close()


def test_failed_deliveries_are_recorded_not_raised(store: Store) -> None:
    events = Services(store).events
    events.put_rule(Name="r", EventPattern='{"source": ["s"]}')
    targets = [
        {"Id": "gone", "Arn": "arn:aws:sqs:us-east-1:123456789012:no-such-queue"},
        {"Id": "machine", "Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"},
        {"Id": "kinesis", "Arn": "arn:aws:kinesis:us-east-1:123456789012:stream/x"},
    ]
    events.put_targets(Rule="r", Targets=targets)
    reply = events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])
    assert reply["FailedEntryCount"] == 0  # delivery happens after PutEvents answered
    failed = events.failed_deliveries()
    assert sorted(f["TargetId"] for f in failed) == ["gone", "kinesis", "machine"]
    assert all(f["EventId"] == reply["Entries"][0]["EventId"] for f in failed)


def test_a_rule_on_another_bus_sees_only_that_bus(store: Store) -> None:
    services = Services(store)
    queue = services.sqs.create_queue(QueueName="bus")["QueueUrl"]
    events = services.events
    arn = events.put_rule(Name="r", EventBusName="orders", EventPattern='{"source": ["s"]}')
    assert arn["RuleArn"] == "arn:aws:events:us-east-1:123456789012:rule/orders/r"
    events.put_targets(Rule="r", EventBusName="orders", Targets=[{"Id": "q", "Arn": QUEUE_ARN}])
    entry = {"Source": "s", "DetailType": "d", "Detail": "{}"}
    events.put_events(Entries=[entry])
    assert "Messages" not in services.sqs.receive_message(QueueUrl=queue)
    bus_arn = "arn:aws:events:us-east-1:123456789012:event-bus/orders"
    events.put_events(Entries=[{**entry, "EventBusName": bus_arn}])
    assert len(services.sqs.receive_message(QueueUrl=queue)["Messages"]) == 1
    with pytest.raises(events.exceptions.ClientError, match="only on the default event bus"):
        events.put_rule(Name="tick", EventBusName="orders", ScheduleExpression="rate(1 hour)")


def test_put_targets_refuses_bad_transformers_as_validation_errors(store: Store) -> None:
    # Amazon EventBridge API Reference, InputTransformer: InputPathsMap is a map of paths,
    # InputTemplate 1 to 8,192 characters.
    events = Services(store).events
    events.put_rule(Name="r", EventPattern='{"source": ["s"]}')
    bad = [
        {"InputPathsMap": ["$.source"], "InputTemplate": "<a>"},
        {"InputPathsMap": {"a": "$.source"}, "InputTemplate": "x" * 8193},
    ]
    for transformer in bad:
        target = {"Id": "q", "Arn": QUEUE_ARN, "InputTransformer": transformer}
        with pytest.raises(events.exceptions.ClientError, match="ValidationException"):
            events.put_targets(Rule="r", Targets=[target])
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []


def test_put_events_refuses_bad_times_and_oversized_entries(store: Store) -> None:
    # API Reference, PutEvents / PutEventsResultEntry: a bad entry fails alone
    # (InvalidArgument); User Guide, "Calculating PutEvents event entry size": 256 KB.
    events = Services(store).events
    entry = {"Source": "s", "DetailType": "d", "Detail": "{}"}
    times = [1e15, float("nan"), float("inf"), -1e20, "not a time"]
    reply = events.put_events(Entries=[{**entry, "Time": moment} for moment in times])
    assert reply["FailedEntryCount"] == len(times)
    assert {r["ErrorCode"] for r in reply["Entries"]} == {"InvalidArgument"}
    padding = "x" * (256 * 1024)
    reply = events.put_events(Entries=[entry, {**entry, "Detail": json.dumps({"p": padding})}])
    ok, big = reply["Entries"]
    assert "EventId" in ok and big["ErrorCode"] == "InvalidArgument"
    assert reply["FailedEntryCount"] == 1
    with pytest.raises(events.exceptions.ClientError, match="less than or equal to 10"):
        events.put_events(Entries=[entry] * 11)
    assert events.put_events(Entries=[entry] * 10)["FailedEntryCount"] == 0


def test_list_rules_refuses_a_limit_that_is_not_a_number(store: Store) -> None:
    events = Services(store).events
    events.put_rule(Name="r", EventPattern='{"source": ["s"]}')
    for limit in ("ten", 0, float("inf")):
        with pytest.raises(events.exceptions.ClientError, match="ValidationException"):
            events.list_rules(Limit=limit)


def test_a_put_events_task_puts_on_the_embedded_bus() -> None:
    # Step Functions Developer Guide, "Add EventBridge events with Step Functions": the
    # optimized integration's Detail may be a JSON object; the result lists the event ids.
    services = Services()
    queue = services.sqs.create_queue(QueueName="bus")["QueueUrl"]
    services.events.put_rule(Name="done", EventPattern='{"detail-type": ["job done"]}')
    services.events.put_targets(Rule="done", Targets=[{"Id": "q", "Arn": QUEUE_ARN}])
    entry = {"Source": "my.flow", "DetailType": "job done", "Detail": {"job.$": "$.job"}}
    definition = {
        "StartAt": "Announce",
        "States": {
            "Announce": {
                "Type": "Task",
                "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {"Entries": [entry]},
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, {"job": 7}, services=services)
    assert result.status == "SUCCEEDED"
    assert result.output["FailedEntryCount"] == 0
    (message,) = services.sqs.receive_message(QueueUrl=queue)["Messages"]
    event = json.loads(message["Body"])
    assert (event["source"], event["detail"]) == ("my.flow", {"job": 7})
    assert event["id"] == result.output["Entries"][0]["EventId"]


def test_function_and_fifo_queue_targets() -> None:
    # User Guide, "Event bus targets": a Lambda function gets the input as its event; an
    # SQS FIFO queue target names its message group in SqsParameters.
    seen: list[object] = []

    def record(event: object) -> dict[str, str]:
        seen.append(event)
        return {}

    def broken(event: object) -> None:
        raise ValueError("no")

    functions = FunctionRegistry()
    functions.register("record", record)
    functions.register("broken", broken)
    services = Services(functions=functions)
    fifo = services.sqs.create_queue(QueueName="bus.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    events = services.events
    events.put_rule(Name="r", EventPattern='{"source": ["s"]}')
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:"
    template = {"InputPathsMap": {"d": "$.detail-type"}, "InputTemplate": '"it was <d>"'}
    events.put_targets(
        Rule="r",
        Targets=[
            {"Id": "text", "Arn": function_arn + "record", "InputTransformer": template},
            {"Id": "json", "Arn": function_arn + "record", "InputPath": "$.detail"},
            {"Id": "fails", "Arn": function_arn + "broken"},
            {
                "Id": "fifo",
                "Arn": "arn:aws:sqs:us-east-1:123456789012:bus.fifo",
                "SqsParameters": {"MessageGroupId": "g1"},
            },
        ],
    )
    events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": '{"k": 1}'}])
    assert sorted(map(str, seen)) == ["it was d", "{'k': 1}"]
    (failed,) = events.failed_deliveries()
    assert failed["TargetId"] == "fails" and "ValueError" in failed["Error"]
    (message,) = services.sqs.receive_message(
        QueueUrl=fifo, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"]
    assert message["Attributes"]["MessageGroupId"] == "g1"


def test_the_sdk_integration_reaches_the_embedded_bus_too() -> None:
    services = Services()
    definition = {
        "StartAt": "Rules",
        "States": {
            "Rules": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:eventbridge:putRule",
                "Parameters": {"Name": "from-a-task", "EventPattern": '{"source": ["x"]}'},
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, {}, services=services)
    assert result.output == {"RuleArn": "arn:aws:events:us-east-1:123456789012:rule/from-a-task"}
    assert services.events.describe_rule(Name="from-a-task")["State"] == "ENABLED"
