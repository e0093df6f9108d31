"""Stand-in written for Stepwell's tests (the published function is not copied): the
sample's stock checker answers a mock stock price between 0 and 100."""

import random


def lambda_handler(event, context):
    return {"stock_price": random.randint(0, 100)}
