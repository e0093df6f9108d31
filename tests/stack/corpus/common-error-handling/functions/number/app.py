"""Stand-in written for Stepwell's tests (the published function is not copied): it
picks a number, as the sample's number function does."""


def lambda_handler(event, context):
    return {"number": 7}
