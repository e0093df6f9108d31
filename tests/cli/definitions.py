"""State machines the CLI tests create, as JSON text."""

from __future__ import annotations

import json

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def machine(states: dict[str, object], start: str) -> str:
    return json.dumps({"StartAt": start, "States": states})


GREET = machine(
    {"Greet": {"Type": "Task", "Resource": LAMBDA + "greet", "End": True}},
    "Greet",
)
BROKEN = machine(
    {"Break": {"Type": "Task", "Resource": LAMBDA + "broken", "End": True}},
    "Break",
)
PASS = machine({"Done": {"Type": "Pass", "Result": {"ok": True}, "End": True}}, "Done")
# A Task that waits for SendTaskSuccess/Failure, then a Pass: callbacks and --follow.
CALLBACK = machine(
    {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {
                "FunctionName": "remember",
                "Payload": {"token.$": "$$.Task.Token", "execution.$": "$$.Execution.Name"},
            },
            "Next": "Answer",
        },
        "Answer": {"Type": "Pass", "End": True},
    },
    "Ask",
)
