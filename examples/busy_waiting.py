"""The Lambda function of the busy-waiting example, as a plain Python function.

The first call fails with a transient ``Lambda.ServiceException`` (the state's Retry
takes it); later calls report ``in_progress`` twice, then ``success``.
"""

from typing import Any

from stepwell import TaskError

calls = {"count": 0}


def stepfunctionlambda_test(event: dict[str, Any]) -> dict[str, Any]:
    calls["count"] += 1
    if calls["count"] == 1:
        raise TaskError("Lambda.ServiceException", "Rate exceeded (simulated)")
    status = "success" if calls["count"] >= 4 else "in_progress"
    return {**event, "status": status, "polls": calls["count"] - 1}
