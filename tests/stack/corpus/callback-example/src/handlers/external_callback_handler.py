"""Stand-in written for Stepwell's tests (the published function is not copied)."""


def external_callback(event, context):
    return event
