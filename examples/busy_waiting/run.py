"""Run the busy-waiting seed against an in-process Stepwell server, through boto3.

    python -m examples.busy_waiting.run        (or: make example-busy-waiting)

Time is virtual (see ``examples/local_stepwell.py``): the retry back-off and the 2 s
Waits take no real time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from examples.busy_waiting.functions import FUNCTION_NAME, BusyLambda
from examples.local_stepwell import LocalStepwell, clock_time, local_stepwell

DEFINITION = Path(__file__).with_name("busy_waiting.asl.json")
START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
SHOWN: dict[str, Callable[[dict[str, Any]], str]] = {
    "TaskFailed": lambda e: f"failed: {e['taskFailedEventDetails']['error']}",
    "TaskSucceeded": lambda e: (
        f"succeeded: {json.loads(e['taskSucceededEventDetails']['output'])['Payload']}"
    ),
    "WaitStateEntered": lambda e: f"entered {e['stateEnteredEventDetails']['name']} (2 s)",
    "ChoiceStateExited": lambda e: "checked $.status",
    "SucceedStateEntered": lambda e: f"entered {e['stateEnteredEventDetails']['name']}",
}


def timeline(local: LocalStepwell, execution_arn: str) -> None:
    """One line per interesting history event, at its virtual time."""
    for event in local.history(execution_arn):
        show = SHOWN.get(event["type"])
        if show is not None:
            print(f"  {clock_time(event['timestamp'])}  {show(event)}")


def poll_until_success(local: LocalStepwell, machine: str, function: BusyLambda) -> None:
    print("1. The function is busy for 3 calls, then reports success:")
    execution = local.start_execution(machine, {})
    described = local.run_until_done(execution)
    timeline(local, execution)
    seconds = (described["stopDate"] - described["startDate"]).total_seconds()
    print(f"  -> {described['status']} after {seconds:.0f} s, {function.calls} calls")


def loop_on_other_status(local: LocalStepwell, machine: str, function: BusyLambda) -> None:
    print("2. The function answers 'in_progress': the Default goes back to the Wait,")
    print("   so the status is never asked for again and the loop runs until stopped:")
    execution = local.start_execution(machine, {})
    local.run_until_done(execution, max_seconds=60)
    waits = len(local.events(execution, "WaitStateEntered"))
    print(
        f"  after 60 s: {local.describe(execution)['status']}, {waits} waits, {function.calls} call"
    )
    local.sfn.stop_execution(executionArn=execution, cause="busy waiting forever")
    stopped = local.wait_for(lambda: _stopped(local, execution), what="the stop")
    print(f"  StopExecution -> {stopped}")


def _stopped(local: LocalStepwell, execution: str) -> Any:
    status = local.describe(execution)["status"]
    return status if status != "RUNNING" else None


def main() -> None:
    succeeding, looping = BusyLambda(busy_calls=3), BusyLambda(busy_calls=0, status="in_progress")
    with local_stepwell({FUNCTION_NAME: succeeding}, start=START) as local:
        machine = local.create_state_machine("BusyWaiting", DEFINITION)
        print(f"Stepwell on {local.url}; state machine {machine}")
        poll_until_success(local, machine, succeeding)
        local.host.integrations.functions.register(FUNCTION_NAME, looping)
        loop_on_other_status(local, machine, looping)


if __name__ == "__main__":
    main()
