"""Run-time rules of aws-behaviour.md about data and context: D1, D2, D4 (exact causes),
G1 (context object), J1 (empty Assign) and I1 (verbatim input text).

Each case cites its rule id; the rule text, with AWS's exact strings, is in
``../shared/aws-behaviour.md``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import stepwell
from stepwell.engine.env import Env
from stepwell.engine.execution import ExecutionInfo
from stepwell.engine.interpreter import start
from stepwell.language.compiler import load_state_machine
from stepwell.store.base import Store
from tests.service.harness import Harness

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FN = "arn:aws:lambda:us-east-1:123456789012:function:"
PREFIX = "An error occurred while executing the state '{}' (entered at the event id #2). "


def events_of(result: Any, event_type: str) -> list[dict[str, Any]]:
    return [e for e in result.history if e["type"] == event_type]


def wait_machine(**fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", **fields, "Next": "D"}, "D": {"Type": "Succeed"}},
    }


# --------------------------------------------------------------------------- D1


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (-1, "The SecondsPath parameter references a negative value: $.s == -1"),
        (1.5, "The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5"),
        (-1.5, "The SecondsPath parameter cannot be parsed as a long value: $.s == -1.5"),
        ("x", "The SecondsPath parameter cannot be parsed as a long value: $.s == x"),
        (2**64, f"The SecondsPath parameter cannot be parsed as a long value: $.s == {2**64}"),
    ],
)
def test_d1_seconds_path_must_be_a_whole_non_negative_number(value: Any, detail: str) -> None:
    result = stepwell.run(wait_machine(SecondsPath="$.s"), {"s": value}, start_time=T0)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == PREFIX.format("W") + detail
    assert events_of(result, "EvaluationFailed") == []


@pytest.mark.parametrize("seconds", [0, 1, 2.0])
def test_d1_whole_seconds_wait(seconds: Any) -> None:
    result = stepwell.run(wait_machine(SecondsPath="$.s"), {"s": seconds}, start_time=T0)
    assert result.status == "SUCCEEDED"
    assert result.stop_date - T0 == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "fields",
    [{"SecondsPath": "$.s"}, {"Seconds": "{% $states.input.s %}"}],
    ids=["path", "jsonata"],
)
def test_a_wait_longer_than_a_datetime_holds_waits_until_year_9999(fields: dict[str, str]) -> None:
    definition = wait_machine(**fields)
    if "Seconds" in fields:
        definition["QueryLanguage"] = "JSONata"
    result = stepwell.run(definition, {"s": 10**15}, start_time=T0)
    assert result.status == "SUCCEEDED", result.cause
    assert result.stop_date.year == 9999


# --------------------------------------------------------------------------- D2

BAD_TIMESTAMPS = [
    "2016-12-05 21:29:29Z",  # no T
    "2016-12-05T21:29:29",  # no zone
    "2016-13-05T21:29:29Z",  # month 13
    "2016-12-05T25:29:29Z",  # hour 25
    "05-12-2016T21:29:29Z",  # day first
    "2016-12-05T21:29:29.000000",  # fraction without zone
]


@pytest.mark.parametrize("text", BAD_TIMESTAMPS)
def test_d2_timestamp_path_runtime_error(text: str) -> None:
    definition = wait_machine(TimestampPath="$.TimestampValue")
    result = stepwell.run(definition, {"TimestampValue": text}, start_time=T0)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == PREFIX.format("W") + (
        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
        f"date-time format string: $.TimestampValue == {text}"
    )
    assert events_of(result, "EvaluationFailed") == []


@pytest.mark.parametrize("text", BAD_TIMESTAMPS)
def test_d2_jsonata_timestamp_query_evaluation_error(text: str) -> None:
    definition = {"QueryLanguage": "JSONata", **wait_machine(Timestamp="{% $states.input.t %}")}
    result = stepwell.run(definition, {"t": text}, start_time=T0)
    cause = PREFIX.format("W") + (
        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time "
        f"format string: {text}"
    )
    assert (result.status, result.error, result.cause) == (
        "FAILED",
        "States.QueryEvaluationError",
        cause,
    )
    (failed,) = events_of(result, "EvaluationFailed")
    details = failed["evaluationFailedEventDetails"]
    assert (details["location"], details["state"]) == ("Timestamp", "W")


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-01T12:00:05Z",
        "2025-03-01T12:00:05.123456789Z",  # nanoseconds pass
        "2025-03-01T12:00:05.00Z",
        "2025-03-01T12:00:05.000000Z",
        "2025-03-01T13:00:05+01:00",
    ],
)
def test_d2_valid_timestamps_wait_until_then(text: str) -> None:
    result = stepwell.run(wait_machine(TimestampPath="$.t"), {"t": text}, start_time=T0)
    assert result.status == "SUCCEEDED"
    assert (result.stop_date - T0).seconds == 5  # and the fraction, to the microsecond


# --------------------------------------------------------------------------- D4


@pytest.mark.parametrize("field", ["ErrorPath", "CausePath"])
def test_d4_fail_path_not_found(field: str) -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", field: "$.missing"}}}
    result = stepwell.run(definition, {"a": 1, "b": [1, 2]}, start_time=T0)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == PREFIX.format("F") + (
        f"The JSONPath '$.missing' specified for the field '{field}' could not be found in "
        """the input '{"a":1,"b":[1,2]}'"""
    )


def test_d4_fail_paths_that_resolve() -> None:
    definition = {
        "StartAt": "F",
        "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}},
    }
    result = stepwell.run(definition, {"e": "E", "c": "C"}, start_time=T0)
    assert (result.error, result.cause) == ("E", "C")


# --------------------------------------------------------------------------- G1


def context_of(state: dict[str, Any], express: bool = False) -> Any:
    machine = load_state_machine({"StartAt": "S", "States": {"S": state}})
    info = ExecutionInfo(start_time=T0, express=express)
    result = start(machine, {}, Env(now=T0), info)
    return result.execution.output


PASS_CONTEXT = {"Type": "Pass", "Parameters": {"c.$": "$$"}, "End": True}


def test_g1_pass_state_has_no_retry_count() -> None:
    context = context_of(PASS_CONTEXT)["c"]
    assert context["State"] == {"EnteredTime": "2025-03-01T12:00:00Z", "Name": "S"}
    assert context["Execution"]["RedriveCount"] == 0


def test_g1_jsonata_pass_state_has_no_retry_count() -> None:
    state = {"Type": "Pass", "Output": "{% $states.context %}", "End": True}
    definition = {"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": state}}
    result = stepwell.run(definition, {}, start_time=T0)
    assert "RetryCount" not in result.output["State"]


def test_g1_express_executions_have_no_redrive_count() -> None:
    context = context_of(PASS_CONTEXT, express=True)["c"]
    assert "RedriveCount" not in context["Execution"]
    assert context["Execution"]["StartTime"] == "2025-03-01T12:00:00Z"


def test_g1_task_retry_count_counts_attempts() -> None:
    seen: list[Any] = []

    def flaky(event: Any) -> Any:
        seen.append(event["retry"])
        if len(seen) < 3:
            raise RuntimeError("again")
        return "done"

    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": FN + "flaky",
                "Parameters": {"retry.$": "$$.State.RetryCount"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}],
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, {}, functions={"flaky": flaky}, start_time=T0)
    assert result.status == "SUCCEEDED"
    assert seen == [0, 1, 2]


def test_g1_map_state_context_has_retry_count() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"retry.$": "$$.State.RetryCount"},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, {"items": [1]}, start_time=T0)
    assert result.output == [{"retry": 0}]


# --------------------------------------------------------------------------- J1


@pytest.mark.parametrize(
    ("assign", "recorded"),
    [({}, None), ({"x": 1}, {"x": "1"})],
)
def test_j1_empty_assign_writes_no_assigned_variables(assign: Any, recorded: Any) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Assign": assign, "End": True}}}
    result = stepwell.run(definition, {}, start_time=T0)
    (exited,) = events_of(result, "PassStateExited")
    details = exited["stateExitedEventDetails"]
    assert details.get("assignedVariables") == recorded
    assert ("assignedVariablesDetails" in details) == (recorded is not None)


def test_g1_start_sync_execution_context_has_no_redrive_count(store: Store) -> None:
    h = Harness(store)
    arn = h.machine({"StartAt": "S", "States": {"S": PASS_CONTEXT}}, type="EXPRESS")
    done = h.call("StartSyncExecution", stateMachineArn=arn, name="sync")
    context = json.loads(done["output"])["c"]
    assert "RedriveCount" not in context["Execution"]
    assert "RetryCount" not in context["State"]


# --------------------------------------------------------------------------- I1

SENT = "[[1, 2, 3], [4, 5, 6]]"
NESTED_PARALLEL = {
    "StartAt": "P",
    "States": {
        "P": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Q",
                    "States": {
                        "Q": {
                            "Type": "Parallel",
                            "Branches": [
                                {"StartAt": "R", "States": {"R": {"Type": "Pass", "End": True}}}
                            ],
                            "End": True,
                        }
                    },
                }
            ],
            "Next": "M",
        },
        "M": {
            "Type": "Map",
            "ItemsPath": "$[0][0]",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
            "End": True,
        },
    },
}


def payloads(history: list[dict[str, Any]], event_type: str) -> list[str]:
    texts = []
    for event in history:
        if event["type"] == event_type:
            (details,) = [value for key, value in event.items() if key.endswith("Details")]
            texts.append(details.get("input", details.get("output")))
    return texts


def test_i1_unmodified_input_keeps_its_text_selected_values_compact() -> None:
    result = stepwell.run(NESTED_PARALLEL, SENT, start_time=T0)
    history = result.history
    assert payloads(history, "ExecutionStarted") == [SENT]
    assert payloads(history, "ParallelStateEntered") == [SENT, SENT]
    assert payloads(history, "PassStateEntered")[0] == SENT  # through both branches
    assert payloads(history, "ParallelStateExited") == [f"[{SENT}]", f"[[{SENT}]]"]
    assert payloads(history, "MapStateEntered") == [f"[[{SENT}]]"]
    assert payloads(history, "PassStateEntered")[1:] == ["[1,2,3]", "[4,5,6]"]  # selected
    assert payloads(history, "MapStateExited") == ["[[1,2,3],[4,5,6]]"]  # a new result
    assert result.output == [[1, 2, 3], [4, 5, 6]]


def test_i1_a_modified_input_is_written_compact() -> None:
    definition = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Result": 1, "ResultPath": "$.r", "End": True}},
    }
    result = stepwell.run(definition, '{"a": [1, 2]}', start_time=T0)
    assert payloads(result.history, "PassStateEntered") == ['{"a": [1, 2]}']
    assert payloads(result.history, "PassStateExited") == ['{"a":[1,2],"r":1}']


def test_i1_the_kept_value_still_behaves_as_plain_json() -> None:
    definition = {
        "StartAt": "J",
        "States": {
            "J": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": "{% {'n': $count($states.input.a), "
                "'same': $states.input = {'a': [1, 2]}} %}",
                "Next": "C",
            },
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericEquals": 2, "Next": "Done"}],
            },
            "Done": {"Type": "Succeed"},
        },
    }
    result = stepwell.run(definition, '{"a": [1, 2]}', start_time=T0)
    assert result.status == "SUCCEEDED"
    assert result.output == {"n": 2, "same": True}


def test_i1_intrinsics_compare_the_kept_value_as_json() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Pass",
                "Parameters": {"in.$": "States.ArrayContains(States.Array($), $)"},
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, "[1, 2]", start_time=T0)
    assert result.output == {"in": True}


def test_i1_durable_execution_started_keeps_the_input_text(store: Store) -> None:
    h = Harness(store)
    arn = h.machine(NESTED_PARALLEL, name="verbatim")
    execution = h.start(arn, SENT)
    h.settle()
    history = h.history(execution)
    assert payloads(history, "ExecutionStarted") == [SENT]
    assert payloads(history, "ParallelStateEntered")[0] == SENT
    described = h.call("DescribeExecution", executionArn=execution)
    assert (described["status"], described["input"]) == ("SUCCEEDED", SENT)


WAIT_THEN_PARALLEL = {
    "StartAt": "W",
    "States": {
        "W": {"Type": "Wait", "Seconds": 60, "Next": "P"},
        "P": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 5,
                                                          "Next": "C"},
                                                    "C": {"Type": "Pass", "End": True}}}],
            "End": True,
        },
    },
}  # fmt: skip


@pytest.mark.parametrize("text", [SENT, '{"b": 1.0, "a": [1, 2],  "n": 12345678901234567890}'])
def test_i1_durable_execution_keeps_the_input_text_across_waits_and_a_restart(
    store: Store, text: str
) -> None:
    """I1: "later inputs with that unmodified value" keep the text as sent, also after the
    execution waited (its state stored) and a new worker picked it up."""
    h = Harness(store)
    execution = h.start(h.machine(WAIT_THEN_PARALLEL, name="verbatim-wait"), text)
    h.worker.run_until_idle()  # the execution now waits, its state stored
    restarted = Harness(store)
    restarted.clock.set(h.clock.now() + 3600)
    restarted.settle()
    history = restarted.history(execution)
    assert payloads(history, "WaitStateExited")[0] == text
    assert payloads(history, "ParallelStateEntered") == [text]
    assert payloads(history, "PassStateEntered") == [text]  # after the branch's own Wait
    assert payloads(history, "ParallelStateExited") == [f"[{text}]"]
    described = restarted.call("DescribeExecution", executionArn=execution)
    assert (described["status"], described["output"]) == ("SUCCEEDED", f"[{text}]")


@pytest.mark.parametrize(
    "text",
    [
        '{"\\u0000stepwell:verbatim":"[1,  2]"}',  # the mark's key with a JSON text
        '{"\\u0000stepwell:verbatim": "{\\"a\\":  1}", "b": [1,  2]}',  # and kept text
        '[{"\\u0000stepwell:verbatim":"[3]"}, {"\\u0000stepwell:key:x":"1"}]',
        '{"\\u0000stepwell:verbatim":"[4]","n":123456789012345678901234567890}',  # big
    ],
)
def test_user_data_holding_the_stored_mark_is_never_reinterpreted(store: Store, text: str) -> None:
    """Language.verbatim stores kept texts with a mark between steps; a user's object that
    holds the mark's key is data, and comes back as it was sent, even when its value is
    JSON text."""
    h = Harness(store)
    execution = h.start(h.machine(WAIT_THEN_PARALLEL, name="forged-mark"), text)
    h.worker.run_until_idle()  # the execution now waits, its state stored
    restarted = Harness(store)
    restarted.clock.set(h.clock.now() + 3600)
    restarted.settle()
    described = restarted.call("DescribeExecution", executionArn=execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == [json.loads(text)]
