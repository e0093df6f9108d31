"""Stand-in written for Stepwell's tests (the published function is not copied): as the
sample's README describes it, it "generates an array of JSON containing random sample
data", keyed by the attribute names of its environment."""

import os
import random
import uuid

NAMES = ("Clever Lion", "Quiet Owl", "Brave Otter")
RATINGS = ("Fair", "Good", "Excellent")


def lambda_handler(event, context):
    key, first, second = (os.environ[n] for n in ("unique_id", "attribute_1", "attribute_2"))
    items = [
        {key: str(uuid.uuid4()), first: random.choice(NAMES), second: random.choice(RATINGS)}
        for _ in range(60)
    ]
    return {"Items": items}
