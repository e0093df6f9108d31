"""The seed's Lambda function, made to report on a job: the state machines ask it for
``status`` until it says ``success``.

Without a ``jobId`` in its input it answers as the seed's handler does, at once:
``{"status": "success", "message": "Hello, World!"}``. With one, it reads the job's item
from the jobs table (the stand-in for the seed's Athena query) and reports its
``status``, ``in_progress`` while there is none. Plain boto3: the client finds its
endpoint in ``AWS_ENDPOINT_URL``, as on AWS Lambda.
"""

import os

import boto3

dynamodb = boto3.client("dynamodb")


def lambda_handler(event, context):
    job = event.get("jobId") if isinstance(event, dict) else None
    if job is None:
        return {"status": "success", "message": "Hello, World!"}
    item = dynamodb.get_item(
        TableName=os.environ["JOBS_TABLE"], Key={"jobId": {"S": job}}, ConsistentRead=True
    ).get("Item", {})
    status = item.get("status", {}).get("S", "in_progress")
    return {"jobId": job, "status": status, "message": f"job {job}: {status}"}
