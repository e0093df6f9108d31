"""Mocked task results for tests, and a per-state choice of how a task runs.

The mock configuration is Step Functions Local's file (Developer Guide, "Using mocked
service integrations for testing in Step Functions Local" and "Configuration file for
mocked service integrations")::

    {"StateMachines": {"Machine": {"TestCases": {"HappyPath": {"State": "Response"}}}},
     "MockedResponses": {"Response": {"0": {"Throw": {"Error": "E", "Cause": "C"}},
                                      "1-2": {"Return": {"any": "result"}}}}}

A test case is chosen per execution, as Step Functions Local does, by starting it with
``stateMachineArn#TestCaseName`` (``select``), or for every execution of a machine that
has it (``test_case=``). Invocation numbers count one state's invocations within one
execution from 0, retries included, so a Retry walks through successive responses;
the keys must cover 0, 1, 2 … without gaps. Past the last one the last response
repeats (a choice of ours: Step Functions Local does not document that case). A mocked
``.waitForTaskToken`` task needs no callback: the mocked response is its result.

A *route* overrides how one state of one machine runs: ``"mock:ResponseName"``,
``"function:name"`` (a Python function registered with the integrations, or a callable
given directly: it gets the state's effective input and its return value is the
result), ``"service"`` (the integration as configured: the embedded service, the
default) or ``"forward"`` (a real AWS endpoint, through the integrations' forwarding).

Design: ``MockedIntegrations`` wraps the real integrations and is consulted before
them. What it must remember across workers (which test case an execution runs, how
often each state was invoked) is in the store's ``documents("mocks")`` when it has a
store, in memory otherwise.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from stepwell.integrations.functions import FunctionRegistry, Outcome
from stepwell.integrations.registry import Integrations, Invocation, TaskHandler
from stepwell.integrations.resources import parse
from stepwell.language.model import StateMachine
from stepwell.language.validation_rules.base import Diagnostic

NAMESPACE = "mocks"
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")

RouteTarget = str | Callable[..., Any]
ForwardTask = Callable[[Invocation], Outcome | None]


class MockConfigError(ValueError):
    """A mock configuration Step Functions Local would refuse; ``path`` points at it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, message)
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message}"


# --------------------------------------------------------------------- the configuration


@dataclass(frozen=True, slots=True)
class MockedResponse:
    """One named response: the outcome of each invocation number."""

    name: str
    ranges: tuple[tuple[int, int, Outcome], ...]  # (first, last, outcome), in order

    def outcome(self, invocation: int) -> Outcome:
        for first, last, outcome in self.ranges:
            if first <= invocation <= last:
                return outcome
        return self.ranges[-1][2]


@dataclass(frozen=True, slots=True)
class MockConfig:
    test_cases: dict[str, dict[str, dict[str, str]]]  # machine → case → state → response
    responses: dict[str, MockedResponse]

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any]) -> MockConfig:
        """From parsed data, a JSON file's path, or JSON text."""
        if isinstance(source, Mapping):
            return _parse_config(source)
        text = str(source)
        if text.lstrip()[:1] not in ("{", "["):
            text = Path(text).read_text()
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise MockConfigError("", f"not JSON: {error}") from None
        if not isinstance(data, dict):
            raise MockConfigError("", "the configuration is a JSON object")
        return _parse_config(data)

    def response(self, name: str) -> MockedResponse | None:
        return self.responses.get(name)

    def case(self, machine: str, test_case: str) -> dict[str, str] | None:
        """The states → responses of ``test_case``: the machine's own, or, when the
        machine is not in the file, the one machine that has such a test case."""
        cases = self.test_cases.get(machine)
        if cases is not None:
            return cases.get(test_case)
        owners = [m for m, c in self.test_cases.items() if test_case in c]
        return self.test_cases[owners[0]][test_case] if len(owners) == 1 else None


def _parse_config(data: Mapping[str, Any]) -> MockConfig:
    machines = _object(data.get("StateMachines", {}), "/StateMachines")
    raw_responses = _object(data.get("MockedResponses", {}), "/MockedResponses")
    responses = {
        name: _parse_response(name, value, f"/MockedResponses/{name}")
        for name, value in raw_responses.items()
    }
    test_cases: dict[str, dict[str, dict[str, str]]] = {}
    for machine, body in machines.items():
        path = f"/StateMachines/{machine}"
        cases = _object(_object(body, path).get("TestCases", {}), f"{path}/TestCases")
        test_cases[machine] = {
            case: _parse_case(states, responses, f"{path}/TestCases/{case}")
            for case, states in cases.items()
        }
    return MockConfig(test_cases, responses)


