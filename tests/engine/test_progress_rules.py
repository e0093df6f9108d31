"""The progress view (console colours, ``stepwell describe``) read from histories written
with AWS's chaining rules: a Catch's ``…StateExited`` (B1), ``EvaluationFailed`` copying
its state's pointer (A3), and the abort events of a failure cascade pointing at the
failure rather than at the stopped state (B8)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

import stepwell
from stepwell.engine import events as ev
from stepwell.engine.env import Env
from stepwell.engine.interpreter import start, step
from stepwell.engine.progress import ExecutionProgress
from stepwell.language.compiler import load_state_machine

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def rows(history: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    progress = ExecutionProgress()
    for event in history:
        progress.add(event)
    return {row.name: (row.status, row.error) for row in progress.rows()}


@pytest.mark.parametrize(
    "failing",
    [
        {"Type": "Pass", "Output": "{% $missing %}", "End": True},
        {"Type": "Wait", "Seconds": "{% $missing %}", "End": True},
    ],
)
def test_a3_the_state_of_an_evaluation_failure_shows_failed(failing: dict[str, Any]) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Before",
        "States": {"Before": {"Type": "Pass", "Next": "Bad"}, "Bad": failing},
    }
    result = stepwell.run(definition, {}, seed=1)
    status, error = rows(result.history)["Bad"]
    assert status == "FAILED"
    assert error.startswith("States.QueryEvaluationError: An error occurred")
    assert rows(result.history)["Before"] == ("SUCCEEDED", "")


def test_b1_a_caught_evaluation_failure_shows_caught() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "Arguments": "{% $missing %}",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    result = stepwell.run(definition, {}, functions={"f": len}, seed=1)
    assert rows(result.history)["T"][0] == "CAUGHT_ERROR"


def test_b8_a_branch_stopped_by_a_caught_parallel_failure_shows_aborted() -> None:
    waiting = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody.$": "$$.Task.Token"},
        "End": True,
    }
    failing = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    branches = [
        {"StartAt": "W", "States": {"W": waiting}},
        {"StartAt": "F", "States": {"F": failing}},
    ]
    parallel = {
        "Type": "Parallel",
        "Branches": branches,
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
        "End": True,
    }
    machine = load_state_machine(
        {"StartAt": "P", "States": {"P": parallel, "Done": {"Type": "Pass", "End": True}}}
    )
    env = Env(now=T0, rng=random.Random(1))
    first = start(machine, {}, env)
    call = next(c for c in first.commands if isinstance(c, ev.InvokeTask) and c.state_name == "F")
    failed = step(machine, first.execution, ev.TaskFailed(call.frame, call.seq, "Boom"), env)
    shown = rows(first.events + failed.events)
    assert shown["W"][0] == "ABORTED"
    assert shown["F"] == ("FAILED", "Boom")
    assert shown["P"][0] == "CAUGHT_ERROR"
    assert shown["Done"][0] == "SUCCEEDED"
