"""Nested executions: the optimized integration ``arn:aws:states:::states:startExecution``
(Developer Guide, "Start a new AWS Step Functions state machine from a running
execution"), ``aws-sdk:sfn:startExecution``, and the
``aws-sdk:sfn:sendTaskSuccess|sendTaskFailure|sendTaskHeartbeat`` calls a child makes to
answer a parent that waits for its task token.

The four patterns, as AWS returns them:

* request-response: ``{ExecutionArn, StartDate, SdkHttpMetadata, SdkResponseMetadata}``;
* ``.sync``: the child's DescribeExecution in PascalCase, ``Output`` as JSON text;
* ``.sync:2``: the same with ``Output`` parsed;
* ``.waitForTaskToken``: the child is started with the token in its input (the state's
  Parameters put it there) and the parent waits for SendTaskSuccess/Failure.

A ``.sync`` or ``.waitForTaskToken`` start is *submitted* first (the request-response
answer, which the history shows as TaskSubmitted, aws-behaviour C1), then the task waits.
A child that does not succeed fails a ``.sync`` task with ``States.TaskFailed`` and the
child's description as the cause; a refused StartExecution fails it with
``StepFunctions.<Error>Exception`` (``StepFunctions.ExecutionAlreadyExistsException``).
``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`` is plain data in the child's input.

Design: this layer sits below the service, so the operations come through a port
(``ExecutionsPort``), which the Host connects to its ``Service`` and ``stepwell.run`` to
its in-process executions; ``install`` registers the resources with ``Integrations``.
A durable ``.sync`` child is a normal execution. The parent's task waits on a task
token, and a *link* (child execution ARN → token) is written in the store's
``documents("nested")`` before the child starts, so however fast the child ends, the
worker that commits its end finds the link and, in that same commit, hands the parent
its TaskSucceeded/TaskFailed (see ``completions``). In-process, the child has run inline
by the time StartExecution returns, so its result is read at once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import formatdate
from typing import Any, Protocol

import orjson

from stepwell.integrations.functions import Outcome
from stepwell.integrations.registry import Integrations, Invocation
from stepwell.integrations.resources import ServiceResource

NAMESPACE = "nested"
_UNKNOWN_TOKEN = "Invalid Token: 'Invalid token'"
_NAMES = uuid.UUID("0b7e9c1e-2f4d-4c6a-9e8b-3d5f7a9c1b2d")

Request = dict[str, Any]
Response = Mapping[str, Any]


class ExecutionsPort(Protocol):
    """The Step Functions operations nested executions need, with the API's request and
    response members (camelCase). Errors carry the AWS error type in ``aws_type``."""

    def start_execution(self, request: Request) -> Response: ...
    def start_sync_execution(self, request: Request) -> Response: ...
    def describe_execution(self, request: Request) -> Response: ...
    def send_task_success(self, request: Request) -> Response: ...
    def send_task_failure(self, request: Request) -> Response: ...
    def send_task_heartbeat(self, request: Request) -> Response: ...


class LinkDocuments(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...
    def delete(self, key: str) -> None: ...


class LinkStore(Protocol):
    """Where links live: the store's exclusive ``documents`` transactions, and its
    ``peek`` for a read that takes no lock."""

    def documents(self, namespace: str) -> AbstractContextManager[LinkDocuments]: ...
    def peek(self, namespace: str, keys: Sequence[str]) -> dict[str, bytes]: ...


class ChildRecord(Protocol):
    """An execution that has ended, as the worker commits it (``ExecutionRecord``)."""

    @property
    def arn(self) -> str: ...
    @property
    def state_machine_arn(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def input(self) -> str: ...
    @property
    def start_date(self) -> float: ...
    @property
    def stop_date(self) -> float | None: ...
    @property
    def output(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def cause(self) -> str | None: ...
    @property
    def redrive_count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Link:
    """A parent's ``.sync`` task waiting for a child: resolve ``token`` when it ends."""

    token: str
    pattern: str  # ".sync" or ".sync:2"


class PortError(Exception):
    """A port's refusal without an ``aws_type`` of its own (not connected, bad call)."""

    aws_type = "ValidationException"