def _parse_case(states: Any, responses: dict[str, MockedResponse], path: str) -> dict[str, str]:
    mapping = _object(states, path)
    for state, response in mapping.items():
        if not isinstance(response, str) or response not in responses:
            raise MockConfigError(f"{path}/{state}", f"no mocked response named {response!r}")
    return dict(mapping)


def _parse_response(name: str, value: Any, path: str) -> MockedResponse:
    ranges: list[tuple[int, int, Outcome]] = []
    for key, body in _object(value, path).items():
        match = _RANGE.fullmatch(key)
        if match is None:
            raise MockConfigError(f"{path}/{key}", "an invocation is a number or a range n-m")
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        if last < first:
            raise MockConfigError(f"{path}/{key}", "a range runs from low to high")
        ranges.append((first, last, _parse_outcome(body, f"{path}/{key}")))
    ranges.sort(key=lambda r: r[0])
    expected = 0
    for first, last, _ in ranges:
        if first != expected:
            raise MockConfigError(path, f"invocation {expected} has no response")
        expected = last + 1
    if not ranges:
        raise MockConfigError(path, "a mocked response needs at least invocation 0")
    return MockedResponse(name, tuple(ranges))


def _parse_outcome(body: Any, path: str) -> Outcome:
    fields = _object(body, path)
    if set(fields) not in ({"Return"}, {"Throw"}):
        raise MockConfigError(path, "a response is either Return or Throw")
    if "Return" in fields:
        return Outcome(output=fields["Return"])
    thrown = _object(fields["Throw"], f"{path}/Throw")
    error, cause = thrown.get("Error"), thrown.get("Cause", "")
    if not isinstance(error, str) or not isinstance(cause, str):
        raise MockConfigError(f"{path}/Throw", "Throw has an Error and a Cause string")
    return Outcome(error=error, cause=cause)


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MockConfigError(path, "expected a JSON object")
    return value


def split_test_case(state_machine_arn: str) -> tuple[str, str | None]:
    """``arn…:stateMachine:M#HappyPath`` → (``arn…:stateMachine:M``, ``HappyPath``)."""
    arn, mark, test_case = state_machine_arn.partition("#")
    return arn, (test_case if mark else None)


# --------------------------------------------------------------------- routes


@dataclass(frozen=True, slots=True)
class TaskRoute:
    kind: str  # mock | function | service | forward
    target: str = ""  # mocked response or function name
    function: Callable[..., Any] | None = field(default=None, compare=False)


def parse_route(value: RouteTarget) -> TaskRoute:
    if callable(value):
        return TaskRoute("function", f"callable-{id(value)}", value)
    kind, _, target = value.partition(":")
    if kind in ("service", "forward") and not target:
        return TaskRoute(kind)
    if kind in ("mock", "function") and target:
        return TaskRoute(kind, target)
    raise MockConfigError(
        "", f"a route is mock:NAME, function:NAME, service or forward, not {value!r}"
    )


# --------------------------------------------------------------------- per-execution state


