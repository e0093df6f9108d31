"""Stepwell for your tests: a real server on a free loopback port, inside the test process.

    from stepwell.testing import local_stepwell

    with local_stepwell(functions={"greet": greet}, virtual_time=True) as sw:
        sfn = sw.client()                    # boto3 "stepfunctions", pointed at it
        arn = sfn.create_state_machine(...)["stateMachineArn"]
        sfn.start_execution(stateMachineArn=arn, input="{}")
        sw.advance(3600)                     # an hour passes: Waits and timeouts fire

Everything a user's code talks to is real — the AWS API over HTTP, the durable store,
the workers — so a test exercises what production runs. With ``virtual_time`` the
clock moves only when the test says so; ``advance`` then runs everything that falls due.
``serve_app`` serves any ASGI app the same way.

``local_stack`` does the same for a whole SAM or CloudFormation application, as
``stepwell up`` runs it::

    with local_stack("template.yaml", virtual_time=True) as app:
        arn = app.physical("MyStateMachine")         # names as the stack made them
        app.client().start_execution(stateMachineArn=arn, input="{}")
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from stepwell.api.connection import ApiConnection
from stepwell.api.settings import ApiSettings
from stepwell.app import QUICK_READS, local_store, server_app
from stepwell.runtime.clock import Clock, VirtualClock
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from stepwell.stack.apply import RunningStack, apply_plan
from stepwell.stack.plan import Plan, plan_stack


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port; yield its base URL.

    As ``stepwell serve`` does: with ``ApiConnection``, which answers Step Functions calls
    to the API app without ASGI and is uvicorn's own protocol for anything else."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", http=ApiConnection)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@dataclass
class LocalStepwell:
    """A running Stepwell: its URL, its host (store, service, workers) and its clock."""

    url: str
    host: Host
    clock: Clock

    def client(self, service: str = "stepfunctions", **options: Any) -> Any:
        """A boto3 client for ``url`` (boto3 must be installed: it is a test tool)."""
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.host.settings.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
            **options,
        )

    def advance(self, seconds: float) -> None:
        """Virtual time: move the clock, firing every timer that falls due on the way."""
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("advance() needs local_stepwell(virtual_time=True)")
        target = self.clock.now() + seconds
        self.settle()
        while True:
            due = self.host.store.next_due(self.clock.now())
            if due is None or due > target:
                break
            self.clock.set(due)
            self.settle()
        self.clock.set(target)
        self.settle()

    def settle(self) -> None:
        """Run everything due now, in this thread (the workers would, a little later)."""
        if self.host.pool is not None:
            self.host.pool.worker.run_until_idle()


@contextmanager
def local_stepwell(
    settings: Settings | None = None,
    *,
    functions: dict[str, Callable[..., Any]] | None = None,
    virtual_time: bool = False,
    start: float = 1_700_000_000.0,
) -> Iterator[LocalStepwell]:
    """Start Stepwell (in-memory store unless ``settings`` say otherwise) with
    ``functions`` as Lambda functions, serve it, and stop it afterwards."""
    settings = settings or Settings(db="memory", workers=1, invokers=2)
    clock = VirtualClock(start) if virtual_time else None
    host = Host(settings, clock)
    for name, fn in (functions or {}).items():
        host.integrations.functions.register(name, fn)
    host.start()
    api = ApiSettings(
        region=settings.region,
        account_id=settings.account,
        credentials=dict(settings.credentials),
        allowed_hosts=settings.allowed_hosts,
        max_object_bytes=settings.max_object_bytes,
        inline_operations=QUICK_READS if local_store(settings.db) else frozenset(),
    )
    try:
        with serve_app(server_app(host.service, api, health=host.health.report)) as url:
            yield LocalStepwell(url, host, host.clock)
    finally:
        host.stop()


@dataclass
class LocalStack(LocalStepwell):
    """A running application: a ``LocalStepwell`` with the stack's plan in it."""

    plan: Plan
    running: RunningStack

    def physical(self, logical_id: str) -> str:
        """What ``Ref`` gives for a resource: a state machine's ARN, a table's name, ..."""
        resource = self.plan.get(logical_id)
        if resource is None:
            raise KeyError(f"the stack has no emulated resource {logical_id}")
        if resource.kind == "state machine":
            return self.host.service.arns.state_machine(resource.name)
        return resource.name


@contextmanager
def local_stack(
    template: str | Path,
    *,
    parameters: dict[str, Any] | None = None,
    stack_name: str = "stack",
    settings: Settings | None = None,
    virtual_time: bool = False,
    start: float | None = None,
) -> Iterator[LocalStack]:
    """Run the application of ``template`` as ``stepwell up`` does, for a test. Virtual
    time starts at the real time, so TTLs that functions compute from the real clock
    expire when the test advances past them."""
    begin = time.time() if start is None else start
    with local_stepwell(settings, virtual_time=virtual_time, start=begin) as stepwell:
        settings = stepwell.host.settings
        plan = plan_stack(
            Path(template),
            stack_name=stack_name,
            region=settings.region,
            account=settings.account,
            parameters=parameters,
        )
        running = apply_plan(plan, stepwell.host, stepwell.url)
        try:
            yield LocalStack(stepwell.url, stepwell.host, stepwell.clock, plan, running)
        finally:
            running.close()
