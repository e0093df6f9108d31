"""Tags on state machines and activities: TagResource, UntagResource, ListTagsForResource
(API Reference pages of those operations; 50 tags per resource, "Quotas")."""

from __future__ import annotations

import pytest

from stepwell.service import errors as err
from stepwell.store.base import Store
from tests.service.harness import MACHINES, Harness

ACTIVITY = "arn:aws:states:us-east-1:123456789012:activity:"


def tags(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in pairs]


@pytest.mark.parametrize("kind", ["stateMachine", "activity"])
def test_tag_untag_list(store: Store, kind: str) -> None:
    h = Harness(store)
    if kind == "activity":
        arn = h.call("CreateActivity", name="work", tags=tags(("team", "a")))["activityArn"]
    else:
        arn = h.machine(tags=tags(("team", "a")))
    h.call("TagResource", resourceArn=arn, tags=tags(("env", "prod"), ("team", "b")))
    listed = h.call("ListTagsForResource", resourceArn=arn)["tags"]
    assert sorted((t["key"], t["value"]) for t in listed) == [("env", "prod"), ("team", "b")]
    h.call("UntagResource", resourceArn=arn, tagKeys=["team", "absent"])
    assert h.call("ListTagsForResource", resourceArn=arn)["tags"] == tags(("env", "prod"))


@pytest.mark.parametrize("kind", ["stateMachine", "activity"])
def test_at_most_50_tags(store: Store, kind: str) -> None:
    h = Harness(store)
    arn = (
        h.call("CreateActivity", name="work")["activityArn"] if kind == "activity" else h.machine()
    )
    h.call("TagResource", resourceArn=arn, tags=tags(*((f"k{n}", "v") for n in range(50))))
    with pytest.raises(err.TooManyTags) as raised:
        h.call("TagResource", resourceArn=arn, tags=tags(("one", "more")))
    assert raised.value.resource_name == arn
    h.call("TagResource", resourceArn=arn, tags=tags(("k0", "replaced")))  # still 50


def test_creating_with_too_many_tags(store: Store) -> None:
    h = Harness(store)
    many = tags(*((f"k{n}", "v") for n in range(51)))
    with pytest.raises(err.TooManyTags):
        h.machine(tags=many)
    with pytest.raises(err.TooManyTags):
        h.call("CreateActivity", name="work", tags=many)


@pytest.mark.parametrize(
    ("operation", "request_", "error"),
    [
        ("ListTagsForResource", {"resourceArn": MACHINES + "gone"}, err.ResourceNotFound),
        ("ListTagsForResource", {"resourceArn": ACTIVITY + "gone"}, err.ResourceNotFound),
        ("TagResource", {"resourceArn": MACHINES + "gone", "tags": tags(("a", "b"))},
         err.ResourceNotFound),
        ("UntagResource", {"resourceArn": ACTIVITY + "gone", "tagKeys": ["a"]},
         err.ResourceNotFound),
        ("ListTagsForResource", {"resourceArn": "arn:aws:states:::nothing"}, err.InvalidArn),
        # K15: a version has no tags of its own
        ("ListTagsForResource", {"resourceArn": MACHINES + "m:1"}, err.ResourceNotFound),
        ("TagResource", {"resourceArn": MACHINES + "m", "tags": tags(("bad*key", "v"))},
         err.ValidationException),
    ],
)  # fmt: skip
def test_tag_errors(
    store: Store, operation: str, request_: dict[str, object], error: type[Exception]
) -> None:
    h = Harness(store)
    h.machine()
    with pytest.raises(error):
        h.service.handle(operation, request_)


def test_tags_allow_unicode_letters_and_the_listed_symbols(store: Store) -> None:
    h = Harness(store)
    arn = h.machine()
    h.call("TagResource", resourceArn=arn, tags=tags(("Ünïcode key_.:/=+-@", "a b")))
    assert h.call("ListTagsForResource", resourceArn=arn)["tags"][0]["value"] == "a b"
