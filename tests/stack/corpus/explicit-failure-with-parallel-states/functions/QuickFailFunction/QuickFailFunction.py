"""Stand-in written for Stepwell's tests (the published function is not copied): it
fails, as the sample's function does."""


def lambda_handler(event, context):
    raise RuntimeError("quick failure")
