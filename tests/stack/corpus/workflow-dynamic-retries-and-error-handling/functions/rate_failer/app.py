"""Stand-in written for Stepwell's tests (the published function is not copied): as the
sample's README describes it, it fails with the probability ``failureRate`` of its payload."""

import random


class RateFailure(Exception):
    pass


def lambda_handler(event, context):
    if random.random() < float(event.get("failureRate", 0)):
        raise RateFailure("failed as asked")
    return {"succeeded": True}
