"""Aliases: Create/Describe/Update/Delete/ListStateMachineAlias(es), and executions started
through an alias (API Reference pages of those operations and of StartExecution)."""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.service import errors as err
from stepwell.store.base import Store
from tests.service.harness import MACHINES, Draws, Harness

OTHER = {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": 2, "End": True}}}


def two_versions(h: Harness, name: str = "m") -> tuple[str, str, str]:
    arn = h.machine(name=name)
    first = h.publish(arn)
    h.update(arn, OTHER)
    return arn, first, h.publish(arn)


def routes(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"stateMachineVersionArn": arn, "weight": weight} for arn, weight in pairs]


def test_alias_lifecycle(store: Store) -> None:
    h = Harness(store)
    arn, first, second = two_versions(h)
    created = h.call(
        "CreateStateMachineAlias",
        name="live",
        description="production",
        routingConfiguration=routes((first, 100)),
    )
    alias = created["stateMachineAliasArn"]
    assert alias == f"{arn}:live"
    described = h.call("DescribeStateMachineAlias", stateMachineAliasArn=alias)
    assert described["name"] == "live"
    assert described["description"] == "production"
    assert described["routingConfiguration"] == routes((first, 100))
    assert described["creationDate"] == described["updateDate"] == created["creationDate"]
    h.clock.advance(60)
    updated = h.call(
        "UpdateStateMachineAlias",
        stateMachineAliasArn=alias,
        routingConfiguration=routes((first, 10), (second, 90)),
    )
    described = h.call("DescribeStateMachineAlias", stateMachineAliasArn=alias)
    assert described["updateDate"] == updated["updateDate"] != described["creationDate"]
    assert described["description"] == "production"  # unchanged
    assert len(described["routingConfiguration"]) == 2
    h.call("DeleteStateMachineAlias", stateMachineAliasArn=alias)
    with pytest.raises(err.ResourceNotFound) as missing:
        h.call("DescribeStateMachineAlias", stateMachineAliasArn=alias)
    assert missing.value.resource_name == alias


def test_creating_an_alias_is_idempotent_and_conflicts_when_different(store: Store) -> None:
    h = Harness(store)
    _, first, second = two_versions(h)
    request = {"name": "live", "routingConfiguration": routes((first, 100))}
    once = h.service.handle("CreateStateMachineAlias", dict(request))
    h.clock.advance(5)
    assert h.service.handle("CreateStateMachineAlias", dict(request)) == once
    with pytest.raises(err.ConflictException):
        h.call("CreateStateMachineAlias", name="live", routingConfiguration=routes((second, 100)))


def test_listing_aliases_of_a_machine_and_of_a_version(store: Store) -> None:
    h = Harness(store)
    arn, first, second = two_versions(h)
    h.call("CreateStateMachineAlias", name="old", routingConfiguration=routes((first, 100)))
    h.clock.advance(1)
    h.call(
        "CreateStateMachineAlias",
        name="canary",
        routingConfiguration=routes((first, 50), (second, 50)),
    )
    h.clock.advance(1)
    h.call("CreateStateMachineAlias", name="new", routingConfiguration=routes((second, 100)))
    listed = h.call("ListStateMachineAliases", stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"].rpartition(":")[2] for a in listed] == [
        "new",
        "canary",
        "old",
    ]
    of_first = h.call("ListStateMachineAliases", stateMachineArn=first)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"].rpartition(":")[2] for a in of_first] == ["canary", "old"]


@pytest.mark.parametrize(
    ("make_routes", "error", "reason"),
    [
        (lambda a, b, c: routes((a, 60), (b, 30)), err.ValidationException,
         "INVALID_ROUTING_CONFIGURATION"),
        (lambda a, b, c: routes((a, 50), (a, 50)), err.ValidationException,
         "INVALID_ROUTING_CONFIGURATION"),
        (lambda a, b, c: routes((a, 50), (c, 50)), err.ValidationException,
         "INVALID_ROUTING_CONFIGURATION"),
        (lambda a, b, c: routes((MACHINES + "m", 100)), err.ValidationException,
         "INVALID_ROUTING_CONFIGURATION"),
        (lambda a, b, c: routes((a, 40), (b, 30), (a, 30)), err.ValidationException,
         "INVALID_ROUTING_CONFIGURATION"),
        (lambda a, b, c: routes((MACHINES + "m:7", 100)), err.ResourceNotFound, None),
    ],
)  # fmt: skip
def test_routing_configuration_is_checked(
    store: Store, make_routes: Any, error: type[err.ServiceError], reason: str | None
) -> None:
    h = Harness(store)
    _, first, second = two_versions(h)
    other = two_versions(h, "other")[1]
    with pytest.raises(error) as raised:
        h.call(
            "CreateStateMachineAlias",
            name="live",
            routingConfiguration=make_routes(first, second, other),
        )
    assert getattr(raised.value, "reason", None) == reason


