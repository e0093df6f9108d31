"""The Lambda functions of the reprocessing seed, as Python functions.

* ``fetch-failed-communications`` is what the seed's CloudWatch (EventBridge) rule
  triggers: it asks the application for its failed communications, 20 at a time, and
  starts one execution of the reprocessing state machine per batch. Execution names come
  from the scheduled event's time, so a repeated invocation (invocations are
  at-least-once) starts nothing twice.
* ``send-communication`` is what the Map calls for each item: it POSTs the communication
  to the application's API and fails with ``CommunicationFailed`` when the API answers
  with an error, for the state's Retry and Catch to handle.

Both are configured as a Lambda function would be by its environment: the API's URL, and
for the first a Step Functions client and the state machine to start.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

BATCH_SIZE = 20
OPERATION = None  # every kind of communication; "send.email" would pick emails only


class CommunicationFailed(Exception):
    """The application's API did not accept the communication."""


class FetchFailedCommunications:
    """``fetch-failed-communications``: batches of 20 → one execution each."""

    def __init__(self, api_url: str, sfn: Any, state_machine_arn: str) -> None:
        self.api_url = api_url
        self.http = httpx.Client(timeout=10)
        self.sfn = sfn
        self.state_machine_arn = state_machine_arn

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        batches = list(self.batches())
        tick = datetime.fromisoformat(event["time"])
        started = [
            self.start(f"failed-communications-{tick:%Y%m%dT%H%MZ}-{n}", n, len(batches), batch)
            for n, batch in enumerate(batches, start=1)
        ]
        return {"items": sum(len(b) for b in batches), "executions": started}

    def batches(self) -> list[list[dict[str, Any]]]:
        """Every failed communication, read a page of BATCH_SIZE at a time."""
        pages: list[list[dict[str, Any]]] = []
        while True:
            query = {"limit": BATCH_SIZE, "offset": BATCH_SIZE * len(pages)}
            if OPERATION:
                query["operation"] = OPERATION
            page = self.http.get(f"{self.api_url}/communications/failed", params=query).json()
            if not page["items"]:
                return pages
            pages.append(page["items"])

    def start(self, name: str, batch: int, of: int, items: list[dict[str, Any]]) -> str:
        data = {"batch": batch, "of": of, "items": items}
        started = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(data)
        )
        return str(started["executionArn"])


class SendCommunication:
    """``send-communication``: POST one communication to the application's API."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.http = httpx.Client(timeout=10)  # one connection pool for every call

    def __call__(self, communication: dict[str, Any], context: Any = None) -> dict[str, Any]:
        response = self.http.post(f"{self.api_url}/communications/send", json=communication)
        if response.status_code >= 400:
            raise CommunicationFailed(f"{response.status_code}: {response.text}")
        return {"primaryId": communication["primaryId"], "status": "SENT"}
