"""Stand-in written for Stepwell's tests (the published function is not copied): no
rules to migrate."""


def lambda_handler(event, context):
    return {"rules": []}
