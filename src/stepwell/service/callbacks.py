"""Callbacks and activities: SendTaskSuccess/Failure/Heartbeat, and Create/Describe/
Delete/ListActivities with GetActivityTask.

A task token is resolved in one store transaction that deletes it and enqueues its
outcome, so a token is used at most once. GetActivityTask long-polls (up to 60 s, API
Reference) by leasing from the store and waiting briefly between tries.
"""

from __future__ import annotations

import time

from stepwell.engine import events as ev
from stepwell.engine.serialize import MAX_DEPTH, nesting_depth
from stepwell.language.verbatim import parse_sent_json
from stepwell.runtime.clock import to_datetime
from stepwell.runtime.codec import encode_event
from stepwell.service import errors as err
from stepwell.service.arns import check_name, split_arn
from stepwell.service.core import PAYLOAD_LIMIT, Request, Response, ServiceCore, tag_map
from stepwell.service.pages import paginate
from stepwell.store.base import ActivityRecord, TaskToken, WorkItem


class CallbackOperations(ServiceCore):
    def send_task_success(self, request: Request) -> Response:
        token = self._token(request["taskToken"])  # C3: the token is checked before the output
        output = request["output"]
        try:
            value = parse_sent_json(output)  # integers past 64 bits stay exact
        except ValueError:
            raise err.InvalidOutput(f"Invalid Output: '{output}'") from None
        if len(output.encode()) > PAYLOAD_LIMIT:
            raise err.ValidationException("The output exceeds the maximum size of 262144 bytes.")
        if nesting_depth(value) > MAX_DEPTH:  # the one depth limit the runtime can keep
            raise err.InvalidOutput(f"Invalid Output: nested more than {MAX_DEPTH} levels deep")
        self._resolve(request["taskToken"], token, ev.TaskSucceeded(token.frame, token.seq, value))
        return {}

    def send_task_failure(self, request: Request) -> Response:
        error, cause = request.get("error", ""), request.get("cause", "")
        token = self._token(request["taskToken"])
        self._resolve(
            request["taskToken"],
            token,
            ev.TaskFailed(token.frame, token.seq, error or "", cause or ""),
        )
        return {}

    def send_task_heartbeat(self, request: Request) -> Response:
        token = self._token(request["taskToken"])
        beat = ev.TaskHeartbeat(token.frame, token.seq)
        self.store.enqueue(
            WorkItem(token.execution_arn, "event", encode_event(beat), self.clock.now())
        )
        self._wake()
        return {}

    def _token(self, text: str) -> TaskToken:
        if not text or len(text) > 2048:
            raise err.InvalidToken(f"Invalid Token: '{text}'")
        token = self.store.get_task_token(text)
        if token is None:
            raise err.TaskDoesNotExist("Task Does Not Exist")
        return token

    def _resolve(self, text: str, token: TaskToken, event: ev.Event) -> None:
        """Use the token once and apply its outcome at once (the task's outcome is
        applied before the call answers), in one transaction when it can."""
        item = WorkItem(token.execution_arn, "event", encode_event(event), self.clock.now())
        if self._run_now is None:
            if not self.store.resolve_task_token(text, item):
                raise err.TaskDoesNotExist("Task Does Not Exist")
            self._wake()
            return
        resolved, due = self._run_now.resolve_now(text, item)
        if not resolved:
            raise err.TaskDoesNotExist("Task Does Not Exist")
        if due is not None:
            self._wake(due)

    # ----------------------------------------------------------------- activities

    def create_activity(self, request: Request) -> Response:
        """Idempotent by name; different tags are ignored (API Reference, CreateActivity)."""
        name = check_name(request["name"])
        arn = self.arns.activity(name)
        tags = tag_map(request.get("tags"), arn)
        existing = self.store.get_activity(arn)
        if existing is None:
            existing = ActivityRecord(arn, name, self.clock.now(), tags)
            self.store.insert_activity(existing)
        return {"activityArn": arn, "creationDate": to_datetime(existing.creation_date)}

    def describe_activity(self, request: Request) -> Response:
        record = self._activity(request["activityArn"])
        return {
            "activityArn": record.arn,
            "name": record.name,
            "creationDate": to_datetime(record.creation_date),
        }

    def delete_activity(self, request: Request) -> Response:
        split_arn(request["activityArn"], "activity")
        self.store.delete_activity(request["activityArn"])
        return {}

    def list_activities(self, request: Request) -> Response:
        page, token = paginate(self.store.list_activities(), request)
        return {
            "activities": [
                {"activityArn": a.arn, "name": a.name, "creationDate": to_datetime(a.creation_date)}
                for a in page
            ],
            **token,
        }

    def get_activity_task(self, request: Request, wait_seconds: float | None = None) -> Response:
        """Long poll: up to 60 s for a task of this activity (API Reference)."""
        activity = self._activity(request["activityArn"])
        wait = self.activity_long_poll_seconds if wait_seconds is None else wait_seconds
        deadline = time.monotonic() + wait
        while True:
            worker = request.get("workerName", "")
            task = self.store.lease_activity_task(activity.arn, worker)
            if task is not None:
                started = ev.ActivityStarted(task.frame, task.seq, worker)
                self.store.enqueue(
                    WorkItem(task.execution_arn, "event", encode_event(started), self.clock.now())
                )
                self._wake()
                return {"taskToken": task.token, "input": task.input}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {}
            with self._activity_signal:
                self._activity_signal.wait(min(remaining, 0.2))
