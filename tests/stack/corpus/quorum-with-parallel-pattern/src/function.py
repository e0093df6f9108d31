"""Stand-in written for Stepwell's tests (the published function is not copied): the
mock process completes."""


def handler(event, context):
    return {"status": "complete"}
