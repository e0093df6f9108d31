"""Run the callback seed against an in-process Stepwell server, through boto3.

    python -m examples.callback.run        (or: make example-callback)

Time is virtual (see ``examples/local_stepwell.py``): the 10 s TimeoutSeconds of the
unanswered run passes at once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from examples.callback.consumer import QUEUE_NAME, NotificationHandler, poll_once
from examples.local_stepwell import LocalStepwell, clock_time, local_stepwell

HERE = Path(__file__).parent
DEFINITION = HERE / "callback.asl.json"
SYNC_DEFINITION = HERE / "callback-sync.asl.json"
START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def refuse_sync(local: LocalStepwell) -> None:
    print("1. The .sync variant is refused when it is created, as AWS refuses it:")
    try:
        local.create_state_machine("InformTeamCSync", SYNC_DEFINITION)
    except ClientError as refused:
        error = refused.response["Error"]
        print(f"  {error['Code']}: {error['Message']}")


def answered(local: LocalStepwell, machine: str, queue_url: str) -> None:
    print("2. A consumer reads the queue and calls SendTaskSuccess:")
    execution = local.start_execution(machine, {"messageId": "msg-1"})
    local.settle()
    print(f"  {local.describe(execution)['status']}, waiting for the callback")
    handler = NotificationHandler(local.sfn)
    poll_once(local.client("sqs"), queue_url, handler)  # plain boto3, as a consumer is
    print(f"  the consumer answered the message for {handler.answered}")
    described = local.run_until_done(execution)
    print(f"  -> {described['status']}, output {described['output']}")


def unanswered(local: LocalStepwell, machine: str) -> None:
    print("3. Nobody reads the queue: after TimeoutSeconds (10 s) the Catch takes over:")
    execution = local.start_execution(machine, {"messageId": "msg-2"})
    described = local.run_until_done(execution)
    for event in local.history(execution):
        if event["type"] in ("TaskTimedOut", "FailStateEntered"):
            details = event.get("taskTimedOutEventDetails") or event["stateEnteredEventDetails"]
            print(f"  {clock_time(event['timestamp'])}  {event['type']}: {_brief(details)}")
    seconds = (described["stopDate"] - described["startDate"]).total_seconds()
    print(f"  -> {described['status']} ({described['error']}) after {seconds:.0f} s")


def _brief(details: dict[str, object]) -> str:
    return str(details.get("error") or details.get("name"))


def main() -> None:
    with local_stepwell({}, start=START) as local:
        sqs = local.client("sqs")
        queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        machine = local.create_state_machine("InformTeamC", DEFINITION)
        print(f"Stepwell on {local.url}; queue {queue_url}")
        refuse_sync(local)
        answered(local, machine, queue_url)
        unanswered(local, machine)
        left = sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
        inputs = [json.loads(message["Body"])["Input"] for message in left]
        print(f"  the unanswered message is still queued: {inputs}")


if __name__ == "__main__":
    main()
