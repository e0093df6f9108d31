"""The embedded AWS-like services — DynamoDB, SQS, SNS, S3, EventBridge — and their Python clients.

``Services(store, clock)`` opens them over any Stepwell store (or, with no store, over
memory): ``services.dynamodb``, ``services.sqs``, ``services.sns`` and ``services.s3`` are
clients whose
methods mirror boto3's, so consumer code reads as it would against AWS::

    services = Services(open_store("stepwell.db"))
    url = services.sqs.create_queue(QueueName="jobs")["QueueUrl"]
    for message in services.sqs.receive_message(QueueUrl=url).get("Messages", []):
        ...
        services.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

The task integrations use the same clients through ``client.call(operation, params)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from stepwell.integrations.services.base import Clock, ServiceClient, ServiceError
from stepwell.integrations.services.documents import (
    Documents,
    DocumentStore,
    MemoryDocumentStore,
)
from stepwell.integrations.services.dynamodb import DocumentItemStore, DynamoDBClient
from stepwell.integrations.services.events import EventsClient
from stepwell.integrations.services.s3 import S3Client
from stepwell.integrations.services.sns import FunctionInvoker, SnsClient
from stepwell.integrations.services.sqs import SqsClient

if TYPE_CHECKING:
    import httpx


class Services:
    """The embedded services of one Stepwell, sharing one store and one clock."""

    def __init__(
        self,
        store: DocumentStore | None = None,
        clock: Clock | None = None,
        *,
        region: str = "us-east-1",
        account: str = "123456789012",
        functions: FunctionInvoker | None = None,
        http: Callable[[], httpx.Client] | None = None,
    ) -> None:
        self.store: DocumentStore = store if store is not None else MemoryDocumentStore()
        # None: the system clock, or the virtual clock of the stepwell.run using them.
        self.clock: Clock | None = clock
        self.region = region
        self.account = account
        self.dynamodb = DynamoDBClient(self.store, self._now, region, account)
        self.sqs = SqsClient(self.store, self._now, region, account)
        self.sns = SnsClient(
            self.store, self._now, self.sqs, region, account, functions=functions, http=http
        )
        self.s3 = S3Client(self.store, self._now, region, account)
        self.events = EventsClient(self.store, self._now, self.sqs, self.sns, region, account)

    def _now(self) -> float:
        return float(self.clock()) if self.clock is not None else time.time()

    def client(self, service: str) -> ServiceClient | None:
        """The embedded client for a service name as resources spell it, if there is one."""
        clients: dict[str, ServiceClient] = {
            "dynamodb": self.dynamodb,
            "sqs": self.sqs,
            "sns": self.sns,
            "s3": self.s3,
            "events": self.events,
            "eventbridge": self.events,  # as aws-sdk:eventbridge:* names it
        }
        return clients.get(service)


__all__ = [
    "DocumentItemStore",
    "DocumentStore",
    "Documents",
    "DynamoDBClient",
    "EventsClient",
    "MemoryDocumentStore",
    "S3Client",
    "ServiceClient",
    "ServiceError",
    "Services",
    "SnsClient",
    "SqsClient",
]
