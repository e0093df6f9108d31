"""What the Map calls for each failed communication: POST it to the application's API.

The attempt is counted on the communication's item first; a 2xx answer sets its ``sent``
flag to 1, an error answer raises ``CommunicationFailed`` for the state's Retry and Catch
(the Catch sends it to the dead-letter queue). The API's base URL is the template's
``EndpointUrl`` parameter. HTTP with the standard library; DynamoDB with plain boto3
(``AWS_ENDPOINT_URL``, as on AWS Lambda).
"""

import json
import os
import urllib.error
import urllib.request

import boto3

dynamodb = boto3.client("dynamodb")


class CommunicationFailed(Exception):
    """The application's API did not accept the communication."""


def lambda_handler(event, context):
    key = {"primaryId": {"S": event["primaryId"]}}
    table = os.environ["COMMUNICATIONS_TABLE"]
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="ADD attempts :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    status, answer = post(event)
    if status >= 400:
        raise CommunicationFailed(f"{status}: {answer}")
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET sent = :sent",
        ExpressionAttributeValues={":sent": {"N": "1"}},
    )
    return {"primaryId": event["primaryId"], "status": "SENT"}


def post(communication):
    request = urllib.request.Request(
        f"{os.environ['ENDPOINT_URL'].rstrip('/')}/communications/send",
        data=json.dumps(communication).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
