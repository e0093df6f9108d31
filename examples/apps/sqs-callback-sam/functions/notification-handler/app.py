"""The seed's Java ``NotificationHandler`` in Python: a Lambda function on TeamC's queue.

For each SQS record whose JSON body has a ``TaskToken``, it tells Step Functions the work
is done (``SendTaskSuccess`` with ``{"Output": "message", "ack": "success"}``, the seed's
output); other messages are only logged. Plain boto3: the client finds its endpoint in
``AWS_ENDPOINT_URL`` and its credentials in the environment, as on AWS Lambda.
"""

import json

import boto3

stepfunctions = boto3.client("stepfunctions")
REPLY = {"Output": "message", "ack": "success"}


def handle_request(event, context):
    print(f"In Handler: Executing {context.function_name}, {context.function_version}")
    for record in event["Records"]:
        message = record["body"]
        fields = parse(message)
        if "TaskToken" in fields:
            # Respond back to Step Functions that the work is completed.
            result = stepfunctions.send_task_success(
                taskToken=fields["TaskToken"], output=json.dumps(REPLY)
            )
            print(json.dumps(result["ResponseMetadata"]["HTTPStatusCode"]))
        print(message)


def parse(message):
    try:
        fields = json.loads(message)
    except ValueError as problem:
        print(f"{problem} while processing {message}")
        return {}
    return fields if isinstance(fields, dict) else {}
