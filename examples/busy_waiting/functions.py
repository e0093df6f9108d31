"""The Lambda function of the busy-waiting seed, as a Python function.

The seed's ``lambda_handler`` returns ``{"status": "success", "message": "Hello, World!"}``
at once. Here it is first busy: its first calls fail with ``Lambda.ServiceException``, the
transient error the state's Retry is written for, so the Retry does the polling (after
2, 4, 8, … seconds: IntervalSeconds 2, BackoffRate 2, at most 6 retries) until the function
reports success. In the seed's definition the Choice's Default loops back to the Wait, not
to the Task: a status other than "success" is never asked for again, and the execution
loops Wait → Choice until it is stopped. ``status`` lets the example show that too.
"""

from __future__ import annotations

from typing import Any

from stepwell import TaskError

FUNCTION_NAME = "stepfunctionlambda_test"


class BusyLambda:
    """``stepfunctionlambda_test``: ``busy_calls`` transient failures, then ``status``."""

    def __init__(self, busy_calls: int = 3, status: str = "success") -> None:
        self.busy_calls = busy_calls
        self.status = status
        self.calls = 0

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.busy_calls:
            raise TaskError(
                "Lambda.ServiceException",
                f"The query is still running (call {self.calls}); try again later.",
            )
        return {"status": self.status, "message": "Hello, World!"}
