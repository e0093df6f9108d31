"""Seed 3 as a SAM application (``busy-waiting-sam/``), run as ``stepwell up`` runs it.

    python -m examples.apps.busy_waiting_sam        (or: make example-app-busy-waiting)

First the seed's definition as written, with the seed's empty input: the function says
``success`` at once and the run ends after one Wait of 2 s. Then the polling variant on
a job that is still running: the function (plain boto3, in a worker process) reads the
job's status from the stack's table every 2 s until the script marks it done. Time is
virtual: the waits pass at once. As a server instead::

    .venv/bin/stepwell up examples/apps/busy-waiting-sam/template.yaml
"""

from __future__ import annotations

import json
from pathlib import Path

from examples.apps.driving import client, jump, run_to_end
from stepwell.testing import LocalStack, local_stack

TEMPLATE = Path(__file__).with_name("busy-waiting-sam") / "template.yaml"


def start(app: LocalStack, machine: str, data: dict[str, str]) -> str:
    sfn = client(app, "stepfunctions")
    arn = app.physical(machine)
    return str(sfn.start_execution(stateMachineArn=arn, input=json.dumps(data))["executionArn"])


def main() -> None:
    with local_stack(TEMPLATE, stack_name="busy-waiting-sam", virtual_time=True) as app:
        described = run_to_end(app, start(app, "BusyWaitingStateMachine", {}))
        print(f"as written: {described['status']} {described['output']}")

        dynamodb = client(app, "dynamodb")
        table = app.physical("JobsTable")
        job = {"jobId": {"S": "report-42"}, "status": {"S": "RUNNING"}}
        dynamodb.put_item(TableName=table, Item=job)
        execution = start(app, "PollingStateMachine", {"jobId": "report-42"})
        for _ in range(3):
            jump(app, 2)
        print("polling: 6 s later the job is still RUNNING; marking it done")
        dynamodb.put_item(TableName=table, Item=job | {"status": {"S": "success"}})
        described = run_to_end(app, execution)
        history = client(app, "stepfunctions").get_execution_history(executionArn=execution)
        asked = sum(e["type"] == "TaskScheduled" for e in history["events"])
        print(f"polling: {described['status']} after asking {asked} times: {described['output']}")


if __name__ == "__main__":
    main()
