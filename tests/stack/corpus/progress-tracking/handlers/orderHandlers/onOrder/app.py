"""Stand-in written for Stepwell's tests (the published function is not copied): it
passes the event on, as the sample's mock steps do."""


def handler(event, context):
    return event
