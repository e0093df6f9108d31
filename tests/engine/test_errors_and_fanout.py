"""Retry, Catch, Parallel and Map, and the history events they produce.

Cited pages: Developer Guide "Handling errors in Step Functions workflows" (Retry fields,
BackoffRate, MaxDelaySeconds, JitterStrategy, States.ALL / States.TaskFailed matching),
"Parallel workflow state", "Map state in inline mode", "Task workflow state".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import stepwell
from stepwell import TaskError
from stepwell.engine.recovery import error_matches, retry_delay
from stepwell.language.model import Retrier

T0 = datetime(2025, 3, 1, tzinfo=UTC)
FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def flaky(failures: int, error: str = "Lambda.ServiceException") -> Any:
    calls = {"n": 0}

    def fn(event: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise TaskError(error, f"attempt {calls['n']}")
        return {"ok": True, "attempts": calls["n"]}

    return fn


def task(retry: list[Any] | None = None, catch: list[Any] | None = None, **extra: Any) -> Any:
    state: dict[str, Any] = {"Type": "Task", "Resource": FN + "f", **extra}
    if retry:
        state["Retry"] = retry
    if catch:
        state["Catch"] = catch
    states: dict[str, Any] = {"T": {**state, "End": True}}
    if catch:
        states["Handler"] = {"Type": "Pass", "End": True}
    return {"StartAt": "T", "States": states}


@pytest.mark.parametrize(
    ("patterns", "error", "expected"),
    [
        (["States.ALL"], "Custom", True),
        (["States.ALL"], "States.Timeout", True),
        (["States.ALL"], "States.Runtime", False),
        (["States.ALL"], "States.DataLimitExceeded", False),
        (["States.TaskFailed"], "Lambda.ServiceException", True),
        (["States.TaskFailed"], "States.Timeout", False),
        (["States.Runtime"], "States.Runtime", False),
        (["A", "B"], "B", True),
        (["A"], "a", False),  # error names are case-sensitive
    ],
)
def test_error_matching(patterns: list[str], error: str, expected: bool) -> None:
    assert error_matches(patterns, error) is expected


def test_retry_delay_backoff_cap_and_jitter() -> None:
    retrier = Retrier(("E",), interval_seconds=2, backoff_rate=2, max_delay_seconds=5)
    assert [retry_delay(retrier, n, lambda: 0.5) for n in range(3)] == [2, 4, 5]
    jittered = Retrier(("E",), interval_seconds=4, backoff_rate=1, jitter_full=True)
    assert retry_delay(jittered, 0, lambda: 0.25) == 1.0


def test_retry_until_success_waits_interval_times_backoff() -> None:
    definition = task(
        retry=[
            {
                "ErrorEquals": ["Lambda.ServiceException"],
                "IntervalSeconds": 2,
                "MaxAttempts": 6,
                "BackoffRate": 2,
            }
        ]
    )
    result = stepwell.run(definition, {}, functions={"f": flaky(3)}, start_time=T0, seed=1)
    assert result.output == {"ok": True, "attempts": 4}
    scheduled = [
        e["timestamp"] - T0 for e in result.history if e["type"] == "LambdaFunctionScheduled"
    ]
    assert scheduled == [
        timedelta(0),
        timedelta(seconds=2),
        timedelta(seconds=6),
        timedelta(seconds=14),
    ]


def test_retries_exhausted_then_catch_with_result_path() -> None:
    definition = task(
        retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}],
        catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handler"}],
    )
    result = stepwell.run(definition, {"in": 1}, functions={"f": flaky(10, "Boom")}, seed=1)
    assert result.status == "SUCCEEDED"
    assert result.output == {"in": 1, "err": {"Error": "Boom", "Cause": "attempt 3"}}


def test_max_attempts_zero_never_retries() -> None:
    definition = task(retry=[{"ErrorEquals": ["Boom"], "MaxAttempts": 0}])
    result = stepwell.run(definition, {}, functions={"f": flaky(1, "Boom")}, seed=1)
    assert (result.status, result.error, result.cause) == ("FAILED", "Boom", "attempt 1")


def test_only_the_first_matching_retrier_counts() -> None:
    definition = task(
        retry=[
            {"ErrorEquals": ["Boom"], "MaxAttempts": 1},
            {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5},
        ]
    )
    result = stepwell.run(definition, {}, functions={"f": flaky(2, "Boom")}, seed=1)
    assert result.status == "FAILED"


def test_retry_count_in_context_object() -> None:
    seen: list[int] = []

    def fn(event: Any) -> Any:
        seen.append(event["retry"])
        if len(seen) < 3:
            raise TaskError("Boom")
        return "ok"

    definition = task(
        retry=[{"ErrorEquals": ["Boom"]}], Parameters={"retry.$": "$$.State.RetryCount"}
    )
    stepwell.run(definition, {}, functions={"f": fn}, seed=1)
    assert seen == [0, 1, 2]


def test_python_exception_becomes_error_named_after_its_class() -> None:
    def fn(event: Any) -> Any:
        raise ValueError("bad value")

    result = stepwell.run(task(), {}, functions={"f": fn}, seed=1)
    assert result.error == "ValueError"
    assert '"errorMessage":"bad value"' in (result.cause or "")
    assert result.history[-2]["type"] == "LambdaFunctionFailed"


def test_unknown_function_is_resource_not_found() -> None:
    result = stepwell.run(task(), {}, seed=1)
    assert result.error == "Lambda.ResourceNotFoundException"


def test_lambda_invoke_integration_response_shape() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": FN + "f:$LATEST", "Payload.$": "$"},
                "End": True,
            }
        },
    }
    result = stepwell.run(
        definition, {"x": 1}, functions={"f": lambda e, ctx: [e, ctx.function_name]}
    )
    assert result.output["Payload"] == [{"x": 1}, "f"]
    assert result.output["StatusCode"] == 200
    assert result.output["ExecutedVersion"] == "$LATEST"
    types = [e["type"] for e in result.history]
    assert types[2:5] == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]
    scheduled = result.history[2]["taskScheduledEventDetails"]
    assert (scheduled["resourceType"], scheduled["resource"]) == ("lambda", "invoke")


def test_task_timeout_is_states_timeout() -> None:
    """A task that never reports back times out after TimeoutSeconds."""
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "TimeoutSeconds": 30,
                "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}},
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}],
                "End": True,
            },
            "Late": {"Type": "Pass", "End": True},
        },
    }
    result = stepwell.run(definition, {}, start_time=T0, seed=1)
    # No SQS integration in-process yet: the task fails at once and is not caught.
    assert result.status == "FAILED"


def test_catch_jsonata_output_and_assign() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": FN + "f",
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Output": {"e": "{% $states.errorOutput.Error %}"},
                        "Assign": {"failed": True},
                        "Next": "H",
                    }
                ],
                "End": True,
            },
            "H": {
                "Type": "Pass",
                "Output": {"e": "{% $states.input.e %}", "f": "{% $failed %}"},
                "End": True,
            },
        },
    }
    result = stepwell.run(definition, {}, functions={"f": flaky(1, "Boom")}, seed=1)
    assert result.output == {"e": "Boom", "f": True}


# --------------------------------------------------------------------- Parallel


def test_parallel_outputs_in_branch_order() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": True}}},
                    {
                        "StartAt": "B",
                        "States": {
                            "B": {"Type": "Wait", "Seconds": 5, "Next": "C"},
                            "C": {"Type": "Pass", "Result": 2, "End": True},
                        },
                    },
                ],
                "ResultPath": "$.r",
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, {"in": 0}, seed=1)
    assert result.output == {"in": 0, "r": [1, 2]}
    types = [e["type"] for e in result.history]
    assert types[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert types[-3:] == ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]


def test_parallel_branch_failure_fails_the_state_with_the_branch_error() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "W",
                        "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}},
                    },
                    {
                        "StartAt": "F",
                        "States": {"F": {"Type": "Fail", "Error": "Custom.Boom", "Cause": "boom"}},
                    },
                ],
                "Catch": [
                    {"ErrorEquals": ["Custom.Boom"], "ResultPath": "$.error", "Next": "Handled"}
                ],
                "End": True,
            },
            "Handled": {"Type": "Pass", "End": True},
        },
    }
    result = stepwell.run(definition, {}, start_time=T0, seed=1)
    assert result.output == {"error": {"Error": "Custom.Boom", "Cause": "boom"}}
    assert "ParallelStateFailed" in [e["type"] for e in result.history]
    assert result.stop_date == T0  # the waiting branch was stopped, not waited for


def test_parallel_retry_reruns_all_branches() -> None:
    fn = flaky(1, "Boom")
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "T",
                        "States": {"T": {"Type": "Task", "Resource": FN + "f", "End": True}},
                    }
                ],
                "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1}],
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, {}, functions={"f": fn}, seed=1)
    assert result.output == [{"ok": True, "attempts": 2}]
    assert [e["type"] for e in result.history].count("ParallelStateStarted") == 2


# --------------------------------------------------------------------- Map


def map_machine(**fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Double",
                    "States": {"Double": {"Type": "Task", "Resource": FN + "double", "End": True}},
                },
                **fields,
                "End": True,
            }
        },
    }


def double(event: Any) -> Any:
    if event == "bad":
        raise TaskError("BadItem", "cannot double")
    return event * 2


@pytest.mark.parametrize(
    ("fields", "given", "expected"),
    [
        ({"ItemsPath": "$.xs"}, {"xs": [1, 2, 3]}, [2, 4, 6]),
        ({}, [1, 2], [2, 4]),
        ({"ItemsPath": "$.xs", "MaxConcurrency": 1}, {"xs": [1, 2, 3]}, [2, 4, 6]),
        ({"ItemsPath": "$.xs"}, {"xs": []}, []),
        (
            {"ItemsPath": "$.xs", "ItemSelector": {"v.$": "$$.Map.Item.Value", "k.$": "$.k"}},
            {"xs": [1], "k": 5},
            [{"v": 1, "k": 5, "v2": None}],
        ),
    ],
)
def test_map_results_in_item_order(fields: dict[str, Any], given: Any, expected: Any) -> None:
    functions = {"double": lambda e: {**e, "v2": None} if isinstance(e, dict) else e * 2}
    result = stepwell.run(map_machine(**fields), given, functions=functions, seed=1)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected


def test_map_legacy_iterator_and_parameters() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "Parameters": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"},
                "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, {"xs": ["a", "b"]}, seed=1)
    assert result.output == [{"i": 0, "v": "a"}, {"i": 1, "v": "b"}]


def test_map_history_events() -> None:
    result = stepwell.run(
        map_machine(ItemsPath="$.xs"), {"xs": [1, 2]}, functions={"double": double}, seed=1
    )
    types = [e["type"] for e in result.history]
    assert types.count("MapIterationStarted") == 2
    assert types.count("MapIterationSucceeded") == 2
    started = next(e for e in result.history if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"] == {"length": 2}
    iteration = next(e for e in result.history if e["type"] == "MapIterationStarted")
    assert iteration["mapIterationStartedEventDetails"] == {"name": "M", "index": 0}
    ids = [e["id"] for e in result.history]
    assert ids == list(range(1, len(ids) + 1))
    assert all(e["previousEventId"] < e["id"] for e in result.history)


def test_map_item_failure_fails_the_map_with_that_error() -> None:
    result = stepwell.run(
        map_machine(ItemsPath="$.xs"), {"xs": [1, "bad", 3]}, functions={"double": double}, seed=1
    )
    assert (result.status, result.error) == ("FAILED", "BadItem")
    types = [e["type"] for e in result.history]
    assert "MapIterationFailed" in types and "MapStateFailed" in types


@pytest.mark.parametrize(
    ("tolerance", "items", "status"),
    [
        ({"ToleratedFailureCount": 1}, [1, "bad", 3], "SUCCEEDED"),
        ({"ToleratedFailureCount": 1}, ["bad", "bad", 3], "FAILED"),
        ({"ToleratedFailurePercentage": 50}, ["bad", 2], "SUCCEEDED"),
        ({"ToleratedFailurePercentage": 50}, ["bad", "bad", 3], "FAILED"),
    ],
)
def test_map_tolerated_failures(tolerance: dict[str, Any], items: list[Any], status: str) -> None:
    result = stepwell.run(
        map_machine(ItemsPath="$.xs", **tolerance),
        {"xs": items},
        functions={"double": double},
        seed=1,
    )
    assert result.status == status
    if status == "FAILED":
        assert result.error == "States.ExceedToleratedFailureThreshold"


def test_map_items_path_must_be_an_array() -> None:
    result = stepwell.run(map_machine(ItemsPath="$.xs"), {"xs": {"a": 1}}, seed=1)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_map_max_concurrency_path() -> None:
    result = stepwell.run(
        map_machine(ItemsPath="$.xs", MaxConcurrencyPath="$.c"),
        {"xs": [1, 2, 3], "c": 2},
        functions={"double": double},
        seed=1,
    )
    assert result.output == [2, 4, 6]


def test_jsonata_map_items_and_item_selector() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                "ItemSelector": {
                    "i": "{% $states.context.Map.Item.Index %}",
                    "v": "{% $states.context.Map.Item.Value %}",
                },
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "Output": "{% $states.result.v %}",
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, {"xs": ["a", "b"]}, seed=1)
    assert result.output == ["a", "b"]


def test_history_can_be_turned_off() -> None:
    result = stepwell.run(
        map_machine(ItemsPath="$.xs"),
        {"xs": [1]},
        functions={"double": double},
        history=False,
        seed=1,
    )
    assert result.output == [2]
    assert result.history == []


def test_a_decorated_function_is_a_lambda_function_everywhere() -> None:
    @stepwell.lambda_function("decorated-shout")
    def shout(event: Any) -> Any:
        return event.upper()

    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "End": True, "Resource": FN + "decorated-shout"}},
    }
    assert stepwell.run(definition, '"hi"', seed=1).output == "HI"
    overridden = stepwell.run(definition, '"hi"', functions={"decorated-shout": str.lower})
    assert overridden.output == "hi"
