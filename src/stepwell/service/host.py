"""One running Stepwell: the store, the integrations, the worker pool and the service,
assembled from ``Settings``. The server, the worker command and tests build one."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from stepwell.integrations.forwarding import ForwardConfig
from stepwell.integrations.functions import FunctionRegistry, load_functions
from stepwell.integrations.mocks import MockConfig, MockedIntegrations, RouteTarget, StoredMockState
from stepwell.integrations.nested import NestedExecutions
from stepwell.integrations.registry import Integrations
from stepwell.integrations.services import Services
from stepwell.runtime.clock import Clock, SystemClock
from stepwell.runtime.health import Health
from stepwell.runtime.pool import WorkerPool
from stepwell.runtime.schedules import Schedules, schedules_from_config
from stepwell.service.arns import Arns
from stepwell.service.jsonata_pool import SHARED, pool_size
from stepwell.service.service import Service
from stepwell.service.settings import Settings
from stepwell.store import open_store


class Host:
    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        *,
        mocks: MockConfig | None = None,
        test_case: str | None = None,
        routes: Mapping[str, Mapping[str, RouteTarget]] | None = None,
    ) -> None:
        self.settings = settings
        self._isolating = False
        self.clock = clock or SystemClock()
        self.store = open_store(settings.db)
        # What GET /health reports: the store's own check and every background loop.
        self.health = Health(self.store.check)
        functions = FunctionRegistry(region=settings.region, account=settings.account)
        if settings.functions_module:
            for name, fn in load_functions(settings.functions_module).items():
                functions.register(name, fn)
        for name, reference in settings.functions.items():
            functions.register(name, load_functions(reference)[reference.rpartition(":")[2]])
        # The embedded DynamoDB, SQS and SNS keep their state in the store, so every worker
        # process shares it and it survives restarts.
        self.services = Services(
            self.store,
            self.clock.now,
            region=settings.region,
            account=settings.account,
            functions=functions,
        )
        self.integrations = Integrations(
            functions, services=self.services, forward=ForwardConfig.from_environment()
        )
        # Nested executions wait through links in the store; the service they start
        # children with is connected once it exists (below).
        self.nested = NestedExecutions(links=self.store)
        self.nested.install(self.integrations)
        if mocks is None and settings.mock_config:
            mocks = MockConfig.load(Path(settings.mock_config))
        test_case = test_case or settings.test_case or None
        if mocks is not None or routes:
            self.integrations = MockedIntegrations(
                self.integrations,
                mocks,
                test_case=test_case,
                routes=routes,
                state=StoredMockState(self.store),
            )
        self.pool = (
            WorkerPool(
                self.store,
                self.integrations,
                self.clock,
                settings.workers,
                settings.invokers,
                settings.lease_seconds,
                health=self.health,
            )
            if settings.workers > 0
            else None
        )
        self.service = Service(
            self.store,
            self.clock,
            Arns(settings.region, settings.account),
            wake=self.pool.wake if self.pool else None,
            integrations=self.integrations,
            run_now=self.pool.worker if self.pool else None,
        )
        self.nested.connect(self.service)
        # Schedules are EventBridge rules with a ScheduleExpression (runtime.schedules).
        self.schedules = Schedules(
            self.store,
            self.clock,
            self.service.start_execution,
            settings.region,
            settings.account,
            events=self.services.events,
        )
        self.schedules.invoke_function = functions.invoke
        if settings.schedules:
            self.schedules.put_all(
                schedules_from_config(settings.schedules, settings.region, settings.account)
            )
        if self.pool is not None:
            self.pool.worker.watchers.append(self.nested)
            self.pool.periodic.append(self.schedules.fire_due)
            # Asynchronous Lambda invocations whose run was cut short (service.lambda_events).
            self.pool.periodic.append(self.service.lambda_events.redeliver_due)

    def start(self) -> Host:
        if self.settings.jsonata_workers != 0:
            SHARED.attach(pool_size(self.settings.jsonata_workers))  # service.jsonata_pool
            self._isolating = True
        if self.pool is not None:
            self.pool.start()
        return self

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.stop()
        self.service.lambda_events.close()
        if self._isolating:
            SHARED.detach()
            self._isolating = False
        self.store.close()
