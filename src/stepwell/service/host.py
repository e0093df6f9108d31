"""One running Stepwell: the store, the integrations, the worker pool and the service,
assembled from ``Settings``. The server, the worker command and tests build one."""

from __future__ import annotations

from stepwell.integrations.functions import FunctionRegistry, load_functions
from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import Clock, SystemClock
from stepwell.runtime.pool import WorkerPool
from stepwell.service.arns import Arns
from stepwell.service.service import Service
from stepwell.service.settings import Settings
from stepwell.store import open_store


class Host:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.store = open_store(settings.db)
        functions = FunctionRegistry(region=settings.region, account=settings.account)
        if settings.functions_module:
            for name, fn in load_functions(settings.functions_module).items():
                functions.register(name, fn)
        for name, reference in settings.functions.items():
            functions.register(name, load_functions(reference)[reference.rpartition(":")[2]])
        self.integrations = Integrations(functions)
        self.pool = (
            WorkerPool(
                self.store,
                self.integrations,
                self.clock,
                settings.workers,
                settings.invokers,
                settings.lease_seconds,
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
            run_now=self.pool.worker.advance_now if self.pool else None,
        )

    def start(self) -> Host:
        if self.pool is not None:
            self.pool.start()
        return self

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.stop()
        self.store.close()
