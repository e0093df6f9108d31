"""What ``make example-callback`` and ``make example-idempotent`` print. Their consumer
and set-up code are plain boto3 clients on Stepwell's endpoint (issue 11: the callback
consumer reads the queue with ``sqs.receive_message`` and calls ``send_task_success``;
the idempotent example creates its table with ``dynamodb.create_table``)."""

from __future__ import annotations

import pytest

from examples.callback import run as callback
from examples.idempotent import run as idempotent


def test_the_callback_consumer_answers_through_boto3(capsys: pytest.CaptureFixture[str]) -> None:
    callback.main()
    out = capsys.readouterr().out
    assert "the consumer answered the message for ['msg-1']" in out
    assert (
        '-> SUCCEEDED, output {"messageId":"msg-1","SQS":{"Output":"message","ack":"success"}}'
        in out
    )
    assert "the unanswered message is still queued: ['msg-2']" in out


def test_the_idempotent_table_is_made_and_read_through_boto3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    idempotent.main()
    out = capsys.readouterr().out
    assert "5. After the 24-hour TTL the key is free again" in out
    assert ": SUCCESS, ttl 2024-05-03 09:00" in out