@pytest.mark.parametrize("name", ["123", "bad name", "a:b"])
def test_alias_names_are_checked(store: Store, name: str) -> None:
    h = Harness(store)
    _, first, _ = two_versions(h)
    with pytest.raises(err.InvalidName):
        h.call("CreateStateMachineAlias", name=name, routingConfiguration=routes((first, 100)))


@pytest.mark.parametrize(
    ("operation", "request_", "error"),
    [
        ("DescribeStateMachineAlias", {"stateMachineAliasArn": MACHINES + "m:nope"},
         err.ResourceNotFound),
        ("DescribeStateMachineAlias", {"stateMachineAliasArn": MACHINES + "m:1"},
         err.ValidationException),
        ("DeleteStateMachineAlias", {"stateMachineAliasArn": MACHINES + "m:nope"},
         err.ResourceNotFound),
        ("UpdateStateMachineAlias", {"stateMachineAliasArn": MACHINES + "m:nope",
                                     "description": "x"}, err.ResourceNotFound),
        ("UpdateStateMachineAlias", {"stateMachineAliasArn": MACHINES + "m:nope"},
         err.ValidationException),
        ("ListStateMachineAliases", {"stateMachineArn": MACHINES + "gone"},
         err.StateMachineDoesNotExist),
        ("ListStateMachineAliases", {"stateMachineArn": MACHINES + "m:9"}, err.ResourceNotFound),
        ("StartExecution", {"stateMachineArn": MACHINES + "m:nope"}, err.StateMachineDoesNotExist),
        ("StartExecution", {"stateMachineArn": MACHINES + "m:9"}, err.StateMachineDoesNotExist),
    ],
)  # fmt: skip
def test_alias_errors(
    store: Store, operation: str, request_: dict[str, str], error: type[Exception]
) -> None:
    h = Harness(store)
    h.machine()
    with pytest.raises(error):
        h.service.handle(operation, request_)


def test_an_alias_routes_executions_by_weight(store: Store) -> None:
    h = Harness(store, routing=Draws(0.05, 0.25, 0.99))
    arn, first, second = two_versions(h)
    alias = h.call(
        "CreateStateMachineAlias",
        name="canary",
        routingConfiguration=routes((first, 20), (second, 80)),
    )["stateMachineAliasArn"]
    ran = [h.run(alias, name=f"e{n}") for n in range(3)]
    assert [r["stateMachineVersionArn"] for r in ran] == [first, second, second]
    assert [r["output"] for r in ran] == ["{}", "2", "2"]
    assert all(r["stateMachineAliasArn"] == alias for r in ran)
    assert all(r["stateMachineArn"] == arn for r in ran)
    started = h.history(ran[0]["executionArn"])[0]["executionStartedEventDetails"]
    assert started["stateMachineAliasArn"] == alias
    assert started["stateMachineVersionArn"] == first


def test_a_version_runs_its_own_definition(store: Store) -> None:
    h = Harness(store)
    arn, first, _ = two_versions(h)
    by_version = h.run(first, name="v")
    assert by_version["output"] == "{}"
    assert by_version["stateMachineVersionArn"] == first
    assert "stateMachineAliasArn" not in by_version
    latest = h.run(arn, name="latest")
    assert latest["output"] == "2"
    assert "stateMachineVersionArn" not in latest
    for_execution = h.call(
        "DescribeStateMachineForExecution", executionArn=by_version["executionArn"]
    )
    assert (
        for_execution["definition"]
        == h.call("DescribeStateMachine", stateMachineArn=first)["definition"]
    )
    assert for_execution["stateMachineArn"] == arn


def test_list_executions_by_version_and_alias(store: Store) -> None:
    h = Harness(store, routing=Draws(0.1))
    arn, first, second = two_versions(h)
    alias = h.call(
        "CreateStateMachineAlias", name="live", routingConfiguration=routes((second, 100))
    )["stateMachineAliasArn"]
    h.run(first, name="a")
    h.run(second, name="b")
    h.run(alias, name="c")
    h.run(arn, name="d")

    def names(machine: str) -> list[str]:
        return sorted(
            e["name"] for e in h.call("ListExecutions", stateMachineArn=machine)["executions"]
        )

    assert names(arn) == ["a", "b", "c", "d"]
    assert names(first) == ["a"]
    assert names(second) == ["b", "c"]
    assert names(alias) == ["c"]
    item = h.call("ListExecutions", stateMachineArn=alias)["executions"][0]
    assert (item["stateMachineAliasArn"], item["stateMachineVersionArn"]) == (alias, second)
