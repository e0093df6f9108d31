"""The pure interpreter API: ``start`` and ``step`` with events and commands.

These drive the engine the way a durable runtime will: commands out, events in, the
clock supplied by the caller. Timeouts and heartbeats follow the Developer Guide "Task
workflow state" (TimeoutSeconds, HeartbeatSeconds) and "Wait for a callback with task
token" pages.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from stepwell.engine import events as ev
from stepwell.engine.env import Env
from stepwell.engine.interpreter import StepResult, start, step
from stepwell.language.compiler import load_state_machine

T0 = datetime(2025, 1, 1, tzinfo=UTC)

CALLBACK = {
    "StartAt": "Wait for callback",
    "States": {
        "Wait for callback": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 60,
            "HeartbeatSeconds": 10,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "End": True,
        },
        "Failed": {"Type": "Pass", "End": True},
    },
}


def env(seconds: float = 0) -> Env:
    return Env(now=T0 + timedelta(seconds=seconds), rng=random.Random(7))


def begin(definition: dict[str, Any], given: Any = None) -> StepResult:
    return start(load_state_machine(definition), given if given is not None else {}, env())


def only(commands: list[ev.Command], kind: type) -> Any:
    found = [c for c in commands if isinstance(c, kind)]
    assert len(found) == 1, commands
    return found[0]


def test_task_emits_invoke_and_timers_with_the_token_in_the_payload() -> None:
    first = begin(CALLBACK)
    invoke = only(first.commands, ev.InvokeTask)
    assert invoke.input["MessageBody"]["token"] == invoke.task_token
    timers = {c.kind: c.due for c in first.commands if isinstance(c, ev.StartTimer)}
    assert timers == {
        "task_timeout": T0 + timedelta(seconds=60),
        "heartbeat": T0 + timedelta(seconds=10),
    }
    assert not first.execution.finished


def test_task_success_after_callback() -> None:
    machine = load_state_machine(CALLBACK)
    first = start(machine, {"a": 1}, env())
    invoke = only(first.commands, ev.InvokeTask)
    done = step(
        machine, first.execution, ev.TaskSucceeded(invoke.frame, invoke.seq, {"r": 2}), env(5)
    )
    assert done.execution.status == "SUCCEEDED"
    assert done.execution.output == {"r": 2}
    assert [e["type"] for e in done.events] == [
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]


def test_heartbeat_timeout_is_caught_as_states_heartbeat_timeout() -> None:
    machine = load_state_machine(CALLBACK)
    first = start(machine, {}, env())
    beat = only(first.commands, ev.InvokeTask)
    fired = step(
        machine, first.execution, ev.TimerFired(beat.frame, beat.seq, "heartbeat"), env(10)
    )
    # C6, D7: a timeout has no cause; the caught error output has "Cause": null.
    assert fired.execution.output == {"error": {"Error": "States.HeartbeatTimeout", "Cause": None}}
    assert fired.events[0]["type"] == "TaskTimedOut"
    assert "cause" not in fired.events[0]["taskTimedOutEventDetails"]


def test_a_heartbeat_pushes_the_heartbeat_deadline_back() -> None:
    machine = load_state_machine(CALLBACK)
    first = start(machine, {}, env())
    task = only(first.commands, ev.InvokeTask)
    beat = step(machine, first.execution, ev.TaskHeartbeat(task.frame, task.seq), env(8))
    renewed = only(beat.commands, ev.StartTimer)
    assert renewed.due == T0 + timedelta(seconds=18)
    # The first heartbeat timer fires at 10 s: stale, because a heartbeat came at 8 s.
    old = step(machine, beat.execution, ev.TimerFired(task.frame, task.seq, "heartbeat"), env(10))
    assert not old.execution.finished and old.events == []
    late = step(machine, old.execution, ev.TimerFired(task.frame, task.seq, "heartbeat"), env(18))
    assert late.execution.output["error"]["Error"] == "States.HeartbeatTimeout"


def test_task_timeout_then_a_late_result_is_ignored() -> None:
    machine = load_state_machine(CALLBACK)
    first = start(machine, {}, env())
    task = only(first.commands, ev.InvokeTask)
    timed_out = step(
        machine, first.execution, ev.TimerFired(task.frame, task.seq, "task_timeout"), env(60)
    )
    assert timed_out.execution.output["error"]["Error"] == "States.Timeout"
    late = step(machine, timed_out.execution, ev.TaskSucceeded(task.frame, task.seq, 1), env(61))
    assert late.events == [] and late.execution.output["error"]["Error"] == "States.Timeout"


def test_task_failure_event_goes_through_catch() -> None:
    machine = load_state_machine(CALLBACK)
    first = start(machine, {}, env())
    task = only(first.commands, ev.InvokeTask)
    failed = step(machine, first.execution, ev.TaskFailed(task.frame, task.seq, "E", "c"), env(1))
    assert failed.execution.output == {"error": {"Error": "E", "Cause": "c"}}


def test_stop_requested_aborts() -> None:
    machine = load_state_machine(CALLBACK)
    first = start(machine, {}, env())
    stopped = step(machine, first.execution, ev.StopRequested("Why", "because"), env(1))
    assert (stopped.execution.status, stopped.execution.error) == ("ABORTED", "Why")
    assert stopped.events[-1]["type"] == "ExecutionAborted"
    assert stopped.events[-1]["executionAbortedEventDetails"] == {
        "error": "Why",
        "cause": "because",
    }
    after = step(machine, stopped.execution, ev.TaskSucceeded(0, 0, 1), env(2))
    assert after.events == [] and after.commands == []


def test_same_inputs_same_history() -> None:
    """Purity: the same events, time and seed give identical histories."""
    machine = load_state_machine(CALLBACK)
    runs = [start(machine, {"x": 1}, env()) for _ in range(2)]
    assert runs[0].events == runs[1].events
    assert runs[0].commands == runs[1].commands


def test_activity_resource_records_activity_scheduled() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Resource": "arn:aws:states:us-east-1:123456789012:activity:work",
                "TimeoutSeconds": 5,
                "HeartbeatSeconds": 2,
                "End": True,
            }
        },
    }
    first = begin(definition, {"job": 1})
    scheduled = first.events[-1]
    assert scheduled["type"] == "ActivityScheduled"
    assert scheduled["activityScheduledEventDetails"]["heartbeatInSeconds"] == 2
    task = only(first.commands, ev.InvokeTask)
    machine = load_state_machine(definition)
    failed = step(machine, first.execution, ev.TaskFailed(task.frame, task.seq, "E"), env(1))
    assert failed.events[0]["type"] == "ActivityFailed"


def test_timeout_seconds_path_must_be_positive() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "TimeoutSecondsPath": "$.t",
                "End": True,
            }
        },
    }
    result = begin(definition, {"t": 0})
    assert result.execution.error == "States.Runtime"
    ok = begin(definition, {"t": 3})
    assert only(ok.commands, ev.InvokeTask).timeout_seconds == 3


ENDLESS = {
    "StartAt": "Again",
    "States": {
        "Again": {"Type": "Pass", "Next": "Loop"},
        "Loop": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}],
            "Default": "Again",
        },
        "Done": {"Type": "Succeed"},
    },
}


def test_a_long_loop_yields_between_steps() -> None:
    """A step stops after its budget of states with Continue; Resume goes on."""
    machine = load_state_machine(ENDLESS)
    first = start(machine, {}, env())
    assert first.commands == [ev.Continue()]
    assert not first.execution.finished
    count = first.execution.event_count
    second = step(machine, first.execution, ev.Resume(), env(1))
    assert second.commands == [ev.Continue()]
    assert second.execution.event_count > count


def test_an_endless_loop_fails_at_the_history_limit() -> None:
    """Developer Guide, "Step Functions service quotas": 25,000 history events."""
    import stepwell

    result = stepwell.run(ENDLESS, {}, history=False, seed=1)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "25000" in (result.cause or "")


def test_resource_kind_splits_service_and_action() -> None:
    from stepwell.engine.states import resource_kind

    prefix = "arn:aws:states:::"
    assert resource_kind(prefix + "lambda:invoke") == ("Task", "lambda", "invoke")
    assert resource_kind(prefix + "states:startExecution.sync:2") == (
        "Task",
        "states",
        "startExecution.sync:2",
    )
    assert resource_kind(prefix + "aws-sdk:s3:getObject") == ("Task", "aws-sdk:s3", "getObject")
    assert resource_kind("arn:aws:states:us-east-1:1:activity:a")[0] == "Activity"


def _types(result: StepResult) -> list[str]:
    return [event["type"] for event in result.events]


def test_a_wait_already_due_goes_on_in_the_same_step_as_a_pass_would() -> None:
    """A Wait of 0 s, or until a time that has passed, needs no timer: the execution goes
    on in the step that entered it (one commit, as durable), with the same history."""
    past = (T0 - timedelta(days=1)).isoformat()
    result = begin(
        {
            "StartAt": "Zero",
            "States": {
                "Zero": {"Type": "Wait", "Seconds": 0, "Next": "Past"},
                "Past": {"Type": "Wait", "Timestamp": past, "Next": "Done"},
                "Done": {"Type": "Pass", "End": True},
            },
        },
        {"k": 1},
    )
    assert result.commands == []
    assert result.execution.status == "SUCCEEDED"
    assert result.execution.output == {"k": 1}
    assert _types(result) == [
        "ExecutionStarted",
        "WaitStateEntered",
        "WaitStateExited",
        "WaitStateEntered",
        "WaitStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]


def test_a_wait_in_the_future_still_waits_for_its_timer() -> None:
    machine = load_state_machine(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}
    )
    first = start(machine, {}, env())
    timer = only(first.commands, ev.StartTimer)
    assert (timer.kind, timer.due) == ("wait", T0 + timedelta(seconds=1))
    assert not first.execution.finished
    fired = step(machine, first.execution, ev.TimerFired(timer.frame, timer.seq, "wait"), env(1))
    assert fired.execution.status == "SUCCEEDED"


class _NoJitter(random.Random):
    """A random source whose draws are all 0: FULL jitter gives no back-off at all."""

    def random(self) -> float:
        return 0.0


def test_a_retry_without_back_off_runs_again_in_the_same_step() -> None:
    """Retry with JitterStrategy FULL may draw a delay of 0 (Developer Guide, "Handling
    errors in Step Functions workflows", retrier fields): the state runs again at once."""
    machine = load_state_machine(
        {
            "StartAt": "Try",
            "States": {
                "Try": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "E"}}}
                    ],
                    "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2, "JitterStrategy": "FULL"}],
                    "Catch": [{"ErrorEquals": ["E"], "Next": "Handled"}],
                    "End": True,
                },
                "Handled": {"Type": "Pass", "End": True},
            },
        }
    )
    result = start(machine, {}, Env(now=T0, rng=_NoJitter()))
    assert result.commands == []
    assert result.execution.status == "SUCCEEDED"
    assert result.execution.output == {"Error": "E", "Cause": None}
    assert _types(result).count("ParallelStateStarted") == 3  # the first run, two retries


def test_a_stored_execution_keeps_integers_beyond_64_bits() -> None:
    """An execution written and read back between steps (a Wait) keeps its data exact:
    orjson reads ``123456789012345678901234567890`` as a float, so the store must not."""
    from stepwell.engine.serialize import dump_execution, load_execution

    big = 123456789012345678901234567890
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": True}}}
    waiting = begin(wait, {"big": [big, -big]})
    loaded = load_execution(dump_execution(waiting.execution))
    assert loaded.input == {"big": [big, -big]}
    assert loaded.frames == waiting.execution.frames
