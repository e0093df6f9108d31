"""State machine aliases: Create/Describe/Update/Delete/ListStateMachineAlias(es), and
which version an execution started through an alias runs.

An alias names one or two versions of the same state machine with weights that add up
to 100 (API Reference, CreateStateMachineAlias, RoutingConfigListItem). Aliases live in
the ``aliases`` document namespace keyed by alias ARN, so listing a machine's aliases is
a prefix scan, and each change is one exclusive transaction. Create and Update are
idempotent for identical requests; a different request for an existing name is a
ConflictException. The weighted choice draws from ``ServiceCore.routing``, a random
source the caller can seed, so tests are deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from stepwell.runtime.clock import to_datetime
from stepwell.service import errors as err
from stepwell.service.arns import MachineArn, check_name, parse_machine_arn
from stepwell.service.core import Request, Response, present
from stepwell.service.pages import paginate
from stepwell.service.versions import ALIASES, VersionOperations
from stepwell.store.base import StateMachineRecord

MAX_ALIASES = 100  # per state machine (API Reference, CreateStateMachineAlias)
# The model's CharacterRestrictedName: letters, digits, "_", "-", "." and not only digits
# (so that an alias ARN can never be mistaken for a version ARN).
_ALIAS_NAME = re.compile(r"(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]{1,80}")
Route = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StartTarget:
    """What StartExecution runs: the machine (or version) record and how it was named."""

    machine: StateMachineRecord  # the record whose definition runs
    machine_arn: str  # the state machine's own (unqualified) ARN
    machine_name: str
    version_arn: str | None = None
    alias_arn: str | None = None


class AliasOperations(VersionOperations):
    def create_state_machine_alias(self, request: Request) -> Response:
        name = _alias_name(request["name"])
        routes = self._checked_routes(request["routingConfiguration"])
        machine_arn = parse_machine_arn(routes[0]["stateMachineVersionArn"]).machine_arn
        arn = self.arns.alias(machine_arn, name)
        description = request.get("description")
        now = self.clock.now()
        with self.store.documents(ALIASES) as documents:
            existing = documents.get(arn)
            if existing is not None:
                alias = orjson.loads(existing)
                if alias.get("description") != description or not _same_routes(
                    alias["routingConfiguration"], routes
                ):
                    raise err.ConflictException(
                        f"Failed to create alias because an alias with the same name and a "
                        f"different routing configuration already exists: '{arn}'"
                    )
                return {"stateMachineAliasArn": arn, "creationDate": to_datetime(alias["created"])}
            if len(documents.scan(f"{machine_arn}:")) >= MAX_ALIASES:
                raise err.ServiceQuotaExceededException(
                    f"The state machine '{machine_arn}' already has {MAX_ALIASES} aliases."
                )
            alias = present(
                name=name, description=description, routingConfiguration=routes, created=now
            )
            documents.put(arn, orjson.dumps({**alias, "updated": now}))
        return {"stateMachineAliasArn": arn, "creationDate": to_datetime(now)}

    def describe_state_machine_alias(self, request: Request) -> Response:
        arn = request["stateMachineAliasArn"]
        alias = self._alias(arn)
        return present(
            stateMachineAliasArn=arn,
            name=alias["name"],
            description=alias.get("description"),
            routingConfiguration=alias["routingConfiguration"],
            creationDate=to_datetime(alias["created"]),
            updateDate=to_datetime(alias["updated"]),
        )

    def update_state_machine_alias(self, request: Request) -> Response:
        arn = request["stateMachineAliasArn"]
        if "description" not in request and "routingConfiguration" not in request:
            raise err.ValidationException(
                "Either the description or the RoutingConfiguration must be specified",
                reason="MISSING_REQUIRED_PARAMETER",
            )
        parsed = _alias_arn(arn)
        routes = None
        if "routingConfiguration" in request:
            routes = self._checked_routes(request["routingConfiguration"], parsed.machine_arn)
        now = self.clock.now()
        with self.store.documents(ALIASES) as documents:
            stored = documents.get(arn)
            if stored is None:
                raise _alias_not_found(arn)
            alias = orjson.loads(stored)
            if routes is not None:
                alias["routingConfiguration"] = routes
            if "description" in request:
                alias["description"] = request["description"]
            alias["updated"] = now
            documents.put(arn, orjson.dumps(alias))
        return {"updateDate": to_datetime(now)}

    def delete_state_machine_alias(self, request: Request) -> Response:
        arn = request["stateMachineAliasArn"]
        _alias_arn(arn)
        with self.store.documents(ALIASES) as documents:
            if documents.get(arn) is None:
                raise _alias_not_found(arn)
            documents.delete(arn)
        return {}

    def list_state_machine_aliases(self, request: Request) -> Response:
        """Aliases of a machine, or (given a version ARN) those routing to that version;
        newest first (API Reference, ListStateMachineAliases)."""
        parsed = parse_machine_arn(request["stateMachineArn"])
        if parsed.alias is not None:
            raise err.ValidationException(
                f"Expected a state machine or version ARN, got '{parsed.arn}'"
            )
        if self._live_machine(parsed.arn) is None:
            if parsed.version is not None:
                raise err.ResourceNotFound(
                    f"Resource not found: '{parsed.arn}'", resource_name=parsed.arn
                )
            raise err.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{parsed.arn}'")
        with self.store.documents(ALIASES) as documents:
            found = [
                (arn, orjson.loads(value))
                for arn, value in documents.scan(f"{parsed.machine_arn}:")
            ]
        if parsed.version is not None:
            found = _routing_to(found, parsed.arn)
        found.sort(key=lambda item: -item[1]["created"])
        page, token = paginate(found, request)
        return {
            "stateMachineAliases": [
                {"stateMachineAliasArn": arn, "creationDate": to_datetime(alias["created"])}
                for arn, alias in page
            ],
            **token,
        }

    # ----------------------------------------------------------------- StartExecution

    def _start_target(self, arn: str) -> StartTarget:
        """Resolve StartExecution's ``stateMachineArn``: the machine, a version, or an
        alias (which picks one of its versions by weight)."""
        parsed = parse_machine_arn(arn)
        alias_arn = None
        if parsed.alias is not None:
            alias_arn = arn
            alias = self._alias_for_start(arn)
            arn = self._pick_version(alias["routingConfiguration"])
        record = self._machine(arn)
        return StartTarget(
            machine=record,
            machine_arn=parsed.machine_arn,
            machine_name=parsed.name,
            version_arn=arn if record.version_of is not None else None,
            alias_arn=alias_arn,
        )

    def _alias_for_start(self, arn: str) -> dict[str, Any]:
        with self.store.documents(ALIASES) as documents:
            stored = documents.get(arn)
        if stored is None:
            raise err.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        alias: dict[str, Any] = orjson.loads(stored)
        return alias

    def _pick_version(self, routes: list[Route]) -> str:
        """Each version with probability weight/100 ("Step Functions randomly chooses
        which version runs a given execution based on the percentage you specify")."""
        draw = self.routing.random() * 100
        total = 0
        for route in routes:
            total += route["weight"]
            if draw < total:
                return str(route["stateMachineVersionArn"])
        return str(next(r for r in reversed(routes) if r["weight"] > 0)["stateMachineVersionArn"])

    # ----------------------------------------------------------------- checks

    def _alias(self, arn: str) -> dict[str, Any]:
        _alias_arn(arn)
        with self.store.documents(ALIASES) as documents:
            stored = documents.get(arn)
        if stored is None:
            raise _alias_not_found(arn)
        alias: dict[str, Any] = orjson.loads(stored)
        return alias

    def _checked_routes(self, routes: list[Route], machine_arn: str | None = None) -> list[Route]:
        """1 or 2 distinct versions of one state machine, existing, weights summing to 100
        (API Reference, RoutingConfigListItem)."""
        if not 1 <= len(routes) <= 2:
            raise _routing_error("The routing configuration must name one or two versions.")
        versions = [parse_machine_arn(r["stateMachineVersionArn"]) for r in routes]
        if any(v.version is None for v in versions):
            raise _routing_error("Every routing configuration must name a state machine version.")
        if len({v.arn for v in versions}) != len(versions):
            raise _routing_error("The routing configuration names the same version twice.")
        machines = {v.machine_arn for v in versions} | ({machine_arn} if machine_arn else set())
        if len(machines) != 1:
            raise _routing_error("All versions must belong to the same state machine.")
        if sum(r["weight"] for r in routes) != 100:
            raise _routing_error("The weights of the routing configuration must add up to 100.")
        for version in versions:
            if self._live_machine(version.arn) is None:
                raise err.ResourceNotFound(
                    f"Resource not found: '{version.arn}'", resource_name=version.arn
                )
        return [
            {"stateMachineVersionArn": r["stateMachineVersionArn"], "weight": r["weight"]}
            for r in routes
        ]


def _routing_to(
    aliases: list[tuple[str, dict[str, Any]]], version_arn: str
) -> list[tuple[str, dict[str, Any]]]:
    return [
        (arn, alias)
        for arn, alias in aliases
        if any(r["stateMachineVersionArn"] == version_arn for r in alias["routingConfiguration"])
    ]


def _alias_name(name: str) -> str:
    check_name(name)
    if not _ALIAS_NAME.fullmatch(name):
        raise err.InvalidName(f"Invalid Name: '{name}'")
    return name


def _alias_arn(arn: str) -> MachineArn:
    parsed = parse_machine_arn(arn)
    if parsed.alias is None:
        raise err.ValidationException(f"Expected a state machine alias ARN, got '{arn}'")
    return parsed


def _alias_not_found(arn: str) -> err.ResourceNotFound:
    return err.ResourceNotFound(f"Resource not found: '{arn}'", resource_name=arn)


def _routing_error(message: str) -> err.ValidationException:
    return err.ValidationException(message, reason="INVALID_ROUTING_CONFIGURATION")


def _same_routes(first: list[Route], second: list[Route]) -> bool:
    def key(routes: list[Route]) -> set[tuple[str, int]]:
        return {(r["stateMachineVersionArn"], r["weight"]) for r in routes}

    return key(first) == key(second)
