"""An embedded EventBridge: rules with event patterns or schedules, their targets, and
``PutEvents`` delivering matching events (Amazon EventBridge API Reference; User Guide,
"Amazon EventBridge events", "Rules", "Event patterns").

Rules live in ``documents("events")``, one JSON document per rule with its targets, so
they survive restarts and every worker process sees them. A rule has an
``EventPattern`` (matched by ``language.event_patterns``) or a ``ScheduleExpression``
(fired by the runtime's schedules, ``runtime.schedules``, which keeps the rule's last
fired tick in the same document). Event buses exist implicitly: ``default`` and any
name a rule or event names.

``PutEvents`` wraps each entry in the event envelope (``version``, ``id``,
``detail-type``, ``source``, ``account``, ``time``, ``region``, ``resources``,
``detail``), answers with one result per entry (``FailedEntryCount`` counts the refused
ones) and delivers the event to the targets of every enabled rule whose pattern matches
it (``events_targets``), after the rules were read and outside their transaction.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final

import orjson

from stepwell.integrations.services.base import (
    Clock,
    Request,
    Response,
    ServiceClient,
    ServiceError,
)
from stepwell.integrations.services.documents import DocumentStore
from stepwell.integrations.services.events_targets import (
    Delivery,
    RuleRef,
    TargetDelivery,
)
from stepwell.language.cron import ScheduleExpressionError, parse_schedule
from stepwell.language.event_input import InvalidTargetInput, check_target_input
from stepwell.language.event_patterns import EventPattern, InvalidEventPattern, parse_pattern

if TYPE_CHECKING:
    from stepwell.integrations.services.sns import SnsClient
    from stepwell.integrations.services.sqs import SqsClient

NAMESPACE: Final = "events"
DEFAULT_BUS: Final = "default"
MAX_TARGETS: Final = 5
# Amazon EventBridge API Reference, PutEvents: 1 to 10 entries, each at most 256 KB.
MAX_PUT_EVENTS_ENTRIES: Final = 10
MAX_ENTRY_BYTES: Final = 256 * 1024
RULES_CACHE_SECONDS: Final = 1.0  # how stale ``listening`` may see other processes' rules
_NOT_READ: Final[tuple[float, list[dict[str, Any]]]] = (float("-inf"), [])  # never returned
_RULE_NAME: Final = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
_STATES: Final = frozenset({"ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"})
_SETTINGS: Final = ("EventPattern", "ScheduleExpression", "Description", "RoleArn")
_RULE_FIELDS: Final = (
    "Name",
    "Arn",
    "EventPattern",
    "ScheduleExpression",
    "State",
    "Description",
    "RoleArn",
    "EventBusName",
)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def iso_time(epoch: float) -> str:
    """EventBridge's event ``time``: ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventsClient(ServiceClient):
    """EventBridge's API over the embedded event buses (``put_events(Entries=[...])``)."""

    service_name: ClassVar[str] = "events"

    def __init__(
        self,
        store: DocumentStore,
        clock: Clock,
        queues: SqsClient,
        topics: SnsClient,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.store = store
        self.clock = clock
        self.region = region
        self.account = account
        self.targets = TargetDelivery(queues, topics)
        self._patterns: dict[str, EventPattern] = {}
        self._cached: dict[str, tuple[float, list[dict[str, Any]]]] = {}  # bus -> (when, rules)
        # Hands an accepted event to whoever delivers it later (a Stepwell's workers,
        # durably); None delivers it at once, in the caller's thread.
        self.dispatch: Callable[[dict[str, Any], str], None] | None = None

    # --- names ------------------------------------------------------------------------------

    def rule_arn(self, name: str, bus: str = DEFAULT_BUS) -> str:
        path = f"rule/{name}" if bus == DEFAULT_BUS else f"rule/{bus}/{name}"
        return f"arn:aws:events:{self.region}:{self.account}:{path}"

    # --- rules ------------------------------------------------------------------------------

    def _put_rule(self, request: Request) -> Response:
        """Create or update a rule; an update keeps its targets (and a schedule's ticks)."""
        name = _rule_name(request.get("Name"))
        bus = _bus(request.get("EventBusName"))
        self._check_rule(request, bus)
        state = str(request.get("State") or "ENABLED")
        settings = {k: str(request[k]) for k in _SETTINGS if request.get(k)}
        now = self.clock()
        with self.store.documents(NAMESPACE) as documents:
            old = _load(documents, bus, name)
            rule = {
                "Name": name,
                "Arn": self.rule_arn(name, bus),
                "EventBusName": bus,
                "State": state,
                "CreatedBy": self.account,
                **settings,
                "targets": old["targets"] if old else [],
                **_ticks(old, settings.get("ScheduleExpression"), state, now),
            }
            self._write(documents, rule)
        return {"RuleArn": rule["Arn"]}

    def _check_rule(self, request: Request, bus: str) -> None:
        pattern = request.get("EventPattern")
        expression = request.get("ScheduleExpression")
        if not pattern and not expression:
            raise validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        if pattern:
            self._pattern(str(pattern))
        if expression:
            if bus != DEFAULT_BUS:
                raise validation("ScheduleExpression is supported only on the default event bus.")
            _check_schedule(str(expression))
        state = str(request.get("State") or "ENABLED")
        if state not in _STATES:
            raise validation(f"Parameter State is not valid: {state}")

    def listening(self, event: Mapping[str, Any], bus: str = DEFAULT_BUS) -> bool:
        """Whether an enabled rule with targets would receive ``event``: a cheap check on a
        recent copy of the rules (this process's changes are seen at once)."""
        rules = self._recent_rules(bus)
        return any(rule["targets"] and self._receives(rule, event) for rule in rules)

    def may_listen(self, bus: str = DEFAULT_BUS) -> bool:
        """Whether any enabled rule with targets and a pattern is on ``bus``: False means
        no event would be received, so a caller need not even build one (``listening``)."""
        rules = self._recent_rules(bus)
        return bool(rules) and any(  # asked at every execution's start and end: no rules, fast
            rule["targets"] and rule.get("EventPattern") and rule["State"] != "DISABLED"
            for rule in rules
        )

    def _recent_rules(self, bus: str) -> list[dict[str, Any]]:
        when, rules = self._cached.get(bus, _NOT_READ)
        if time.monotonic() - when > RULES_CACHE_SECONDS:
            rules = self.rules(bus)
            self._cached[bus] = (time.monotonic(), rules)
        return rules

    def _receives(self, rule: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
        pattern = rule.get("EventPattern")
        if not pattern or rule["State"] == "DISABLED":
            return False
        return self._pattern(str(pattern)).matches(event)

    def _describe_rule(self, request: Request) -> Response:
        rule = self.rule(str(request.get("Name", "")), _bus(request.get("EventBusName")))
        return {k: rule[k] for k in (*_RULE_FIELDS, "CreatedBy") if k in rule}

    def _list_rules(self, request: Request) -> Response:
        bus = _bus(request.get("EventBusName"))
        prefix = str(request.get("NamePrefix") or "")
        rules = [r for r in self.rules(bus) if r["Name"].startswith(prefix)]
        page, token = _page(rules, request, lambda r: str(r["Name"]))
        listed = [{k: r[k] for k in _RULE_FIELDS if k in r} for r in page]
        return {"Rules": listed, **({"NextToken": token} if token else {})}

    def _delete_rule(self, request: Request) -> Response:
        name = str(request.get("Name", ""))
        bus = _bus(request.get("EventBusName"))
        with self.store.documents(NAMESPACE) as documents:
            rule = _load(documents, bus, name)
            if rule is None:
                return {}  # deleting a rule that does not exist succeeds, as on AWS
            if rule["targets"] and not request.get("Force"):
                raise validation("Rule can't be deleted since it has targets.")
            documents.delete(_key(bus, name))
            self._cached.clear()
        return {}

    def _enable_rule(self, request: Request) -> Response:
        return self._set_state(request, "ENABLED")

    def _disable_rule(self, request: Request) -> Response:
        return self._set_state(request, "DISABLED")

    def _set_state(self, request: Request, state: str) -> Response:
        name = str(request.get("Name", ""))
        bus = _bus(request.get("EventBusName"))
        with self.store.documents(NAMESPACE) as documents:
            rule = _required(documents, bus, name)
            resumed = rule["State"] == "DISABLED" and state != "DISABLED"
            if resumed and rule.get("ScheduleExpression"):
                rule["last_tick"] = self.clock()  # ticks missed while disabled are not fired
            rule["State"] = state
            self._write(documents, rule)
        return {}

    # --- targets ----------------------------------------------------------------------------

    def _put_targets(self, request: Request) -> Response:
        name = str(request.get("Rule", ""))
        bus = _bus(request.get("EventBusName"))
        targets = [dict(t) for t in request.get("Targets") or []]
        for target in targets:
            try:
                check_target_input(target)
            except InvalidTargetInput as problem:
                raise validation(str(problem)) from None
        with self.store.documents(NAMESPACE) as documents:
            rule = _required(documents, bus, name)
            by_id = {t["Id"]: t for t in rule["targets"]}
            by_id.update({str(t["Id"]): t for t in targets})
            if len(by_id) > MAX_TARGETS:
                raise ServiceError(
                    "LimitExceededException",
                    f"The requested resource exceeds the maximum number allowed "
                    f"({MAX_TARGETS} targets per rule).",
                )
            rule["targets"] = list(by_id.values())
            self._write(documents, rule)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def _list_targets_by_rule(self, request: Request) -> Response:
        rule = self.rule(str(request.get("Rule", "")), _bus(request.get("EventBusName")))
        page, token = _page(rule["targets"], request, lambda t: str(t["Id"]))
        return {"Targets": page, **({"NextToken": token} if token else {})}

    def _remove_targets(self, request: Request) -> Response:
        name = str(request.get("Rule", ""))
        bus = _bus(request.get("EventBusName"))
        ids = {str(i) for i in request.get("Ids") or []}
        with self.store.documents(NAMESPACE) as documents:
            rule = _required(documents, bus, name)
            rule["targets"] = [t for t in rule["targets"] if t["Id"] not in ids]
            self._write(documents, rule)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def _list_rule_names_by_target(self, request: Request) -> Response:
        arn = str(request.get("TargetArn", ""))
        bus = _bus(request.get("EventBusName"))
        names = [r["Name"] for r in self.rules(bus) if any(t["Arn"] == arn for t in r["targets"])]
        page, token = _page(names, request, str)
        return {"RuleNames": page, **({"NextToken": token} if token else {})}

    # --- events -----------------------------------------------------------------------------

    def _put_events(self, request: Request) -> Response:
        entries = request.get("Entries") or []
        if len(entries) > MAX_PUT_EVENTS_ENTRIES:
            raise validation(
                "1 validation error detected: Value at 'entries' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_PUT_EVENTS_ENTRIES}"
            )
        results: list[dict[str, Any]] = []
        for entry in entries:
            try:
                _check_entry_size(entry)
                event, bus = self.envelope(entry)
            except ServiceError as refused:
                results.append({"ErrorCode": refused.code, "ErrorMessage": refused.message})
                continue
            if self.dispatch is not None:
                self.dispatch(event, bus)
            else:
                self.publish(event, bus)
            results.append({"EventId": event["id"]})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def envelope(self, entry: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        """The event a ``PutEvents`` entry becomes, and its bus; ``ServiceError`` (code
        ``InvalidArgument`` or ``MalformedDetail``) for an entry AWS refuses."""
        for member in ("Source", "DetailType", "Detail"):
            if not entry.get(member):
                raise ServiceError(
                    "InvalidArgument",
                    f"Parameter {member} is not valid. Reason: {member} is a required argument.",
                )
        try:
            detail = orjson.loads(str(entry["Detail"]))
        except orjson.JSONDecodeError:
            detail = None
        if not isinstance(detail, dict):
            raise ServiceError("MalformedDetail", "Detail is malformed.")
        moment = entry.get("Time")
        when = _epoch(moment) if moment is not None else self.clock()
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": str(entry["DetailType"]),
            "source": str(entry["Source"]),
            "account": self.account,
            "time": iso_time(when),
            "region": self.region,
            "resources": [str(r) for r in entry.get("Resources") or []],
            "detail": detail,
        }
        return event, _bus(entry.get("EventBusName"))

    def publish(self, event: Mapping[str, Any], bus: str = DEFAULT_BUS) -> list[Delivery]:
        """Deliver an event to every enabled rule on ``bus`` whose pattern matches it."""
        ingestion = iso_time(self.clock())
        deliveries = []
        for rule in self.matching_rules(event, bus):
            reference = RuleRef(rule["Name"], rule["Arn"])
            for target in rule["targets"]:
                delivery = self.targets.deliver(reference, target, event, ingestion)
                deliveries.append(delivery)
                if delivery.error is not None:
                    self._record_failure(rule, delivery, event)
        return deliveries

    def matching_rules(
        self, event: Mapping[str, Any], bus: str = DEFAULT_BUS
    ) -> list[dict[str, Any]]:
        """The enabled pattern rules on ``bus`` that match ``event``."""
        return [rule for rule in self.rules(bus) if self._receives(rule, event)]

    def _test_event_pattern(self, request: Request) -> Response:
        pattern = self._pattern(str(request.get("EventPattern", "")))
        try:
            event = orjson.loads(str(request.get("Event", "")))
        except orjson.JSONDecodeError:
            event = None
        if not isinstance(event, dict):
            raise validation("Parameter Event is not valid.")
        return {"Result": pattern.matches(event)}

    def _pattern(self, text: str) -> EventPattern:
        compiled = self._patterns.get(text)
        if compiled is None:
            try:
                compiled = parse_pattern(text)
            except InvalidEventPattern as problem:
                raise ServiceError("InvalidEventPatternException", str(problem)) from None
            if len(self._patterns) > 10_000:
                self._patterns.clear()
            self._patterns[text] = compiled
        return compiled

    # --- reading rules ----------------------------------------------------------------------

    def rules(self, bus: str | None = DEFAULT_BUS) -> list[dict[str, Any]]:
        """Every rule on ``bus`` (None: on every bus), by name."""
        prefix = "rule/" if bus is None else f"rule/{bus}/"
        with self.store.documents(NAMESPACE) as documents:
            return [orjson.loads(value) for _, value in documents.scan(prefix)]

    def _write(self, documents: Any, rule: Mapping[str, Any]) -> None:
        documents.put(_key(rule["EventBusName"], rule["Name"]), orjson.dumps(rule))
        self._cached.clear()

    def rule(self, name: str, bus: str = DEFAULT_BUS) -> dict[str, Any]:
        with self.store.documents(NAMESPACE) as documents:
            return _required(documents, bus, name)

    def record_tick(self, name: str, tick: float, mark: str = "last_tick") -> bool:
        """Remember that a schedule rule fired ``tick`` (the runtime's schedules): a
        compare-and-set under the namespace's lock, True only for the one call (of any
        process) that moved ``mark`` forward. ``mark="delivered_tick"`` claims a tick for
        the targets a repeat would reach twice (queues, topics, functions)."""
        with self.store.documents(NAMESPACE) as documents:
            rule = _load(documents, DEFAULT_BUS, name)
            if rule is None or (rule.get(mark) or 0.0) >= tick:
                return False
            rule[mark] = tick
            self._write(documents, rule)
            return True

    def failed_deliveries(self) -> list[dict[str, Any]]:
        """Deliveries that failed (missing state machine, queue, function error), oldest first."""
        with self.store.documents(NAMESPACE) as documents:
            return [orjson.loads(value) for _, value in documents.scan("failed/")]

    def _record_failure(
        self, rule: Mapping[str, Any], delivery: Delivery, event: Mapping[str, Any]
    ) -> None:
        record = {
            "Rule": rule["Arn"],
            "TargetId": delivery.target_id,
            "TargetArn": delivery.arn,
            "EventId": event.get("id"),
            "Error": delivery.error,
            "Time": iso_time(self.clock()),
        }
        with self.store.documents(NAMESPACE) as documents:
            documents.put(f"failed/{self.clock():020.6f}/{uuid.uuid4()}", orjson.dumps(record))


# --- helpers --------------------------------------------------------------------------------


def _rule_name(value: Any) -> str:
    name = str(value or "")
    if not _RULE_NAME.fullmatch(name):
        raise validation(
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        )
    return name


def _bus(value: Any) -> str:
    """A bus name from a name or an ARN (``arn:aws:events:…:event-bus/NAME``)."""
    text = str(value or DEFAULT_BUS)
    return text.rsplit("event-bus/", 1)[-1] if text.startswith("arn:") else text


def _key(bus: str, name: str) -> str:
    return f"rule/{bus}/{name}"


def _load(documents: Any, bus: str, name: str) -> dict[str, Any] | None:
    raw = documents.get(_key(bus, name))
    return None if raw is None else dict(orjson.loads(raw))


def _required(documents: Any, bus: str, name: str) -> dict[str, Any]:
    rule = _load(documents, bus, name)
    if rule is None:
        raise not_found(f"Rule {name} does not exist on EventBus {bus}.")
    return rule


def _check_schedule(expression: str) -> None:
    try:
        parse_schedule(expression)
    except ScheduleExpressionError:
        raise validation("Parameter ScheduleExpression is not valid.") from None


def _ticks(
    old: Mapping[str, Any] | None, expression: Any, state: str, now: float
) -> dict[str, Any]:
    """A schedule's anchor (``created``: rate ticks count from it) and last fired tick.
    The same expression keeps both, so putting a rule again fires nothing twice;
    re-enabling does not fire the ticks missed while disabled."""
    if old is not None and old.get("ScheduleExpression") == expression and expression:
        resumed = state != "DISABLED" and old["State"] == "DISABLED"
        return {
            "created": old["created"],
            "last_tick": now if resumed else old["last_tick"],
            "delivered_tick": old.get("delivered_tick"),
        }
    return {"created": now, "last_tick": None}


def _page(
    items: list[Any], request: Request, key: Callable[[Any], str]
) -> tuple[list[Any], str | None]:
    """One page of ``items`` (sorted by ``key``) after ``NextToken``, and the next token."""
    given = request.get("Limit")
    try:
        limit = 100 if given is None else int(given)
    except (TypeError, ValueError, OverflowError):
        raise validation("The Limit is not valid.") from None
    if limit < 1:
        raise validation("The Limit is not valid.")
    token = request.get("NextToken")
    ordered = sorted(items, key=key)
    if token:
        try:
            after = base64.urlsafe_b64decode(str(token).encode()).decode()
        except ValueError:
            raise validation("The NextToken is not valid.") from None
        ordered = [item for item in ordered if key(item) > after]
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, base64.urlsafe_b64encode(key(page[-1]).encode()).decode() if more else None


def _epoch(moment: Any) -> float:
    """A ``Time`` as epoch seconds; ``InvalidArgument`` for one no date can hold (NaN,
    infinity, beyond year 9999) or that is no time at all."""
    if isinstance(moment, datetime):
        return moment.timestamp()
    try:
        seconds = float(moment)
    except (TypeError, ValueError):
        seconds = None
    try:
        if seconds is None:
            return datetime.fromisoformat(str(moment)).timestamp()
        datetime.fromtimestamp(seconds, UTC)  # refuses NaN, infinity and far-off years
    except (ValueError, OverflowError, OSError):
        raise ServiceError("InvalidArgument", "Parameter Time is not valid.") from None
    return seconds


def _check_entry_size(entry: Mapping[str, Any]) -> None:
    """User Guide, "Calculating PutEvents event entry size": ``Time`` counts 14 bytes;
    ``Source``, ``DetailType``, ``Detail`` and each resource their UTF-8 bytes."""
    size = 14 if entry.get("Time") is not None else 0
    for member in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(member) or "").encode())
    size += sum(len(str(resource).encode()) for resource in entry.get("Resources") or [])
    if size > MAX_ENTRY_BYTES:
        raise ServiceError(
            "InvalidArgument", f"Entry size {size} bytes exceeds the limit of {MAX_ENTRY_BYTES}."
        )


EventsClient.operations = {
    "PutRule": EventsClient._put_rule,
    "DescribeRule": EventsClient._describe_rule,
    "ListRules": EventsClient._list_rules,
    "DeleteRule": EventsClient._delete_rule,
    "EnableRule": EventsClient._enable_rule,
    "DisableRule": EventsClient._disable_rule,
    "PutTargets": EventsClient._put_targets,
    "ListTargetsByRule": EventsClient._list_targets_by_rule,
    "RemoveTargets": EventsClient._remove_targets,
    "ListRuleNamesByTarget": EventsClient._list_rule_names_by_target,
    "PutEvents": EventsClient._put_events,
    "TestEventPattern": EventsClient._test_event_pattern,
}

__all__ = ["DEFAULT_BUS", "NAMESPACE", "EventsClient", "iso_time"]
