"""Map Runs: ListMapRuns, DescribeMapRun, UpdateMapRun, and the children of a run for
ListExecutions(mapRunArn) (API Reference; Developer Guide, "Viewing a Distributed Map
Run execution").

A Map Run is kept by the runtime (``runtime/map_runs.py``): its record holds the run's
specification and progress, which these operations read; UpdateMapRun hands the run an
``update`` event, which the next step applies (at once when the service steps work
inline), so the run is changed by the one worker that holds it, never concurrently.
"""

from __future__ import annotations

from typing import Any

from stepwell.runtime.clock import to_datetime
from stepwell.runtime.map_runs import (
    child_machine_arn,
    counts,
    is_map_run,
    progress_of,
    request_of,
    stop_item,
    update_item,
)
from stepwell.service import errors as err
from stepwell.service.arns import split_arn
from stepwell.service.core import Request, Response, ServiceCore, present
from stepwell.service.pages import paginate
from stepwell.store.base import ExecutionRecord


class MapRunOperations(ServiceCore):
    def list_map_runs(self, request: Request) -> Response:
        execution = self._execution(request["executionArn"])
        runs = self._map_runs_of(execution.arn)
        runs.sort(key=lambda r: r.start_date, reverse=True)
        page, token = paginate(runs, request)
        return {"mapRuns": [_listed_run(r) for r in page], **token}

    def describe_map_run(self, request: Request) -> Response:
        record = self._map_run(request["mapRunArn"])
        progress = progress_of(record)
        spec = request_of(record)["spec"]
        settings = progress or {
            "max_concurrency": spec["max_concurrency"],
            "tolerated_count": spec["tolerated_count"],
            "tolerated_percentage": spec["tolerated_percentage"],
        }
        return present(
            mapRunArn=record.arn,
            executionArn=record.state_machine_arn,
            status=record.status,
            startDate=to_datetime(record.start_date),
            stopDate=to_datetime(record.stop_date) if record.stop_date is not None else None,
            maxConcurrency=settings["max_concurrency"] or 0,
            toleratedFailurePercentage=float(settings["tolerated_percentage"] or 0),
            toleratedFailureCount=settings["tolerated_count"] or 0,
            itemCounts=counts(progress, "items", record.redrive_count),
            executionCounts=counts(progress, "executions", record.redrive_count),
            redriveCount=record.redrive_count,
            redriveDate=to_datetime(record.redrive_date) if record.redrive_date else None,
        )

    def update_map_run(self, request: Request) -> Response:
        record = self._map_run(request["mapRunArn"])
        changes: dict[str, Any] = {}
        if "maxConcurrency" in request:
            changes["max_concurrency"] = int(request["maxConcurrency"])
        if "toleratedFailureCount" in request:
            changes["tolerated_count"] = int(request["toleratedFailureCount"])
        if "toleratedFailurePercentage" in request:
            percentage = float(request["toleratedFailurePercentage"])
            if not 0 <= percentage <= 100:
                raise err.ValidationException(
                    "toleratedFailurePercentage must be between 0 and 100"
                )
            changes["tolerated_percentage"] = percentage
        if not changes:
            raise err.ValidationException(
                "At least one of the parameters maxConcurrency, toleratedFailurePercentage "
                "or toleratedFailureCount must be specified"
            )
        if record.status == "RUNNING":
            self.store.enqueue(update_item(record.arn, changes, self.clock.now()))
            self._step_now(record.arn)
        return {}

    # ----------------------------------------------------------------- helpers

    def _map_run(self, arn: str) -> ExecutionRecord:
        split_arn(arn, "mapRun")
        record = self.store.get_execution(arn)
        if record is None or not is_map_run(record.arn):
            raise err.ResourceNotFound(f"Resource not found: '{arn}'", resource_name=arn)
        return record

    def _map_runs_of(self, execution_arn: str) -> list[ExecutionRecord]:
        return [r for r in self.store.list_executions(execution_arn, None) if is_map_run(r.arn)]

    def _map_run_children(self, arn: str, status: str | None) -> list[ExecutionRecord]:
        """ListExecutions(mapRunArn): the run's child executions."""
        self._map_run(arn)
        children = self.store.list_executions(child_machine_arn(arn), status)
        return [c for c in children if c.map_run_arn == arn]

    def _stop_map_runs(self, execution_arn: str) -> None:
        """StopExecution of a parent aborts its running Map Runs and their children."""
        now = self.clock.now()
        for run in self._map_runs_of(execution_arn):
            if run.status == "RUNNING":
                self.store.enqueue(stop_item(run.arn, now))


def _listed_run(record: ExecutionRecord) -> dict[str, Any]:
    return present(
        executionArn=record.state_machine_arn,
        mapRunArn=record.arn,
        stateMachineArn=child_machine_arn(record.arn),
        startDate=to_datetime(record.start_date),
        stopDate=to_datetime(record.stop_date) if record.stop_date is not None else None,
    )
