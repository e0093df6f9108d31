"""Stand-in written for Stepwell's tests (the published function is not copied): it
names where the prompt would be written."""


def lambda_handler(event, context):
    return {"s3uri": f"s3://{event['bucket_name']}/{event['key']}.prompt.json"}