class NestedExecutions:
    def __init__(self, port: ExecutionsPort | None = None, links: LinkStore | None = None) -> None:
        self.port = port
        self.links = links
        # Children whose end found a link (``completions``): the ones ``forget`` unlinks.
        self._found: set[str] = set()
        self._unlinking: set[str] = set()  # links to drop (one that failed is retried)
        # The links of the executions a worker's thread is stepping (``prepare``).
        self._prepared = threading.local()

    def connect(self, port: ExecutionsPort) -> None:
        """Attach the operations once they exist (the Service is built after us)."""
        self.port = port

    def install(self, integrations: Integrations) -> None:
        """Register with ``integrations`` for the resources this module runs."""
        integrations.register("states:startExecution", self.invoke)
        integrations.register("aws-sdk:sfn:startExecution", self.invoke)
        for action in _CALLBACKS:
            integrations.register(f"aws-sdk:sfn:{action}", self.invoke)

    def invoke(self, invocation: Invocation, resource: ServiceResource) -> Outcome | None:
        if resource.sdk and resource.action == "startExecution":
            return self._sdk_start(invocation)
        if resource.sdk:
            return self._callback(resource.action, invocation)
        request = _start_request(invocation)
        if isinstance(request, Outcome):
            return request
        return _PATTERNS[resource.pattern](self, invocation, request, resource.pattern)

    # ----------------------------------------------------------------- patterns

    def _request_response(
        self, invocation: Invocation, request: Request, pattern: str
    ) -> Outcome | None:
        started = self._call("start_execution", request, invocation.request_id)
        if isinstance(started, Outcome):
            return started
        return Outcome(output=_started_output(started, invocation.request_id))

    def _wait_for_token(
        self, invocation: Invocation, request: Request, pattern: str
    ) -> Outcome | None:
        """The answer is StartExecution's; the registry marks it submitted (C1)."""
        return self._request_response(invocation, request, pattern)

    def _sync(self, invocation: Invocation, request: Request, pattern: str) -> Outcome | None:
        express = self._run_express(invocation, request, pattern)
        if express is not None:
            return express
        token = invocation.task_token
        if self.links is None or token is None:
            return self._sync_inline(invocation, request, pattern)
        child = _execution_arn(request["stateMachineArn"], request["name"])
        self._link(child, Link(token, pattern))
        started = self._call("start_execution", request, invocation.request_id)
        if isinstance(started, Outcome):
            self._unlink(child)
            return started
        if started["executionArn"] != child:  # a port that names executions its own way
            self._unlink(child)
            self._link(str(started["executionArn"]), Link(token, pattern))
        # The child's end resolves the token (completions); meanwhile, C1: TaskSubmitted.
        return Outcome(output=_started_output(started, invocation.request_id), submitted=True)

    def _run_express(
        self, invocation: Invocation, request: Request, pattern: str
    ) -> Outcome | None:
        """An Express child runs to its end within StartSyncExecution; a Standard one is
        refused with StateMachineTypeNotSupported (None here) and is waited for."""
        ran = self._call("start_sync_execution", request, invocation.request_id)
        if isinstance(ran, Outcome):
            standard = ran.error == "StepFunctions.StateMachineTypeNotSupportedException"
            return None if standard else ran
        return finished_outcome(ran, pattern)

    def _sync_inline(
        self, invocation: Invocation, request: Request, pattern: str
    ) -> Outcome | None:
        started = self._call("start_execution", request, invocation.request_id)
        if isinstance(started, Outcome):
            return started
        described = self._call(
            "describe_execution", {"executionArn": started["executionArn"]}, invocation.request_id
        )
        if isinstance(described, Outcome):
            return described
        if described["status"] == "RUNNING":
            return None  # nothing will report its end: the task's timeout decides
        submitted = _started_output(started, invocation.request_id)
        return Outcome(output=submitted, submitted=True, then=finished_outcome(described, pattern))

    def _sdk_start(self, invocation: Invocation) -> Outcome:
        """C3: ``aws-sdk:sfn:startExecution`` answers StartExecution's own members, with
        no HTTP metadata, its date as the AWS SDK for Java prints an ``Instant``."""
        request = _start_request(invocation)
        if isinstance(request, Outcome):
            return request
        started = self._call("start_execution", request, invocation.request_id, prefix="Sfn")
        if isinstance(started, Outcome):
            return started
        return Outcome(
            output={
                "ExecutionArn": started["executionArn"],
                "StartDate": _instant(_seconds(started)),
            }
        )

    # ----------------------------------------------------------------- callbacks

    def _callback(self, action: str, invocation: Invocation) -> Outcome:
        operation, members = _CALLBACKS[action]
        payload = invocation.payload if isinstance(invocation.payload, dict) else {}
        request: Request = {}
        for pascal, camel, required in members:
            value = payload.get(pascal)
            if value is None and required:
                message = (
                    f"1 validation error detected: Value null at '{camel}' failed to satisfy "
                    "constraint: Member must not be null"
                )
                return _refused("Sfn", "ValidationException", message, invocation.request_id)
            if value is not None:
                request[camel] = value if isinstance(value, str) else _json(value)
        answer = self._call(operation, request, invocation.request_id, prefix="Sfn")
        if isinstance(answer, Outcome) and answer.error == "Sfn.TaskDoesNotExistException":
            # C3: AWS cannot read a token it never gave out: "Invalid token".
            return _refused("Sfn", "InvalidToken", _UNKNOWN_TOKEN, invocation.request_id)
        return answer if isinstance(answer, Outcome) else Outcome(output={})

    # ----------------------------------------------------------------- the port

    def _call(
        self, operation: str, request: Request, request_id: str, prefix: str = "StepFunctions"
    ) -> Response | Outcome:
        try:
            if self.port is None:
                raise PortError("Nested executions are not connected to a Step Functions service.")
            answer: Response = getattr(self.port, operation)(request)
            return answer
        except Exception as error:
            kind = getattr(error, "aws_type", None)
            if kind is None:
                raise  # not a refusal but a bug: let the runtime see it
            return _refused(prefix, str(kind), _message(error), request_id)

    # ----------------------------------------------------------------- links

    def _link(self, child: str, link: Link) -> None:
        assert self.links is not None
        with self.links.documents(NAMESPACE) as docs:
            docs.put(child, orjson.dumps({"token": link.token, "pattern": link.pattern}))

    def _unlink(self, child: str) -> None:
        assert self.links is not None
        with self.links.documents(NAMESPACE) as docs:
            docs.delete(child)

    def completions(self, child: ChildRecord) -> list[tuple[str, Outcome]]:
        """When ``child`` has ended: the (task token, outcome) of a parent waiting for it.
        Read-only, so a worker whose commit is refused can ask again."""
        if self.links is None or child.status == "RUNNING":
            return []
        prepared: dict[str, bytes | None] = getattr(self._prepared, "links", {})
        if child.arn in prepared:
            raw = prepared[child.arn]
        else:
            raw = self.links.peek(NAMESPACE, [child.arn]).get(child.arn)
        if raw is None:
            return []
        self._found.add(child.arn)
        link = Link(**orjson.loads(raw))
        return [(link.token, finished_outcome(_describe_record(child), link.pattern))]

    def prepare(self, executions: Sequence[ChildRecord]) -> None:
        """The calling thread is about to step ``executions``: read their links now, in
        one look-up without the namespace's lock (a link is committed before its child
        starts, so a child being stepped has its link already), for ``completions``."""
        if self.links is None:
            return
        if len(executions) < 2:
            # Nothing to save: ``completions`` reads the one link itself, and only if
            # the execution ended (most steps of a new execution or a task's outcome).
            self._prepared.links = {}
            return
        arns = [execution.arn for execution in executions]
        found = self.links.peek(NAMESPACE, arns)
        self._prepared.links = {arn: found.get(arn) for arn in arns}

    def forget(self, child: ChildRecord) -> None:
        """After the commit that resolved the parent: drop the link (if there was one:
        most executions are nobody's ``.sync`` child)."""
        if self.links is None:
            return
        if child.arn in self._found:
            self._unlinking.add(child.arn)
            self._found.discard(child.arn)
        for arn in list(self._unlinking):
            self._unlink(arn)  # if this raises, the rest are tried at the next forget
            self._unlinking.discard(arn)


