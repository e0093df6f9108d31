"""Seed 1 as the application AWS published, run as ``stepwell up`` runs it.

    python -m examples.apps.idempotent_sam        (or: make example-app)

The template, definition and Lambdas in ``idempotent-workflow-sam/`` are the published
files, unchanged (``SOURCE.md`` there says where they come from). This script starts the
application in-process (``stepwell.testing.local_stack``: the template translated by
AWS's SAM translator, the Lambdas in processes of their own, the table created) and runs
the README's test event until the random-failure Lambda lets it succeed, then once more
to show the stored result coming back without the steps. To run it as a server instead:

    .venv/bin/stepwell up examples/apps/idempotent-workflow-sam/template.yaml
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from stepwell.testing import LocalStack, local_stack

TEMPLATE = Path(__file__).with_name("idempotent-workflow-sam") / "template.yaml"
EVENT = {"top": "level", "nested": {"key1": "value1", "key2": "value2"}}


def run(app: LocalStack) -> tuple[dict[str, Any], bool]:
    sfn = app.client()
    arn = app.physical("IdempotentStateMachine")
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps(EVENT))
    while (described := sfn.describe_execution(executionArn=started["executionArn"]))[
        "status"
    ] == "RUNNING":
        time.sleep(0.02)
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    ran = any(e["type"] == "ParallelStateEntered" for e in events)
    return described, ran


def main() -> None:
    with local_stack(TEMPLATE, stack_name="idempotent-workflow-sam") as app:
        for attempt in range(1, 41):
            described, ran = run(app)
            print(f"run {attempt}: {described['status']:<9} steps ran: {ran}")
            if described["status"] == "SUCCEEDED":
                break
        print(json.dumps(json.loads(described["output"]), indent=2))
        again, ran = run(app)
        print(f"same input again: {again['status']} steps ran: {ran} (the stored result)")


if __name__ == "__main__":
    main()
