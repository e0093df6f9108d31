"""What the seed's scheduled (CloudWatch Events) rule triggers: fetch the failed
communications and start the reprocessing state machine once per batch of 20.

A communication has failed while its ``sent`` flag is 0 (the seed's application sets it
to 0 when the UI composes it); one that was tried ``MAX_ATTEMPTS`` times is no longer
offered: it has to be processed manually. Execution names come from the scheduled
event's time, so a repeated invocation of the same tick starts nothing twice
(StartExecution with the same name and input is idempotent). Plain boto3: the clients
find their endpoint in ``AWS_ENDPOINT_URL``, as on AWS Lambda.
"""

import json
import os

import boto3

BATCH_SIZE = 20
MAX_ATTEMPTS = 3
FIELDS = ("primaryId", "operation", "createdBy", "created")

dynamodb = boto3.client("dynamodb")
stepfunctions = boto3.client("stepfunctions")


def lambda_handler(event, context):
    failed = failed_communications()
    batches = [failed[i : i + BATCH_SIZE] for i in range(0, len(failed), BATCH_SIZE)]
    tick = event["time"].replace("-", "").replace(":", "")[:13] + "Z"  # 20240501T0900Z
    started = [
        start(f"failed-communications-{tick}-{number}", number, len(batches), batch)
        for number, batch in enumerate(batches, start=1)
    ]
    print(json.dumps({"failed": len(failed), "executions": started}))
    return {"items": len(failed), "executions": started}


def failed_communications():
    """Every unsent communication not yet tried MAX_ATTEMPTS times, oldest id first."""
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=os.environ["COMMUNICATIONS_TABLE"],
        FilterExpression="sent = :unsent AND attempts < :max",
        ExpressionAttributeValues={":unsent": {"N": "0"}, ":max": {"N": str(MAX_ATTEMPTS)}},
        ConsistentRead=True,
    )
    found = [{name: item[name]["S"] for name in FIELDS} for page in pages for item in page["Items"]]
    return sorted(found, key=lambda communication: communication["primaryId"])


def start(name, batch, of, items):
    started = stepfunctions.start_execution(
        stateMachineArn=os.environ["STATE_MACHINE_ARN"],
        name=name,
        input=json.dumps({"batch": batch, "of": of, "items": items}),
    )
    return started["executionArn"]
