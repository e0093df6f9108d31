"""Run the idempotent-workflow seed against an in-process Stepwell server, through boto3.

    python -m examples.idempotent.run        (or: make example-idempotent)

Time is virtual (see ``examples/local_stepwell.py``): the 10 s polls of a concurrent
run and the 24-hour TTL pass at once. The random failure is seeded, so every run of the
example tells the same story.
"""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from examples.idempotent.functions import IdempotentFunctions, create_table, idempotency_key
from examples.local_stepwell import LocalStepwell, local_stepwell

DEFINITION = Path(__file__).with_name("idempotent.asl.json")
START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
SEED = 17  # random-failure succeeds, succeeds, succeeds, fails, succeeds, succeeds
ORDER = {"top": "level", "nested": {"key1": "value1", "key2": "value2"}}


class Story:
    """The scenarios, each printed as a few lines."""

    def __init__(self, local: LocalStepwell, functions: IdempotentFunctions) -> None:
        self.local = local
        self.functions = functions
        self.machine = local.create_state_machine("IdempotentWorkflow", DEFINITION)

    def run(self, label: str, data: Any) -> dict[str, Any]:
        """Start, run to the end, and print one line: status and whether the steps ran."""
        before = self.functions.work_calls
        execution = self.local.start_execution(self.machine, data)
        described = self.local.run_until_done(execution)
        self.report(label, described, self.functions.work_calls - before)
        return described

    def report(self, label: str, described: dict[str, Any], calls: int) -> None:
        outcome = described.get("error") or _short(json.loads(described["output"]))
        print(f"  {label:<32} {described['status']:<9} step calls: {calls}  {outcome}")

    def concurrent(self, data: Any) -> None:
        """Two executions of the same input at once: the second polls every 10 s."""
        local, step = self.local, self.functions.step
        before = self.functions.work_calls
        step.hold = hold = threading.Event()
        first = local.start_execution(self.machine, data, name="first")
        local.wait_for(step.holding.is_set, what="the first execution to start its steps")
        second = local.start_execution(self.machine, data, name="second")
        for polls in (1, 2, 3):
            local.wait_for_events(second, "WaitStateEntered", polls)
            print(f"  {local.now():%H:%M:%S} second run finds IN_PROGRESS (poll {polls})")
            if polls < 3:
                local.advance(10, settle=False)  # the first still runs: nothing settles
        step.hold = None
        hold.set()
        local.wait_for(lambda: local.describe(first)["status"] != "RUNNING", what="the first")
        self.report(
            "first (held its steps a while)",
            local.describe(first),
            self.functions.work_calls - before,
        )
        before = self.functions.work_calls
        local.advance(10)
        self.report(
            "second (polled every 10 s)",
            local.run_until_done(second),
            self.functions.work_calls - before,
        )

    def record(self, data: Any) -> None:
        key = idempotency_key(data)
        item = (
            self.local.client("dynamodb")
            .get_item(TableName="IdempotencyTable", Key={"id": {"S": key}})
            .get("Item")
        )
        if item is None:
            print(f"  record {key[:12]}…: none")
            return
        ttl = datetime.fromtimestamp(int(item["ttl"]["N"]), UTC)
        print(f"  record {key[:12]}…: {item['executionstatus']['S']}, ttl {ttl:%Y-%m-%d %H:%M}")


def _short(output: Any) -> str:
    return f"{{step1..step4, randomFailureFunc: {output['randomFailureFunc']!r}}}"


def main() -> None:
    functions = IdempotentFunctions(random.Random(SEED))
    with local_stepwell(functions.by_name(), start=START) as local:
        create_table(local.client("dynamodb"))  # plain boto3, as a setup script is
        story = Story(local, functions)
        print(f"Stepwell on {local.url}; virtual time starts {START:%Y-%m-%d %H:%M} UTC")
        print("1. The same input twice: the second returns the stored result")
        story.run("first run", ORDER)
        story.run("same input again", ORDER)
        story.record(ORDER)
        print("2. A key from idempotencyKeyJmespath: other fields do not matter")
        keyed = {**ORDER, "idempotencyKeyJmespath": "[nested.key1, nested.key2]"}
        story.run("keyed on nested.key1, key2", {**keyed, "requestId": "r-1"})
        story.run("same keys, other requestId", {**keyed, "requestId": "r-2"})
        print("3. Two concurrent runs of one input")
        story.concurrent({"order": 42})
        print("4. A random failure stores FAILED; the next run takes the lock again")
        story.run("random failure strikes", {"order": 43})
        story.record({"order": 43})
        story.run("run again", {"order": 43})
        print("5. After the 24-hour TTL the key is free again")
        local.advance(24 * 60 * 60)
        story.run("first input, a day later", ORDER)
        story.record(ORDER)


if __name__ == "__main__":
    main()