_Start = Callable[[NestedExecutions, Invocation, Request, str], Outcome | None]
_PATTERNS: dict[str, _Start] = {
    "": NestedExecutions._request_response,
    ".sync": NestedExecutions._sync,
    ".sync:2": NestedExecutions._sync,
    ".waitForTaskToken": NestedExecutions._wait_for_token,
}

# AWS SDK action → (port operation, [(Parameters member, request member, required)])
_CALLBACKS: dict[str, tuple[str, list[tuple[str, str, bool]]]] = {
    "sendTaskSuccess": (
        "send_task_success",
        [("TaskToken", "taskToken", True), ("Output", "output", True)],
    ),
    "sendTaskFailure": (
        "send_task_failure",
        [("TaskToken", "taskToken", True), ("Error", "error", False), ("Cause", "cause", False)],
    ),
    "sendTaskHeartbeat": ("send_task_heartbeat", [("TaskToken", "taskToken", True)]),
}


# --------------------------------------------------------------------- shapes


def _started_output(started: Response, request_id: str) -> dict[str, Any]:
    """StartExecution's answer as the optimized integration returns it."""
    body = (
        f'{{"executionArn":{_json(started["executionArn"])},'
        f'"startDate":{_java_double(_seconds(started))}}}'
    )
    return {
        "ExecutionArn": started["executionArn"],
        "SdkHttpMetadata": _http_metadata(body, _seconds(started), request_id),
        "SdkResponseMetadata": {"RequestId": request_id},
        "StartDate": _millis(started["startDate"]),
    }


