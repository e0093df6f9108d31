"""The Step Functions operations, implemented once for the API server, the CLI and Python.

``Service.handle(operation, request)`` takes an operation name as the AWS API spells it
("StartExecution") and its request members (camelCase, as in the API), and returns the
response members, timestamps as ``datetime``. Mistakes raise the ``ServiceError`` named
after the AWS error type. The API layer has already checked member types and lengths
against the service model; this layer checks meaning (names, ARNs, JSON, definitions).

The operations live in one module per topic, each a mixin over ``core.ServiceCore``:
``machines``, ``versions``, ``aliases``, ``executions``, ``redrive``, ``callbacks``,
``tags`` and ``testing``. This module assembles them and dispatches through a table.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import Clock, SystemClock
from stepwell.runtime.status_events import notice
from stepwell.runtime.worker import MachineCache
from stepwell.service import errors as err
from stepwell.service.arns import Arns
from stepwell.service.callbacks import CallbackOperations
from stepwell.service.core import InlineStepper, Request, Response, Wake
from stepwell.service.embedded_apis import EmbeddedApis
from stepwell.service.executions import ExecutionOperations
from stepwell.service.lambda_api import LambdaFunctions
from stepwell.service.lambda_events import AsyncInvocations
from stepwell.service.redrive import RedriveOperations
from stepwell.service.tags import TagOperations
from stepwell.service.testing import TestingOperations
from stepwell.store.base import Store, StoreUnavailable

__all__ = ["Request", "Response", "Service"]


class Service(
    ExecutionOperations,
    RedriveOperations,
    CallbackOperations,
    TagOperations,
    TestingOperations,
):
    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        arns: Arns | None = None,
        wake: Wake | None = None,
        integrations: Integrations | None = None,
        run_now: InlineStepper | None = None,
        routing: random.Random | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.arns = arns or Arns()
        self.integrations = integrations or Integrations()
        self.machines = MachineCache(store)
        # The embedded DynamoDB, SQS and SNS and the Lambda API over the functions, served
        # on the same endpoint (api/routing.py).
        services = self.integrations.services
        self.lambda_events = AsyncInvocations(services.store, self.clock.now)
        self.lambda_functions = LambdaFunctions(
            self.integrations.functions, self.lambda_events, self.clock.now
        )
        self.embedded_apis = EmbeddedApis(services, self.lambda_functions)
        # EventBridge rules with a state machine target start executions here, and
        # PutEvents stores its events as notices that the workers deliver (durably).
        events = self.integrations.services.events
        if events.targets.start_execution is None:
            events.targets.start_execution = self.start_execution
        if events.dispatch is None:
            events.dispatch = self._dispatch_event
        self.routing = routing or random.Random()
        self._wake: Wake = wake or _no_wake
        # Runs an execution's first step at once (the calling thread), so a short
        # workflow has finished by the time StartExecution answers.
        self._run_now = run_now
        self._activity_signal = threading.Condition()
        self._background: set[threading.Thread] = set()
        self._background_lock = threading.Lock()

    def _dispatch_event(self, event: dict[str, Any], bus: str) -> None:
        self.store.enqueue(notice(event, self.clock.now(), bus))
        self._wake()

    def handle(self, operation: str, request: Request) -> Response:
        method = _OPERATIONS.get(operation)
        if method is None:
            raise err.UnknownOperationException(f"Operation {operation} is not supported.")
        try:
            result: Response = method(self, request)
        except StoreUnavailable as error:  # not the caller's fault: retryable, with the why
            raise err.ServiceUnavailable(str(error)) from None
        return result


def _no_wake(due: float | None = None) -> None:
    """No runtime in this process to wake."""


_OPERATIONS: dict[str, Callable[[Service, Request], Response]] = {
    "CreateStateMachine": Service.create_state_machine,
    "DescribeStateMachine": Service.describe_state_machine,
    "UpdateStateMachine": Service.update_state_machine,
    "DeleteStateMachine": Service.delete_state_machine,
    "ListStateMachines": Service.list_state_machines,
    "DescribeStateMachineForExecution": Service.describe_state_machine_for_execution,
    "ValidateStateMachineDefinition": Service.validate_state_machine_definition,
    "PublishStateMachineVersion": Service.publish_state_machine_version,
    "ListStateMachineVersions": Service.list_state_machine_versions,
    "DeleteStateMachineVersion": Service.delete_state_machine_version,
    "CreateStateMachineAlias": Service.create_state_machine_alias,
    "DescribeStateMachineAlias": Service.describe_state_machine_alias,
    "UpdateStateMachineAlias": Service.update_state_machine_alias,
    "DeleteStateMachineAlias": Service.delete_state_machine_alias,
    "ListStateMachineAliases": Service.list_state_machine_aliases,
    "StartExecution": Service.start_execution,
    "StartSyncExecution": Service.start_sync_execution,
    "DescribeExecution": Service.describe_execution,
    "StopExecution": Service.stop_execution,
    "ListExecutions": Service.list_executions,
    "GetExecutionHistory": Service.get_execution_history,
    "RedriveExecution": Service.redrive_execution,
    "ListMapRuns": Service.list_map_runs,
    "DescribeMapRun": Service.describe_map_run,
    "UpdateMapRun": Service.update_map_run,
    "SendTaskSuccess": Service.send_task_success,
    "SendTaskFailure": Service.send_task_failure,
    "SendTaskHeartbeat": Service.send_task_heartbeat,
    "CreateActivity": Service.create_activity,
    "DescribeActivity": Service.describe_activity,
    "DeleteActivity": Service.delete_activity,
    "ListActivities": Service.list_activities,
    "GetActivityTask": Service.get_activity_task,
    "TagResource": Service.tag_resource,
    "UntagResource": Service.untag_resource,
    "ListTagsForResource": Service.list_tags_for_resource,
    "TestState": Service.test_state,
}
