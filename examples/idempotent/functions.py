"""The Lambda functions of the idempotent-workflow seed, as Python functions.

* ``calculate-idempotency-key`` hashes the execution input — or, when the input has
  ``idempotencyKeyJmespath``, the value that JMESPath expression selects from it (with
  the ``jmespath`` library, as the seed's function does) — into the record's key, and
  works out the record's TTL: 24 hours after the state was entered (``$$.State.EnteredTime``
  comes in with the event, so the TTL follows the workflow's clock, virtual or not).
* ``workflow-step`` stands for the real work: step N returns ``Output of step N``.
  Every call is counted, and ``hold`` can keep a call waiting (to make two executions
  overlap in the example and the tests).
* ``random-failure`` is the seed's last step, which fails at random; the random source
  and the failure rate are given, so a run can be repeated exactly.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from datetime import datetime
from typing import Any

import jmespath

TTL_SECONDS = 24 * 60 * 60
HOLD_SECONDS = 30.0  # a held step gives up waiting after this long (real time)


def idempotency_key(data: Any) -> str:
    """SHA-256 of the input, or of what its ``idempotencyKeyJmespath`` selects from it."""
    expression = data.get("idempotencyKeyJmespath") if isinstance(data, dict) else None
    keyed = jmespath.search(expression, data) if expression else data
    canonical = json.dumps(keyed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def calculate_idempotency_key(event: dict[str, Any], context: Any = None) -> dict[str, str]:
    """``calculate-idempotency-key``: the key, and the TTL 24 h after ``enteredTime``."""
    entered = datetime.fromisoformat(event["enteredTime"])
    return {
        "idempotencyKey": idempotency_key(event["input"]),
        "ttl": str(int(entered.timestamp()) + TTL_SECONDS),  # a DynamoDB Number, as text
    }


class WorkflowStep:
    """``workflow-step``: the real work, counted."""

    def __init__(self) -> None:
        self.calls: list[int] = []  # the step numbers, in the order they ran
        self.hold: threading.Event | None = None  # while set to an unset Event, steps wait
        self.holding = threading.Event()  # set once a step is waiting on ``hold``

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, str]:
        hold = self.hold
        if hold is not None:
            self.holding.set()
            hold.wait(HOLD_SECONDS)
        self.calls.append(event["step"])
        return {"result": f"Output of step {event['step']}"}


class RandomFailure(Exception):
    """The error the seed's last step fails with now and then."""


class RandomFailureFunction:
    """``random-failure``: fails with ``RandomFailure`` at ``failure_rate``."""

    def __init__(self, rng: random.Random | None = None, failure_rate: float = 0.5) -> None:
        self.rng = rng or random.Random()
        self.failure_rate = failure_rate
        self.calls = 0

    def __call__(self, event: Any, context: Any = None) -> str:
        self.calls += 1
        if self.rng.random() < self.failure_rate:
            raise RandomFailure("The random failure function failed, at random.")
        return "All good"


class IdempotentFunctions:
    """The three functions, named as the definition's Lambda ARNs name them."""

    def __init__(self, rng: random.Random | None = None, failure_rate: float = 0.5) -> None:
        self.step = WorkflowStep()
        self.random_failure = RandomFailureFunction(rng, failure_rate)

    @property
    def work_calls(self) -> int:
        """How many times the Parallel's functions (steps and random failure) ran."""
        return len(self.step.calls) + self.random_failure.calls

    def by_name(self) -> dict[str, Any]:
        return {
            "calculate-idempotency-key": calculate_idempotency_key,
            "workflow-step": self.step,
            "random-failure": self.random_failure,
        }


def create_table(dynamodb: Any, name: str = "IdempotencyTable") -> None:
    """The table, keyed by ``id``, with TTL on ``ttl`` (the SAM template's table)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
