"""Unit-test one state of the idempotent seed workflow with TestState (the README's example)."""

import json
from pathlib import Path

import stepwell

SEED = Path("examples/idempotent/idempotent.asl.json").read_text()


def test_idempotency_key_with_a_mocked_lambda_result() -> None:
    answer = stepwell.test_state(
        SEED,
        {"order": 42},
        state_name="Calculate idempotency key",
        mock={"result": {"idempotencyKey": "k-42", "ttl": "1700086400"}},
        inspection_level="DEBUG",
    )
    assert answer["status"] == "SUCCEEDED"
    assert answer["nextState"] == "Lock idempotency key"
    assert json.loads(answer["output"])["idempotencyConfig"]["idempotencyKey"] == "k-42"
    assert json.loads(answer["inspectionData"]["afterParameters"])["input"] == {"order": 42}


def test_a_taken_lock_is_caught_with_a_mocked_dynamodb_error() -> None:
    failure = {"error": "DynamoDB.ConditionalCheckFailedException", "cause": "taken"}
    answer = stepwell.test_state(
        SEED,
        {"idempotencyConfig": {"idempotencyKey": "k-42", "ttl": "1700086400"}},
        state_name="Lock idempotency key",
        mock={"errorOutput": failure},
    )
    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["nextState"] == "Get idempotency record"
    lock_error = json.loads(answer["output"])["lockError"]
    assert lock_error == {"Error": failure["error"], "Cause": "taken"}
