"""Seed 4 as a SAM application (``sqs-callback-sam/``), run as ``stepwell up`` runs it.

    python -m examples.apps.sqs_callback_sam        (or: make example-app-callback)

The state machine sends ``{"Input": messageId, "TaskToken": …}`` to TeamC's queue and
waits; the ``NotificationHandler`` function (plain boto3, in a worker process, fed by the
queue's SQS event source mapping) answers with ``SendTaskSuccess``. Time is virtual: the
5 s ``WaitSometime`` passes at once. As a server instead::

    .venv/bin/stepwell up examples/apps/sqs-callback-sam/template.yaml
"""

from __future__ import annotations

import json
from pathlib import Path

from examples.apps.driving import client, run_to_end, wait_for
from stepwell.testing import local_stack

TEMPLATE = Path(__file__).with_name("sqs-callback-sam") / "template.yaml"


def main() -> None:
    with local_stack(TEMPLATE, stack_name="sqs-callback-sam", virtual_time=True) as app:
        sfn = client(app, "stepfunctions")
        machine = app.physical("CallbackStateMachine")
        started = sfn.start_execution(stateMachineArn=machine, input='{"messageId": "m-1"}')
        execution = started["executionArn"]

        def answered() -> bool:
            events = sfn.get_execution_history(executionArn=execution)["events"]
            return any(e["type"] == "TaskSucceeded" for e in events)

        wait_for(answered, "the consumer's SendTaskSuccess")
        described = run_to_end(app, execution)
        print(f"{described['status']}: {json.dumps(json.loads(described['output']))}")


if __name__ == "__main__":
    main()
