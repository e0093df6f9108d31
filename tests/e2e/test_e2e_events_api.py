"""End to end: the EventBridge API (AWS JSON 1.1, ``AWSEvents.*``) on Stepwell's endpoint,
through boto3 and the AWS CLI against a real server on SQLite (issue 11): rules and
targets, PutEvents delivering to a state machine, a queue, a topic and a function, the
input transformer, and a rule reacting to Step Functions' own "Execution Status Change"
event of a failed execution (Amazon EventBridge API Reference; User Guide, "Event bus
targets", "Amazon EventBridge input transformation"; Step Functions Developer Guide,
"Automating Step Functions event delivery with EventBridge")."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stepwell.service.host import Host
from tests.e2e.server import ROLE, aws_cli, running_host, service_client, wait_until_done

ACCOUNT = "123456789012"
RECEIVED: list[Any] = []
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
FAIL = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Oops", "Cause": "bad"}}}


def on_event(event: Any) -> dict[str, Any]:
    RECEIVED.append(event)
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Host]]:
    folder = tmp_path_factory.mktemp("events")
    with running_host(folder, {"on-event": on_event}) as (url, host):
        yield url, host


@pytest.fixture(scope="module")
def events(server: tuple[str, Host]) -> Any:
    return service_client(server[0], "events")


@pytest.fixture(scope="module")
def sqs(server: tuple[str, Host]) -> Any:
    return service_client(server[0], "sqs")


@pytest.fixture(scope="module")
def sfn(server: tuple[str, Host]) -> Any:
    return service_client(server[0], "stepfunctions")


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"


def receive(sqs: Any, url: str, wait: int = 0) -> list[str]:
    reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
    return [m["Body"] for m in reply.get("Messages", [])]


def collect(sqs: Any, url: str, count: int) -> list[str]:
    """``count`` messages, long-polling while the workers deliver (PutEvents answers first)."""
    bodies: list[str] = []
    deadline = time.monotonic() + 10
    while len(bodies) < count and time.monotonic() < deadline:
        bodies += receive(sqs, url, wait=2)
    assert len(bodies) == count, bodies
    return bodies


def eventually(condition: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + 10
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return result


def machine(sfn: Any, name: str, definition: dict[str, Any]) -> str:
    created = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
    return str(created["stateMachineArn"])


def put(events: Any, source: str, detail: dict[str, Any], **extra: Any) -> dict[str, Any]:
    entry = {"Source": source, "DetailType": "Order Placed", "Detail": json.dumps(detail), **extra}
    reply: dict[str, Any] = events.put_events(Entries=[entry])
    assert reply["FailedEntryCount"] == 0, reply
    return reply


def test_rules_and_targets_lifecycle(events: Any) -> None:
    pattern = json.dumps({"source": ["shop"]})
    arn = events.put_rule(Name="orders-1", EventPattern=pattern, Description="first")["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/orders-1"
    for index in (2, 3):
        events.put_rule(Name=f"orders-{index}", EventPattern=pattern, State="DISABLED")
    described = events.describe_rule(Name="orders-1")
    assert described["EventPattern"] == pattern and described["State"] == "ENABLED"
    assert described["EventBusName"] == "default" and described["Description"] == "first"

    first = events.list_rules(NamePrefix="orders-", Limit=2)
    assert [r["Name"] for r in first["Rules"]] == ["orders-1", "orders-2"]
    rest = events.list_rules(NamePrefix="orders-", Limit=2, NextToken=first["NextToken"])
    assert [r["Name"] for r in rest["Rules"]] == ["orders-3"] and "NextToken" not in rest

    events.disable_rule(Name="orders-1")
    assert events.describe_rule(Name="orders-1")["State"] == "DISABLED"
    events.enable_rule(Name="orders-1")
    assert events.describe_rule(Name="orders-1")["State"] == "ENABLED"

    target = {"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:nowhere"}
    assert events.put_targets(Rule="orders-1", Targets=[target])["FailedEntryCount"] == 0
    assert events.list_targets_by_rule(Rule="orders-1")["Targets"] == [target]
    with pytest.raises(events.exceptions.ClientError, match="it has targets"):
        events.delete_rule(Name="orders-1")  # AWS refuses while targets exist
    events.remove_targets(Rule="orders-1", Ids=["q"])
    assert events.list_targets_by_rule(Rule="orders-1")["Targets"] == []
    for index in (1, 2, 3):
        events.delete_rule(Name=f"orders-{index}")
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_rule(Name="orders-1")


def test_invalid_rules_are_refused(events: Any) -> None:
    with pytest.raises(events.exceptions.InvalidEventPatternException, match="Reason"):
        events.put_rule(Name="bad", EventPattern='{"a": [{"numeric": [">", "x"]}]}')
    with pytest.raises(events.exceptions.ClientError, match="ScheduleExpression is not valid"):
        events.put_rule(Name="bad", ScheduleExpression="rate(5 minute)")
    with pytest.raises(events.exceptions.ClientError, match="EventPattern or ScheduleExpression"):
        events.put_rule(Name="bad")
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_targets(Rule="no-such-rule", Targets=[{"Id": "a", "Arn": "arn:aws:sqs:x"}])
    events.put_rule(Name="limits", EventPattern='{"source": ["x"]}')
    too_many = [{"Id": str(i), "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q{i}"} for i in range(6)]
    with pytest.raises(events.exceptions.LimitExceededException):
        events.put_targets(Rule="limits", Targets=too_many)


def test_put_events_reaches_a_queue_a_topic_a_machine_and_a_function(
    events: Any, sqs: Any, sfn: Any, server: tuple[str, Host]
) -> None:
    direct_url, direct_arn = queue(sqs, "orders-direct")
    fanned_url, fanned_arn = queue(sqs, "orders-fanned")
    sns = service_client(server[0], "sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=fanned_arn)
    sns.set_subscription_attributes(
        SubscriptionArn=sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0][
            "SubscriptionArn"
        ],
        AttributeName="RawMessageDelivery",
        AttributeValue="true",
    )
    handler = machine(sfn, "order-handler", PASS)
    events.put_rule(
        Name="big-orders",
        EventPattern=json.dumps(
            {"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}
        ),
    )
    events.put_targets(
        Rule="big-orders",
        Targets=[
            {"Id": "queue", "Arn": direct_arn},
            {"Id": "topic", "Arn": topic},
            {"Id": "machine", "Arn": handler},
            {"Id": "function", "Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:on-event"},
        ],
    )
    RECEIVED.clear()
    put(events, "shop", {"total": 5})  # matches no rule
    reply = put(events, "shop", {"total": 250}, Resources=["arn:aws:shop:order/1"])
    event_id = reply["Entries"][0]["EventId"]

    (body,) = collect(sqs, direct_url, 1)
    event = json.loads(body)
    assert event == {
        "version": "0",
        "id": event_id,
        "detail-type": "Order Placed",
        "source": "shop",
        "account": ACCOUNT,
        "time": event["time"],
        "region": "us-east-1",
        "resources": ["arn:aws:shop:order/1"],
        "detail": {"total": 250},
    }
    assert [json.loads(b)["id"] for b in collect(sqs, fanned_url, 1)] == [event_id]
    assert [e["id"] for e in eventually(lambda: list(RECEIVED))] == [event_id]
    (execution,) = eventually(lambda: sfn.list_executions(stateMachineArn=handler)["executions"])
    done = wait_until_done(sfn, execution["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["input"])["id"] == event_id


def test_put_events_reports_refused_entries(events: Any) -> None:
    reply = events.put_events(
        Entries=[
            {"Source": "shop", "DetailType": "x", "Detail": "{}"},
            {"Source": "shop", "DetailType": "x", "Detail": "not json"},
            {"DetailType": "x", "Detail": "{}"},
        ]
    )
    assert reply["FailedEntryCount"] == 2
    ok, malformed, missing = reply["Entries"]
    assert "EventId" in ok
    assert malformed["ErrorCode"] == "MalformedDetail"
    assert missing["ErrorCode"] == "InvalidArgument" and "Source" in missing["ErrorMessage"]


def test_input_transformer_and_input_path(events: Any, sqs: Any) -> None:
    url, arn = queue(sqs, "shaped")
    events.put_rule(Name="shaped", EventPattern='{"source": ["shaper"]}')
    events.put_targets(
        Rule="shaped",
        Targets=[
            {
                "Id": "transformed",
                "Arn": arn,
                "InputTransformer": {
                    "InputPathsMap": {"order": "$.detail.order", "source": "$.source"},
                    "InputTemplate": '{"order": <order>, "note": "order <order> from <source>", '
                    '"rule": "<aws.events.rule-name>"}',
                },
            },
            {"Id": "path", "Arn": arn, "InputPath": "$.detail"},
            {"Id": "constant", "Arn": arn, "Input": '{"fixed": true}'},
        ],
    )
    put(events, "shaper", {"order": 42})
    bodies = sorted((json.loads(b) for b in collect(sqs, url, 3)), key=json.dumps)
    assert bodies == sorted(
        [
            {"order": 42, "note": "order 42 from shaper", "rule": "shaped"},
            {"order": 42},
            {"fixed": True},
        ],
        key=json.dumps,
    )


def test_a_rule_reacts_to_a_failed_execution(events: Any, sqs: Any, sfn: Any) -> None:
    url, arn = queue(sqs, "failures")
    failing = machine(sfn, "always-fails", FAIL)
    pattern = {
        "source": ["aws.states"],
        "detail": {"status": ["FAILED"], "stateMachineArn": [failing]},
    }
    events.put_rule(Name="on-failure", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="on-failure", Targets=[{"Id": "q", "Arn": arn}])
    started = sfn.start_execution(stateMachineArn=failing, input='{"order": 7}')
    assert wait_until_done(sfn, started["executionArn"])["status"] == "FAILED"
    (body,) = collect(sqs, url, 1)  # the worker pool publishes the notice
    event = json.loads(body)
    assert event["source"] == "aws.states"
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["resources"] == [started["executionArn"]]
    detail = event["detail"]
    assert detail["executionArn"] == started["executionArn"]
    assert detail["stateMachineArn"] == failing
    assert (detail["status"], detail["error"], detail["cause"]) == ("FAILED", "Oops", "bad")
    assert detail["input"] == '{"order": 7}' and detail["output"] is None
    assert (detail["redriveCount"], detail["redriveStatus"]) == (0, "REDRIVABLE")
    assert isinstance(detail["startDate"], int) and detail["stopDate"] >= detail["startDate"]
    assert receive(sqs, url) == []  # RUNNING did not match; FAILED came once


def test_test_event_pattern(events: Any) -> None:
    event = json.dumps(
        {"id": "1", "source": "shop", "detail-type": "x", "account": ACCOUNT,
         "time": "2024-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
         "detail": {"total": 3}}
    )  # fmt: skip
    matched = events.test_event_pattern(EventPattern='{"detail": {"total": [3]}}', Event=event)
    assert matched["Result"] is True
    missed = events.test_event_pattern(EventPattern='{"detail": {"total": [4]}}', Event=event)
    assert missed["Result"] is False


def test_deep_patterns_and_events_are_answered_not_a_500(events: Any) -> None:
    # Amazon EventBridge quotas, "Event pattern size" (2,048 characters); nesting is bounded.
    deep_pattern = '{"a":' * 300 + '["b"]' + "}" * 300
    with pytest.raises(events.exceptions.InvalidEventPatternException, match="nested deeper"):
        events.put_rule(Name="deep", EventPattern=deep_pattern)
    with pytest.raises(events.exceptions.InvalidEventPatternException, match="longer than"):
        events.put_rule(Name="long", EventPattern=json.dumps({"source": ["x" * 2100]}))
    with pytest.raises(events.exceptions.InvalidEventPatternException, match="nested deeper"):
        events.test_event_pattern(EventPattern=deep_pattern, Event="{}")
    event = {"id": "1", "source": "shop", "detail-type": "x", "account": ACCOUNT,
             "time": "2024-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
             "detail": {"total": "[" * 900 + "3" + "]" * 900}}  # fmt: skip
    text = json.dumps(event).replace('"' + event["detail"]["total"] + '"', event["detail"]["total"])
    matched = events.test_event_pattern(EventPattern='{"detail": {"total": [3]}}', Event=text)
    assert matched["Result"] is True


def test_aws_cli_round_trip(server: tuple[str, Host], sqs: Any, tmp_path: Path) -> None:
    url = server[0]
    queue_url, queue_arn = queue(sqs, "cli-events")
    rule = aws_cli(
        url, tmp_path, "events", "put-rule", "--name", "cli-rule",
        "--event-pattern", '{"source": ["cli"]}',
    )  # fmt: skip
    assert rule["RuleArn"].endswith(":rule/cli-rule")
    targets = json.dumps([{"Id": "q", "Arn": queue_arn}])
    aws_cli(url, tmp_path, "events", "put-targets", "--rule", "cli-rule", "--targets", targets)
    entries = json.dumps([{"Source": "cli", "DetailType": "t", "Detail": '{"n": 1}'}])
    sent = aws_cli(url, tmp_path, "events", "put-events", "--entries", entries)
    assert sent["FailedEntryCount"] == 0
    assert [json.loads(b)["detail"] for b in collect(sqs, queue_url, 1)] == [{"n": 1}]
    listed = aws_cli(url, tmp_path, "events", "list-rules", "--name-prefix", "cli-")
    assert [r["Name"] for r in listed["Rules"]] == ["cli-rule"]
