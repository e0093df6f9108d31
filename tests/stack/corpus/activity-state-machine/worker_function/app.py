"""Stand-in written for Stepwell's tests (the published function is not copied): the
activity worker has nothing to poll here."""


def lambda_handler(event, context):
    return {"polled": False}
