"""Mocked task results: the Step Functions Local mock configuration (Developer Guide,
"Configuration file for mocked service integrations"), and routes that choose per
state how a task runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import stepwell
from stepwell.integrations.functions import FunctionRegistry, Outcome
from stepwell.integrations.mocks import (
    MockConfig,
    MockConfigError,
    MockedIntegrations,
    StoredMockState,
    machine_name,
    parse_route,
    split_test_case,
)
from stepwell.integrations.registry import Integrations, Invocation
from stepwell.language.compiler import load_state_machine
from stepwell.runtime.clock import VirtualClock
from stepwell.runtime.worker import Worker
from stepwell.service.service import Service
from stepwell.store.base import Store

ROLE = "arn:aws:iam::123456789012:role/stepwell"
LAMBDA = "arn:aws:states:::lambda:invoke"
SQS = "arn:aws:states:::sqs:sendMessage"

# The example of "Configuration file for mocked service integrations", as published.
DOCS_CONFIG: dict[str, Any] = {
    "StateMachines": {
        "LambdaSQSIntegration": {
            "TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
                "HybridPath": {"LambdaState": "MockedLambdaSuccess"},
            }
        }
    },
    "MockedResponses": {
        "MockedLambdaSuccess": {
            "0": {
                "Return": {
                    "StatusCode": 200,
                    "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"},
                }
            }
        },
        "LambdaMockedResourceNotReady": {
            "0": {
                "Throw": {
                    "Error": "Lambda.ResourceNotReadyException",
                    "Cause": "Lambda resource is not ready.",
                }
            }
        },
        "MockedSQSSuccess": {
            "0": {
                "Return": {
                    "MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
                    "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51",
                }
            }
        },
        "MockedLambdaRetry": {
            "0": {
                "Throw": {
                    "Error": "Lambda.ResourceNotReadyException",
                    "Cause": "Lambda resource is not ready.",
                }
            },
            "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
            "3": {
                "Return": {
                    "StatusCode": 200,
                    "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"},
                }
            },
        },
    },
}

# The state machine the example mocks: a Lambda with Retry, then an SQS message.
LAMBDA_SQS: dict[str, Any] = {
    "StartAt": "LambdaState",
    "States": {
        "LambdaState": {
            "Type": "Task",
            "Resource": LAMBDA,
            "Parameters": {"FunctionName": "HelloFunction", "Payload.$": "$"},
            "Retry": [
                {
                    "ErrorEquals": ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException"],
                    "IntervalSeconds": 2,
                    "MaxAttempts": 3,
                    "BackoffRate": 2,
                }
            ],
            "Next": "SQSState",
        },
        "SQSState": {
            "Type": "Task",
            "Resource": SQS,
            "Parameters": {"QueueUrl": "https://sqs.example/queue", "MessageBody.$": "$"},
            "End": True,
        },
    },
}


def hello(event: Any) -> Any:
    return {"StatusCode": 200, "body": "real"}


def run(test_case: str | None, **options: Any) -> stepwell.ExecutionResult:
    options.setdefault("functions", {"HelloFunction": hello})
    return stepwell.run(LAMBDA_SQS, {}, mocks=DOCS_CONFIG, test_case=test_case, seed=3, **options)


def events(result: stepwell.ExecutionResult, kind: str) -> list[dict[str, Any]]:
    return [e for e in result.history if e["type"] == kind]


def test_happy_path_returns_the_mocked_responses() -> None:
    result = run("HappyPath")
    assert result.succeeded
    assert result.output["MessageId"] == "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"
    first = json.loads(events(result, "TaskSucceeded")[0]["taskSucceededEventDetails"]["output"])
    assert first["Payload"]["body"] == "Hello from Lambda!"


def test_retries_consume_successive_responses() -> None:
    result = run("RetryPath")
    assert result.succeeded
    failures = [e["taskFailedEventDetails"]["error"] for e in events(result, "TaskFailed")]
    assert failures == [
        "Lambda.ResourceNotReadyException",  # "0"
        "Lambda.TimeoutException",  # "1-2"
        "Lambda.TimeoutException",
    ]
    waited = (result.stop_date - result.start_date).total_seconds()
    assert waited == 2 + 4 + 8  # the retries really backed off


def test_a_hybrid_test_case_runs_unmocked_states_for_real() -> None:
    sent: list[Any] = []
    result = stepwell.run(
        LAMBDA_SQS,
        {},
        mocks=DOCS_CONFIG,
        test_case="HybridPath",
        tasks={"SQSState": lambda payload: sent.append(payload) or {"MessageId": "real"}},
        seed=3,
    )
    assert result.output == {"MessageId": "real"}
    assert sent[0]["MessageBody"]["Payload"]["body"] == "Hello from Lambda!"


def test_no_test_case_means_no_mocks() -> None:
    result = run(None, tasks={"SQSState": lambda payload: {"sent": True}})
    assert result.output == {"sent": True}
    first = json.loads(events(result, "TaskSucceeded")[0]["taskSucceededEventDetails"]["output"])
    assert first["Payload"] == {"StatusCode": 200, "body": "real"}


THROWING = {
    "StateMachines": {"M": {"TestCases": {"Fails": {"Work": "Broken"}}}},
    "MockedResponses": {
        "Broken": {"0-1": {"Throw": {"Error": "Custom.Error", "Cause": "mocked failure"}}}
    },
}
WORK: dict[str, Any] = {
    "StartAt": "Work",
    "States": {"Work": {"Type": "Task", "Resource": "arn:aws:lambda:::function:w", "End": True}},
}


def test_throw_fails_the_task_and_the_last_response_repeats() -> None:
    retried = {
        **WORK["States"]["Work"],
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 4}],
    }
    result = stepwell.run(
        {"StartAt": "Work", "States": {"Work": retried}},
        {},
        mocks=THROWING,
        test_case="Fails",
        seed=1,
    )
    assert (result.status, result.error, result.cause) == (
        "FAILED",
        "Custom.Error",
        "mocked failure",
    )
    assert len(events(result, "LambdaFunctionFailed")) == 5  # "0-1", then "1" again


def test_a_mocked_wait_for_task_token_task_needs_no_callback() -> None:
    waiting = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": SQS + ".waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    config = {
        "StateMachines": {"Approval": {"TestCases": {"Approved": {"Ask": "Yes"}}}},
        "MockedResponses": {"Yes": {"0": {"Return": {"approved": True}}}},
    }
    result = stepwell.run(waiting, {}, mocks=config, test_case="Approved", seed=1)
    assert result.output == {"approved": True}


def test_mocks_load_from_a_file_and_from_text(tmp_path: Path) -> None:
    path = tmp_path / "MockConfigFile.json"
    path.write_text(json.dumps(THROWING))
    for source in (path, str(path), json.dumps(THROWING)):
        config = MockConfig.load(source)
        assert config.case("M", "Fails") == {"Work": "Broken"}
        response = config.response("Broken")
        assert response is not None and response.outcome(7).error == "Custom.Error"


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"StateMachines": []}, "/StateMachines", "JSON object"),
        (
            {"StateMachines": {"M": {"TestCases": {"C": {"S": "Nope"}}}}},
            "/StateMachines/M/TestCases/C/S",
            "no mocked response named 'Nope'",
        ),
        ({"MockedResponses": {"R": {"zero": {"Return": 1}}}}, "/MockedResponses/R/zero", "range"),
        ({"MockedResponses": {"R": {"2-1": {"Return": 1}}}}, "/MockedResponses/R/2-1", "low"),
        ({"MockedResponses": {"R": {"1": {"Return": 1}}}}, "/MockedResponses/R", "invocation 0"),
        (
            {"MockedResponses": {"R": {"0": {"Return": 1}, "2": {"Return": 2}}}},
            "/MockedResponses/R",
            "invocation 1 has no response",
        ),
        ({"MockedResponses": {"R": {}}}, "/MockedResponses/R", "at least"),
        (
            {"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {}}}}},
            "/MockedResponses/R/0",
            "either Return or Throw",
        ),
        (
            {"MockedResponses": {"R": {"0": {"Throw": {"Cause": "c"}}}}},
            "/MockedResponses/R/0/Throw",
            "Error",
        ),
    ],
)
def test_invalid_configurations(config: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(MockConfigError) as raised:
        MockConfig.load(config)
    assert raised.value.path == path and message in raised.value.message
    assert str(raised.value).startswith(path)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_invalid_configuration_text(text: str) -> None:
    with pytest.raises(MockConfigError, match=r"^/: "):
        MockConfig.load(text)


def test_a_test_case_shared_by_two_machines_needs_the_machine_name() -> None:
    both = {
        "StateMachines": {
            "A": {"TestCases": {"T": {"Work": "R"}}},
            "B": {"TestCases": {"T": {"Work": "R"}}},
        },
        "MockedResponses": {"R": {"0": {"Return": "mocked"}}},
    }
    config = MockConfig.load(both)
    assert config.case("A", "T") == {"Work": "R"}
    assert config.case("machine", "T") is None  # ambiguous: no mocks
    result = stepwell.run(WORK, {}, mocks=both, test_case="T", functions={"w": lambda e: "real"})
    assert result.output == "real"


# --------------------------------------------------------------------- routes


def test_routes_run_a_state_by_function_name_or_mock() -> None:
    config = {"MockedResponses": {"Canned": {"0": {"Return": {"canned": True}}}}}
    two = {
        "StartAt": "A",
        "States": {
            "A": {**WORK["States"]["Work"], "ResultPath": "$.a", "Next": "B", "End": False},
            "B": {**WORK["States"]["Work"], "ResultPath": "$.b"},
        },
    }
    del two["States"]["A"]["End"]
    result = stepwell.run(
        two,
        {"n": 1},
        functions={"w": lambda e: "lambda", "other": lambda e: {"other": e["n"]}},
        mocks=config,
        tasks={"A": "function:other", "B": "mock:Canned"},
        seed=1,
    )
    assert result.output == {"n": 1, "a": {"other": 1}, "b": {"canned": True}}


def test_a_route_to_the_service_runs_the_real_integration() -> None:
    result = stepwell.run(
        WORK,
        {},
        functions={"w": lambda e: "real"},
        mocks=THROWING,
        test_case="Fails",
        tasks={"Work": "service"},
    )
    assert result.output == "real"


@pytest.mark.parametrize(
    ("route", "cause"),
    [("forward", "no forwarding is configured"), ("mock:Missing", "does not have")],
)
def test_routes_that_cannot_run(route: str, cause: str) -> None:
    result = stepwell.run(WORK, {}, tasks={"Work": route}, seed=1)
    assert result.error == "States.Runtime" and cause in (result.cause or "")


def test_a_forward_route_uses_the_given_forwarder_or_the_integrations_forwarding() -> None:
    forwarded: list[Invocation] = []

    def forward(invocation: Invocation) -> Outcome:
        forwarded.append(invocation)
        return Outcome(output={"from": "aws"})

    inner = Integrations()
    mocked = MockedIntegrations(inner, routes={"*": {"S": "forward"}}, forward_task=forward)
    call = Invocation(SQS, {"QueueUrl": "q"}, "arn:aws:states:r:a:execution:m:e", "S")
    assert mocked.invoke(call) == Outcome(output={"from": "aws"})

    class FakeForwarder:
        def invoke(self, resource: Any, payload: Any, request_id: str) -> Outcome:
            return Outcome(output={"forwarded": resource.service})

    inner.forwarder = FakeForwarder()  # type: ignore[assignment]
    configured = MockedIntegrations(inner, routes={"*": {"S": "forward"}})
    assert configured.invoke(call) == Outcome(output={"forwarded": "sqs"})
    function = Invocation("arn:aws:lambda:us-east-1:1:function:f", {}, call.execution_arn, "S")
    refused = configured.invoke(function)
    assert refused is not None and "only service integrations" in refused.cause


@pytest.mark.parametrize("route", ["mock:", "function", "teleport", "service:x"])
def test_invalid_routes(route: str) -> None:
    with pytest.raises(MockConfigError, match="a route is"):
        parse_route(route)


def test_routes_are_per_machine_before_the_wildcard() -> None:
    inner = Integrations(FunctionRegistry({"w": lambda e: "real"}))
    mocked = MockedIntegrations(
        inner, routes={"orders": {"Work": lambda e: "orders"}, "*": {"Work": lambda e: "any"}}
    )
    execution = "arn:aws:states:us-east-1:1:execution:{}:e"
    resource = "arn:aws:lambda:us-east-1:1:function:w"
    for machine, expected in (("orders", "orders"), ("billing", "any")):
        invocation = Invocation(resource, {}, execution.format(machine), "Work")
        assert mocked.invoke(invocation) == Outcome(output=expected)
    assert mocked.invoke(Invocation(resource, {}, execution.format("x"), "Other")) == Outcome(
        output="real"
    )


def test_the_wrapper_passes_everything_else_to_the_integrations() -> None:
    inner = Integrations()
    mocked = MockedIntegrations(inner)
    assert mocked.functions is inner.functions
    machine = load_state_machine(
        {"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": SQS + ".sync", "End": True}}}
    )
    assert mocked.check(machine) == inner.check(machine) != []
    assert mocked.diagnostics(machine) == inner.diagnostics(machine)
    mocked.register("custom:thing", lambda invocation, resource: Outcome(output="custom"))
    invocation = Invocation("arn:aws:states:::custom:thing", {}, "", "S")
    assert inner.invoke(invocation) is not None


def test_helpers() -> None:
    assert split_test_case("arn:aws:states:r:a:stateMachine:M#HappyPath") == (
        "arn:aws:states:r:a:stateMachine:M",
        "HappyPath",
    )
    assert split_test_case("arn:aws:states:r:a:stateMachine:M") == (
        "arn:aws:states:r:a:stateMachine:M",
        None,
    )
    assert machine_name("arn:aws:states:r:a:execution:M:e") == "M"
    assert machine_name("arn:aws:states:r:a:express:M:e:id") == "M"
    assert machine_name("") == ""


# --------------------------------------------------------------------- durable


def test_durable_mocks_per_execution_on_every_store(store: Store) -> None:
    """Test cases are chosen per execution and invocations counted in the store, so
    every worker sees the same counts."""
    clock = VirtualClock(1_700_000_000.0)
    mocked = MockedIntegrations(
        Integrations({"HelloFunction": hello}),
        MockConfig.load(DOCS_CONFIG),
        state=StoredMockState(store),
    )
    service = Service(store, clock, integrations=mocked)
    workers = [Worker(store, mocked, clock) for _ in range(2)]
    created = service.create_state_machine(
        {"name": "LambdaSQSIntegration", "definition": json.dumps(LAMBDA_SQS), "roleArn": ROLE}
    )
    arns = {}
    for case in ("RetryPath", "HybridPath"):
        machine_arn, test_case = split_test_case(f"{created['stateMachineArn']}#{case}")
        started = service.start_execution({"stateMachineArn": machine_arn, "name": case})
        assert test_case is not None
        mocked.select(started["executionArn"], test_case)
        arns[case] = started["executionArn"]
    turn = 0
    while True:  # two workers taking turns, the clock jumping to each retry
        progressed = workers[turn % 2].advance_one() | (workers[turn % 2].invoke_due(1) > 0)
        turn += 1
        if not progressed:
            due = store.next_due(clock.now())
            if due is None:
                break
            clock.set(due)
    retry = service.describe_execution({"executionArn": arns["RetryPath"]})
    assert retry["status"] == "SUCCEEDED"
    assert json.loads(retry["output"])["MessageId"].startswith("3bcb6e8e-8b51")
    history = service.get_execution_history({"executionArn": arns["RetryPath"]})["events"]
    assert [e["type"] for e in history].count("TaskFailed") == 3
    hybrid = service.describe_execution({"executionArn": arns["HybridPath"]})
    assert hybrid["status"] == "FAILED"  # its SQS state is not mocked: the embedded SQS ran
    assert hybrid["error"].startswith("SQS.")


def test_a_test_case_selected_for_one_execution_in_memory() -> None:
    mocked = MockedIntegrations(Integrations({"w": lambda e: "real"}), MockConfig.load(THROWING))
    resource = "arn:aws:lambda:us-east-1:1:function:w"
    chosen, other = (f"arn:aws:states:us-east-1:1:execution:M:{n}" for n in ("a", "b"))
    mocked.select(chosen, "Fails")
    failed = mocked.invoke(Invocation(resource, {}, chosen, "Work"))
    assert failed is not None and failed.error == "Custom.Error"
    assert mocked.invoke(Invocation(resource, {}, other, "Work")) == Outcome(output="real")
