"""``ExecutionProgress``: each state's status read from history events, the model behind
``history --follow``. Histories come from real runs (``stepwell.run``), whole or cut
short to see an execution mid-way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import stepwell
from stepwell.engine.progress import ExecutionProgress, StateRow
from stepwell.integrations.functions import load_functions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def progress_of(events: list[dict[str, Any]]) -> ExecutionProgress:
    progress = ExecutionProgress()
    for event in events:
        progress.add(event)
    return progress


def statuses(progress: ExecutionProgress) -> dict[str, tuple[str, int, int]]:
    """State name -> (status, times entered, retries)."""
    return {row.name: (row.status, row.entered, row.retries) for row in progress.rows()}


def busy_waiting_history() -> list[dict[str, Any]]:
    functions = load_functions(str(EXAMPLES / "busy_waiting.py"))  # a fresh call counter
    definition = (EXAMPLES / "busy_waiting.asl.json").read_text()
    result = stepwell.run(definition, {"job": "j"}, functions=functions, seed=1)
    assert result.succeeded
    return result.history


def cut_after(
    events: list[dict[str, Any]], event_type: str, occurrence: int = 1
) -> list[dict[str, Any]]:
    seen = 0
    for index, event in enumerate(events):
        seen += event["type"] == event_type
        if seen == occurrence:
            return events[: index + 1]
    raise AssertionError(f"no {event_type} #{occurrence}")


def test_a_finished_busy_waiting_run() -> None:
    progress = progress_of(busy_waiting_history())
    assert progress.status == "SUCCEEDED"
    assert progress.finished
    assert statuses(progress) == {
        "Main": ("SUCCEEDED", 3, 1),  # the first invocation failed and was retried
        "WaitforInvocation": ("SUCCEEDED", 3, 0),
        "CheckInvocationsStatus": ("SUCCEEDED", 3, 0),
        "Final": ("SUCCEEDED", 1, 0),
    }
    assert json.loads(progress.end_details["output"])["status"] == "success"


@pytest.mark.parametrize(
    ("cut", "state", "status"),
    [
        (("TaskStateEntered", 1), "Main", "IN_PROGRESS"),
        (("TaskFailed", 1), "Main", "FAILED"),
        (("TaskScheduled", 2), "Main", "IN_PROGRESS"),  # the retry
        (("WaitStateEntered", 1), "WaitforInvocation", "WAITING"),
        (("WaitStateExited", 1), "WaitforInvocation", "SUCCEEDED"),
        (("TaskStateEntered", 2), "Main", "IN_PROGRESS"),  # an active visit shows
    ],
)
def test_mid_way_statuses(cut: tuple[str, int], state: str, status: str) -> None:
    progress = progress_of(cut_after(busy_waiting_history(), *cut))
    assert progress.status == "RUNNING"
    assert not progress.finished
    assert statuses(progress)[state][0] == status


def test_a_failed_attempt_shows_its_error() -> None:
    progress = progress_of(cut_after(busy_waiting_history(), "TaskFailed"))
    (main,) = progress.rows()
    assert main.error == "Lambda.ServiceException: Rate exceeded (simulated)"


def failing(event: Any) -> Any:
    raise stepwell.TaskError("Custom.Error", "no luck")


def run(definition: dict[str, Any], value: Any = None) -> ExecutionProgress:
    result = stepwell.run(definition, value or {}, functions={"failing": failing}, seed=7)
    return progress_of(result.history)


def test_a_caught_failure_and_a_fail_state() -> None:
    progress = run(
        {
            "StartAt": "Try",
            "States": {
                "Try": {
                    "Type": "Task",
                    "Resource": LAMBDA + "failing",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Give up"}],
                    "End": True,
                },
                "Give up": {"Type": "Fail", "Error": "Gave.Up", "Cause": "after a catch"},
            },
        }
    )
    rows = {row.name: row for row in progress.rows()}
    assert (rows["Try"].status, rows["Try"].error) == ("CAUGHT_ERROR", "Custom.Error: no luck")
    assert rows["Give up"].status == "FAILED"
    assert progress.status == "FAILED"
    assert progress.end_details["error"] == "Gave.Up"


def test_parallel_branches_interleave_but_each_event_finds_its_state() -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                    {
                        "StartAt": "Right",
                        "States": {"Right": {"Type": "Wait", "Seconds": 1, "End": True}},
                    },
                ],
                "End": True,
            }
        },
    }
    result = stepwell.run(definition, {})
    progress = progress_of(result.history)
    assert statuses(progress) == {
        "Both": ("SUCCEEDED", 1, 0),
        "Left": ("SUCCEEDED", 1, 0),
        "Right": ("SUCCEEDED", 1, 0),
    }
    by_type = {event["type"]: progress.state_of(event["id"]) for event in result.history}
    assert by_type["ParallelStateStarted"] == "Both"
    assert by_type["ParallelStateSucceeded"] == "Both"
    assert by_type["WaitStateExited"] == "Right"
    assert by_type["ExecutionStarted"] == ""


def test_a_failed_branch_fails_the_parallel_which_a_catch_catches() -> None:
    progress = run(
        {
            "StartAt": "Both",
            "States": {
                "Both": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "Fine", "States": {"Fine": {"Type": "Pass", "End": True}}},
                        {
                            "StartAt": "Call",
                            "States": {
                                "Call": {
                                    "Type": "Task",
                                    "Resource": LAMBDA + "failing",
                                    "End": True,
                                }
                            },
                        },
                    ],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
                    "End": True,
                },
                "Recover": {"Type": "Pass", "End": True},
            },
        }
    )
    assert statuses(progress)["Both"][0] == "CAUGHT_ERROR"
    assert statuses(progress)["Call"][0] == "FAILED"
    assert statuses(progress)["Recover"][0] == "SUCCEEDED"
    assert progress.status == "SUCCEEDED"


def test_map_iterations_count_as_entries_of_one_state() -> None:
    progress = run(
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "ItemProcessor": {
                        "StartAt": "Item",
                        "States": {"Item": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                }
            },
        },
        [1, 2, 3, 4],
    )
    assert statuses(progress) == {"Each": ("SUCCEEDED", 1, 0), "Item": ("SUCCEEDED", 4, 0)}


def event(number: int, kind: str, previous: int, **details: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"id": number, "type": kind, "previousEventId": previous}
    if details:
        found["detailsEventDetails"] = details
    return found


CALLBACK_START = [
    event(1, "ExecutionStarted", 0),
    event(2, "TaskStateEntered", 1, name="Ask"),
    event(3, "TaskScheduled", 2, resource="invoke.waitForTaskToken"),
    event(4, "TaskStarted", 3),
]


@pytest.mark.parametrize(
    ("ending", "execution", "state"),
    [
        ([], "RUNNING", "WAITING"),  # waiting for its task token
        ([event(5, "TaskSubmitted", 4)], "RUNNING", "WAITING"),
        ([event(5, "ExecutionAborted", 4)], "ABORTED", "ABORTED"),
        ([event(5, "ExecutionTimedOut", 4)], "TIMED_OUT", "TIMED_OUT"),
        (
            [event(5, "TaskTimedOut", 4, error="States.Timeout"), event(6, "ExecutionFailed", 5)],
            "FAILED",
            "FAILED",
        ),
    ],
)
def test_callback_tasks_wait_and_open_states_end_with_the_execution(
    ending: list[dict[str, Any]], execution: str, state: str
) -> None:
    progress = progress_of(CALLBACK_START + ending)
    assert progress.status == execution
    (row,) = progress.rows()
    assert row == StateRow("Ask", "Task", state, 1, 0, row.error, None)
