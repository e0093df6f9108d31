"""Stand-in written for Stepwell's tests (the published function is not copied): a mock
buy transaction, in the shape the state machine's Record Transaction state reads."""

import datetime
import random
import uuid


def lambda_handler(event, context):
    return {
        "id": str(uuid.uuid4()),
        "price": str(event["stock_price"]),
        "type": "buy",
        "qty": str(random.randint(1, 10)),
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
    }
