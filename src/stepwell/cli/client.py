"""The client commands' connection to a running Stepwell server.

Design decision: the CLI talks to the server exactly as boto3 and the AWS CLI do, through
botocore's ``stepfunctions`` client. botocore is already a dependency (the API layer
compiles its service model), and boto3 would add nothing the CLI uses. The client signs
requests with SigV4, so a server that requires credentials works; it parses timestamps
and pages results as the service model says; and everything the CLI does, a boto3 user
can do too. Client-side parameter validation is off, so the server, which validates as
AWS does, is the one voice for ``ValidationException``. Errors become ``CommandError``:
the AWS error type and message, or why the server could not be reached.

Credentials: the ``AWS_*`` variables (or a named ``AWS_PROFILE``) when set, otherwise
dummy ones, which a server without ``[credentials]`` accepts. The region comes from
``AWS_REGION`` or ``AWS_DEFAULT_REGION`` (default ``us-east-1``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
)

from stepwell.cli.output import CommandError

ENDPOINT_VARIABLE = "STEPWELL_ENDPOINT"
DEFAULT_ENDPOINT = "http://127.0.0.1:8083"
DEFAULT_REGION = "us-east-1"
_CONFIG = Config(
    # StartSyncExecution would otherwise go to http://sync-127.0.0.1:8083.
    inject_host_prefix=False,
    parameter_validation=False,
    retries={"mode": "standard", "max_attempts": 1},
    connect_timeout=5,
    read_timeout=70,  # GetActivityTask long-polls for up to 60 s
)
_HISTORY_PAGE = 1000  # GetExecutionHistory's largest maxResults


class StepFunctions:
    """A Step Functions client bound to one endpoint, raising ``CommandError``."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        with self._errors():
            self._client = _session().create_client(
                "stepfunctions",
                endpoint_url=endpoint,
                region_name=_region(),
                config=_CONFIG,
                **_credentials(),
            )

    def call(self, operation: str, **members: Any) -> dict[str, Any]:
        """Run one operation, named as boto3 names it (``start_execution``)."""
        with self._errors():
            response: dict[str, Any] = getattr(self._client, operation)(**members)
        return response

    def collect(self, operation: str, key: str, **members: Any) -> list[dict[str, Any]]:
        """Every item of a paginated list (``key``), across all pages."""
        items: list[dict[str, Any]] = []
        with self._errors():
            for page in self._client.get_paginator(operation).paginate(**members):
                items.extend(page[key])
        return items

    def machine_arn(self, machine: str) -> str:
        """The ARN of a state machine given by ARN or by name."""
        if machine.startswith("arn:"):
            return machine
        for item in self.collect("list_state_machines", "stateMachines"):
            if item["name"] == machine:
                return str(item["stateMachineArn"])
        raise CommandError(f"State Machine Does Not Exist: '{machine}'", "StateMachineDoesNotExist")

    def events_after(self, execution_arn: str, last_id: int) -> list[dict[str, Any]]:
        """History events with ids above ``last_id``, oldest first.

        Reads pages newest first and stops at the first page that reaches a known
        event, so following a long execution costs one request per poll.
        """
        newer: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.call(
                "get_execution_history",
                executionArn=execution_arn,
                reverseOrder=True,
                maxResults=_HISTORY_PAGE,
                **({"nextToken": token} if token else {}),
            )
            fresh = [event for event in page["events"] if event["id"] > last_id]
            newer.extend(fresh)
            token = page.get("nextToken")
            if token is None or len(fresh) < len(page["events"]):
                return newer[::-1]

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except ClientError as failure:
            error = failure.response.get("Error", {})
            code = str(error.get("Code") or "Error")
            raise CommandError(str(error.get("Message", "")), code) from None
        except EndpointConnectionError:
            raise CommandError(
                f"cannot reach a Stepwell server at {self.endpoint}: start one with "
                f"`stepwell serve`, or point --endpoint (or {ENDPOINT_VARIABLE}) at it"
            ) from None
        except (BotoCoreError, ValueError) as failure:  # ValueError: a malformed endpoint
            raise CommandError(str(failure)) from None


@functools.cache
def _session() -> Any:
    """One botocore session per process: it caches the loaded service model."""
    return botocore.session.get_session()


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def _credentials() -> dict[str, str]:
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return {}  # botocore reads them, with AWS_SESSION_TOKEN and the profile's files
    return {"aws_access_key_id": "stepwell", "aws_secret_access_key": "stepwell"}
