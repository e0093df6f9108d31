"""Versions: PublishStateMachineVersion, ListStateMachineVersions, DeleteStateMachineVersion,
and ``publish`` on Create/UpdateStateMachine (API Reference pages of those operations)."""

from __future__ import annotations

import json

import pytest

from stepwell.service import errors as err
from stepwell.store.base import Store
from tests.service.harness import MACHINES, PASS, Harness

OTHER = {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": 2, "End": True}}}


def test_versions_count_up_and_publishing_a_revision_twice_is_idempotent(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    first = h.publish(arn, description="first")
    assert first == f"{arn}:1"
    assert h.publish(arn) == first  # same revision: the same version
    h.update(arn, OTHER)
    second = h.publish(arn)
    assert second == f"{arn}:2"
    listed = h.call("ListStateMachineVersions", stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [second, first]  # newest first


def test_describe_a_version_shows_its_snapshot(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    version = h.publish(arn, description="the first one")
    h.update(arn, OTHER)
    described = h.call("DescribeStateMachine", stateMachineArn=version)
    assert described["stateMachineArn"] == version
    assert json.loads(described["definition"]) == PASS
    assert described["description"] == "the first one"
    assert json.loads(h.call("DescribeStateMachine", stateMachineArn=arn)["definition"]) == OTHER


def test_an_update_that_changes_nothing_keeps_the_revision(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    assert "revisionId" not in h.update(arn, PASS)  # K1: none until a real update
    revision = h.update(arn, OTHER)["revisionId"]
    assert h.update(arn, OTHER)["revisionId"] == revision
    assert h.update(arn, PASS)["revisionId"] != revision


def test_revision_id_guards_publishing(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    assert h.publish(arn, revisionId="INITIAL") == f"{arn}:1"  # never updated
    revision = h.update(arn, OTHER)["revisionId"]
    with pytest.raises(err.ConflictException):
        h.publish(arn, revisionId="INITIAL")
    with pytest.raises(err.ConflictException):
        h.publish(arn, revisionId="not-the-current-one")
    assert h.publish(arn, revisionId=revision) == f"{arn}:2"


def test_create_and_update_with_publish(store: Store) -> None:
    h = Harness(store)
    created = h.call(
        "CreateStateMachine",
        name="m",
        definition=json.dumps(PASS),
        roleArn="arn:aws:iam::123456789012:role/r",
        publish=True,
        versionDescription="v1",
    )
    arn = created["stateMachineArn"]
    assert created["stateMachineVersionArn"] == f"{arn}:1"
    updated = h.update(arn, OTHER, publish=True)
    assert updated["stateMachineVersionArn"] == f"{arn}:2"
    assert "stateMachineVersionArn" not in h.update(arn, PASS)


@pytest.mark.parametrize("operation", ["CreateStateMachine", "UpdateStateMachine"])
def test_version_description_needs_publish(store: Store, operation: str) -> None:
    h = Harness(store)
    arn = h.machine()
    request = {"definition": json.dumps(OTHER), "versionDescription": "v"}
    if operation == "CreateStateMachine":
        request |= {"name": "other", "roleArn": "arn:aws:iam::123456789012:role/r"}
    else:
        request |= {"stateMachineArn": arn}
    with pytest.raises(err.ValidationException):
        h.service.handle(operation, request)


def test_version_numbers_are_not_reused_after_a_delete(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    h.publish(arn)
    h.update(arn, OTHER)
    second = h.publish(arn)
    h.call("DeleteStateMachineVersion", stateMachineVersionArn=second)
    h.update(arn, PASS | {"Comment": "third"})
    assert h.publish(arn) == f"{arn}:3"
    with pytest.raises(err.StateMachineDoesNotExist):
        h.call("DescribeStateMachine", stateMachineArn=second)


def test_a_version_an_alias_uses_cannot_be_deleted(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    version = h.publish(arn)
    h.call(
        "CreateStateMachineAlias",
        name="live",
        routingConfiguration=[{"stateMachineVersionArn": version, "weight": 100}],
    )
    with pytest.raises(err.ConflictException, match="live"):
        h.call("DeleteStateMachineVersion", stateMachineVersionArn=version)


def test_deleting_a_machine_deletes_its_versions_and_aliases(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    version = h.publish(arn)
    alias = h.call(
        "CreateStateMachineAlias",
        name="live",
        routingConfiguration=[{"stateMachineVersionArn": version, "weight": 100}],
    )["stateMachineAliasArn"]
    h.call("DeleteStateMachine", stateMachineArn=arn)
    with pytest.raises(err.StateMachineDoesNotExist):
        h.call("DescribeStateMachine", stateMachineArn=version)
    with pytest.raises(err.ResourceNotFound):
        h.call("DescribeStateMachineAlias", stateMachineAliasArn=alias)
    h.machine()  # the same name again starts from version 1
    assert h.publish(arn) == f"{arn}:1"


def test_version_listing_pages(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    for n in range(3):
        h.update(arn, PASS | {"Comment": str(n)})
        h.publish(arn)
    page = h.call("ListStateMachineVersions", stateMachineArn=arn, maxResults=2)
    rest = h.call(
        "ListStateMachineVersions", stateMachineArn=arn, maxResults=2, nextToken=page["nextToken"]
    )
    numbers = [v["stateMachineVersionArn"][-1] for v in page["stateMachineVersions"]]
    assert numbers + [v["stateMachineVersionArn"][-1] for v in rest["stateMachineVersions"]] == [
        "3",
        "2",
        "1",
    ]
    assert "nextToken" not in rest


@pytest.mark.parametrize(
    ("operation", "request_", "error"),
    [
        ("PublishStateMachineVersion", {"stateMachineArn": MACHINES + "nope"},
         err.StateMachineDoesNotExist),
        ("PublishStateMachineVersion", {"stateMachineArn": MACHINES + "m:1"},
         err.ValidationException),
        ("PublishStateMachineVersion", {"stateMachineArn": "arn:aws:states:::nope"},
         err.InvalidArn),
        ("DeleteStateMachineVersion", {"stateMachineVersionArn": MACHINES + "m"},
         err.ValidationException),
        ("DeleteStateMachineVersion", {"stateMachineVersionArn": MACHINES + "m/label:1"},
         err.ValidationException),
        ("ListStateMachineVersions", {"stateMachineArn": MACHINES + "m:live"},
         err.ValidationException),
        ("DeleteStateMachine", {"stateMachineArn": MACHINES + "m:1"}, err.ValidationException),
        # K14: a version ARN names no state machine to update
        ("UpdateStateMachine", {"stateMachineArn": MACHINES + "m:1", "definition": "{}"},
         err.StateMachineDoesNotExist),
    ],
)  # fmt: skip
def test_version_errors(
    store: Store, operation: str, request_: dict[str, str], error: type[Exception]
) -> None:
    h = Harness(store)
    h.machine()
    with pytest.raises(error):
        h.service.handle(operation, request_)


def test_deleting_a_missing_version_succeeds(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    assert h.call("DeleteStateMachineVersion", stateMachineVersionArn=f"{arn}:9") == {}
    assert h.call("ListStateMachineVersions", stateMachineArn=MACHINES + "gone") == {
        "stateMachineVersions": []
    }


def test_at_most_1000_versions() -> None:
    from stepwell.store.memory import MemoryStore

    h = Harness(MemoryStore())
    arn = h.machine()
    for n in range(1000):
        h.update(arn, PASS | {"Comment": str(n)})
        h.publish(arn)
    h.update(arn, OTHER)
    with pytest.raises(err.ServiceQuotaExceededException):
        h.publish(arn)


def test_a_deleted_version_keeps_running_its_executions(store: Store) -> None:
    h = Harness(store)
    waiting = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    arn = h.machine(waiting)
    version = h.publish(arn)
    execution = h.start(version)
    h.worker.run_until_idle()
    h.call("DeleteStateMachineVersion", stateMachineVersionArn=version)
    with pytest.raises(err.StateMachineDoesNotExist):
        h.call("DescribeStateMachine", stateMachineArn=version)
    with pytest.raises(err.StateMachineDoesNotExist):
        h.start(version)
    assert h.call("ListStateMachineVersions", stateMachineArn=arn)["stateMachineVersions"] == []
    h.settle()
    assert h.call("DescribeExecution", executionArn=execution)["status"] == "SUCCEEDED"
    for_execution = h.call("DescribeStateMachineForExecution", executionArn=execution)
    assert json.loads(for_execution["definition"]) == waiting
    h.update(arn, PASS)
    assert h.publish(arn) == f"{arn}:2"
