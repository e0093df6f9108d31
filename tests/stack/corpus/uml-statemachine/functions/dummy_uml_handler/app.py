"""Stand-in written for Stepwell's tests (the published function is not copied): it
echoes the event, as the sample's dummy handlers do."""


def lambda_handler(event, context):
    return event
