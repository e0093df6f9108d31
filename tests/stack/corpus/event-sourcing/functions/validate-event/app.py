"""Stand-in written for Stepwell's tests (the published function is not copied): the
event is valid and processed."""


def lambda_handler(event, context):
    return {"valid": True, **event}
