"""Stand-in written for Stepwell's tests (the published function is not copied)."""


def sns_callback(event, context):
    return event