def finished_outcome(described: Response, pattern: str) -> Outcome:
    """A ``.sync`` task's outcome from the child's DescribeExecution (camelCase)."""
    result = _sync_output(described, pattern)
    if described["status"] == "SUCCEEDED":
        return Outcome(output=result)
    return Outcome(error="States.TaskFailed", cause=_json(result))


def _sync_output(described: Response, pattern: str) -> dict[str, Any]:
    parsed = pattern == ".sync:2"
    output: dict[str, Any] = {
        "ExecutionArn": described["executionArn"],
        "Input": orjson.loads(described["input"]) if parsed else described["input"],
        "InputDetails": {"Included": True},
        "Name": described["name"],
        "RedriveCount": described.get("redriveCount", 0),
        "RedriveStatus": described.get("redriveStatus", _redrive_status(described["status"])),
        "RedriveStatusReason": described.get(
            "redriveStatusReason", _redrive_reason(described["status"])
        ),
        "StartDate": _millis(described["startDate"]),
        "StateMachineArn": described["stateMachineArn"],
        "Status": described["status"],
    }
    if described.get("stopDate") is not None:
        output["StopDate"] = _millis(described["stopDate"])
    if described.get("output") is not None:
        text = described["output"]
        output["Output"] = orjson.loads(text) if parsed else text
        output["OutputDetails"] = {"Included": True}
    for member in ("error", "cause"):
        if described.get(member) is not None:
            output[member.capitalize()] = described[member]
    return dict(sorted((k, v) for k, v in output.items() if v is not None))


def _describe_record(child: ChildRecord) -> dict[str, Any]:
    return {
        "executionArn": child.arn,
        "stateMachineArn": child.state_machine_arn,
        "name": child.name,
        "status": child.status,
        "input": child.input,
        "startDate": child.start_date,
        "stopDate": child.stop_date,
        "output": child.output,
        "error": child.error,
        "cause": child.cause,
        "redriveCount": child.redrive_count,
    }


def _redrive_status(status: str) -> str:
    return "NOT_REDRIVABLE" if status in ("RUNNING", "SUCCEEDED") else "REDRIVABLE"


def _redrive_reason(status: str) -> str | None:
    """C2: DescribeExecution's reason, which the ``.sync`` output carries (no period)."""
    if _redrive_status(status) == "REDRIVABLE":
        return None
    return f"Execution is {status} and cannot be redriven"


