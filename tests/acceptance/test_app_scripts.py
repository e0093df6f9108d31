"""What ``make example-app-reprocessing``, ``example-app-busy-waiting`` and
``example-app-callback`` print: each script runs its seed application to the end (in
memory, on a virtual clock) and shows the outcome its README describes."""

from __future__ import annotations

import pytest

from examples.apps import busy_waiting_sam, failed_communications_sam, sqs_callback_sam


def test_the_callback_script_shows_the_consumers_answer(capsys: pytest.CaptureFixture[str]) -> None:
    sqs_callback_sam.main()
    out = capsys.readouterr().out
    assert 'SUCCEEDED: {"messageId": "m-1", "SQS": {"Output": "message", "ack": "success"}}' in out


def test_the_busy_waiting_script_shows_both_definitions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    busy_waiting_sam.main()
    out = capsys.readouterr().out
    assert 'as written: SUCCEEDED {"status":"success","message":"Hello, World!"}' in out
    assert "polling: SUCCEEDED after asking 5 times" in out


def test_the_reprocessing_script_shows_both_ticks(capsys: pytest.CaptureFixture[str]) -> None:
    failed_communications_sam.main()
    out = capsys.readouterr().out
    assert "09:00 the rule fired: 3 executions" in out
    assert "failed-communications-20240501T0900Z-1: 20 communications, FAILED" in out
    assert "dead-letter queue: c-013 (CommunicationFailed)" in out
    assert "10:00 the rule fired: 0 executions" in out
    assert "POSTs to the API: 48" in out