class MockDocuments(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...


class MockStore(Protocol):
    def documents(self, namespace: str) -> AbstractContextManager[MockDocuments]: ...


class MockState(Protocol):
    """Which test case each execution runs and how often each state was invoked."""

    def select(self, execution_arn: str, test_case: str) -> None: ...
    def test_case(self, execution_arn: str) -> str | None: ...
    def next_invocation(self, execution_arn: str, state_name: str) -> int:
        """This invocation's number (0 first), counting it."""
        ...


class MemoryMockState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cases: dict[str, str] = {}
        self._counts: dict[tuple[str, str], int] = {}

    def select(self, execution_arn: str, test_case: str) -> None:
        with self._lock:
            self._cases[execution_arn] = test_case

    def test_case(self, execution_arn: str) -> str | None:
        with self._lock:
            return self._cases.get(execution_arn)

    def next_invocation(self, execution_arn: str, state_name: str) -> int:
        with self._lock:
            count = self._counts.get((execution_arn, state_name), 0)
            self._counts[(execution_arn, state_name)] = count + 1
            return count


class StoredMockState:
    """The same, in the store, shared by every worker process."""

    def __init__(self, store: MockStore) -> None:
        self.store = store

    def select(self, execution_arn: str, test_case: str) -> None:
        with self.store.documents(NAMESPACE) as docs:
            docs.put(f"case|{execution_arn}", test_case.encode())

    def test_case(self, execution_arn: str) -> str | None:
        with self.store.documents(NAMESPACE) as docs:
            raw = docs.get(f"case|{execution_arn}")
        return raw.decode() if raw is not None else None

    def next_invocation(self, execution_arn: str, state_name: str) -> int:
        key = f"count|{execution_arn}|{state_name}"
        with self.store.documents(NAMESPACE) as docs:
            raw = docs.get(key)
            count = int(raw) if raw is not None else 0
            docs.put(key, str(count + 1).encode())
        return count


# --------------------------------------------------------------------- the wrapper


class MockedIntegrations(Integrations):
    """Integrations consulted through mocks and routes first; see the module docstring."""

    def __init__(
        self,
        inner: Integrations,
        config: MockConfig | None = None,
        *,
        test_case: str | None = None,
        routes: Mapping[str, Mapping[str, RouteTarget]] | None = None,
        state: MockState | None = None,
        forward_task: ForwardTask | None = None,
    ) -> None:
        # Deliberately not Integrations.__init__: the state lives in ``inner``.
        self.inner = inner
        self.config = config or MockConfig({}, {})
        self.default_test_case = test_case
        self.routes = {
            machine: {state_name: parse_route(target) for state_name, target in states.items()}
            for machine, states in (routes or {}).items()
        }
        self.state: MockState = state or MemoryMockState()
        self.forward_task = forward_task
        self._callables = FunctionRegistry(
            {
                route.target: route.function
                for states in self.routes.values()
                for route in states.values()
                if route.function is not None
            }
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def register(self, target: str, handler: TaskHandler) -> None:
        self.inner.register(target, handler)

    def diagnostics(self, machine: StateMachine) -> list[Diagnostic]:
        return self.inner.diagnostics(machine)

    def check(self, machine: StateMachine) -> list[str]:
        return self.inner.check(machine)

    def select(self, execution_arn: str, test_case: str) -> None:
        """Run ``execution_arn`` with ``test_case`` (StartExecution with ``arn#case``)."""
        self.state.select(execution_arn, test_case)

    def invoke(self, invocation: Invocation) -> Outcome | None:
        machine = machine_name(invocation.execution_arn)
        route = self._route(machine, invocation.state_name)
        if route is not None:
            return _RUNS[route.kind](self, route, invocation)
        response = self._test_case_response(machine, invocation)
        if response is not None:
            return self._mocked(response, invocation)
        return self.inner.invoke(invocation)

    def _route(self, machine: str, state_name: str) -> TaskRoute | None:
        for key in (machine, "*"):
            route = self.routes.get(key, {}).get(state_name)
            if route is not None:
                return route
        return None

    def _test_case_response(self, machine: str, invocation: Invocation) -> MockedResponse | None:
        if not self.config.test_cases:
            return None
        test_case = self.state.test_case(invocation.execution_arn) or self.default_test_case
        if test_case is None:
            return None
        states = self.config.case(machine, test_case)
        name = states.get(invocation.state_name) if states else None
        return self.config.response(name) if name else None

    def _mocked(self, response: MockedResponse, invocation: Invocation) -> Outcome:
        number = self.state.next_invocation(invocation.execution_arn, invocation.state_name)
        return response.outcome(number)

    # ----------------------------------------------------------------- routes

    def _run_mock(self, route: TaskRoute, invocation: Invocation) -> Outcome | None:
        response = self.config.response(route.target)
        if response is None:
            return Outcome(
                error="States.Runtime",
                cause=f"The route of state '{invocation.state_name}' names the mocked "
                f"response '{route.target}', which the mock configuration does not have.",
            )
        return self._mocked(response, invocation)

    def _run_function(self, route: TaskRoute, invocation: Invocation) -> Outcome | None:
        functions = self._callables if route.function is not None else self.inner.functions
        return functions.invoke(route.target, invocation.payload, invocation.request_id)

    def _run_service(self, route: TaskRoute, invocation: Invocation) -> Outcome | None:
        return self.inner.invoke(invocation)

    def _run_forward(self, route: TaskRoute, invocation: Invocation) -> Outcome | None:
        if self.forward_task is not None:
            return self.forward_task(invocation)
        resource = parse(invocation.resource)
        forwarder = self.inner.forwarder
        if forwarder is None or resource is None:
            reason = (
                "no forwarding is configured"
                if forwarder is None
                else "only service integrations can be forwarded"
            )
            return Outcome(
                error="States.Runtime",
                cause=f"State '{invocation.state_name}' is routed to AWS, but {reason}.",
            )
        return forwarder.invoke(resource, invocation.payload, invocation.request_id)


_Run = Callable[[MockedIntegrations, TaskRoute, Invocation], Outcome | None]
_RUNS: dict[str, _Run] = {
    "mock": MockedIntegrations._run_mock,
    "function": MockedIntegrations._run_function,
    "service": MockedIntegrations._run_service,
    "forward": MockedIntegrations._run_forward,
}


def machine_name(execution_arn: str) -> str:
    """``arn:aws:states:R:A:execution:MACHINE:NAME`` (or ``express:…``) → MACHINE."""
    parts = execution_arn.split(":")
    return parts[6] if len(parts) > 6 else ""