def _start_request(invocation: Invocation) -> Request | Outcome:
    payload = invocation.payload
    machine = payload.get("StateMachineArn") if isinstance(payload, dict) else None
    if not isinstance(machine, str):
        return Outcome(
            error="States.Runtime",
            cause="The startExecution integration needs a StateMachineArn string parameter.",
        )
    given = payload.get("Input")
    if given is None:  # C2: a null (or no) Input starts the child with {}
        given = {}
    request: Request = {
        "stateMachineArn": machine,
        "input": given if isinstance(given, str) else _json(given),
        "name": str(payload.get("Name") or _default_name(invocation)),
    }
    return request


def _default_name(invocation: Invocation) -> str:
    """A UUID, derived from the task token (or request) so that a redelivered
    invocation starts the same child, which StartExecution's idempotency then dedups."""
    seed = invocation.task_token or invocation.request_id
    return str(uuid.uuid5(_NAMES, seed)) if seed else str(uuid.uuid4())


def _execution_arn(machine_arn: str, name: str) -> str:
    """``arn:aws:states:R:A:stateMachine:M[:qualifier]`` → the execution ARN of ``name``."""
    parts = machine_arn.split(":")
    if len(parts) < 7 or parts[5] != "stateMachine":
        return f"{machine_arn}:{name}"  # not a machine ARN: StartExecution will refuse it
    return ":".join([*parts[:5], "execution", parts[6], name])


def _refused(prefix: str, kind: str, message: str, request_id: str) -> Outcome:
    """A refused call, named and worded as the AWS SDK does inside Step Functions."""
    error = kind if kind.endswith("Exception") else f"{kind}Exception"
    if prefix == "Sfn":  # the AWS SDK for Java 2 (aws-sdk:sfn:*), C3
        detail = (
            f"(Service: Sfn, Status Code: 400, Request ID: {request_id}) (SDK Attempt Count: 1)"
        )
    else:
        detail = (
            f"(Service: AWSStepFunctions; Status Code: 400; Error Code: {kind}; "
            f"Request ID: {request_id}; Proxy: null)"
        )
    return Outcome(error=f"{prefix}.{error}", cause=f"{message} {detail}")


def _message(error: Exception) -> str:
    return str(getattr(error, "message", "") or error)


def _http_metadata(body: str, moment: float, request_id: str) -> dict[str, Any]:
    """C4: the headers of AWS's answer; its body is the JSON text AWS sends."""
    headers = {
        "Content-Length": str(len(body.encode())),
        "Content-Type": "application/x-amz-json-1.0",
        "Date": formatdate(moment, usegmt=True),
        "connection": "keep-alive",
        "x-amzn-RequestId": request_id,
    }
    return {
        "AllHttpHeaders": {key: [value] for key, value in headers.items()},
        "HttpHeaders": headers,
        "HttpStatusCode": 200,
    }


def _java_double(seconds: float) -> str:
    """Epoch seconds at millisecond precision as AWS's Java service writes a timestamp:
    ``Double.toString``, e.g. ``1.596138397365E9``."""
    exact = Decimal(repr(round(seconds, 3))).normalize()
    sign, digits, exponent = exact.as_tuple()
    assert isinstance(exponent, int)
    shown = "".join(map(str, digits))
    power = len(digits) + exponent - 1
    if not 1e-3 <= abs(seconds) < 1e7:
        fraction = shown[1:] or "0"
        return f"{'-' if sign else ''}{shown[0]}.{fraction}E{power}"
    return repr(float(exact))


def _instant(seconds: float) -> str:
    """Java's ``Instant.toString`` at millisecond precision: ``2024-05-01T12:00:00.123Z``,
    no fraction when it is zero."""
    moment = datetime.fromtimestamp(round(seconds, 3), UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = moment.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def _millis(value: Any) -> int:
    """Dates in integration results are epoch milliseconds, as the AWS SDK writes them."""
    seconds = value.timestamp() if isinstance(value, datetime) else float(value)
    return round(seconds * 1000)


def _seconds(started: Response) -> float:
    value = started["startDate"]
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
