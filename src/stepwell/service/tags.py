"""Tags: TagResource, UntagResource, ListTagsForResource, for state machines and
activities.

Tags live on the resource's record, so they go when it goes. A resource has at most 50
tags (TooManyTags past that); keys and values may hold "Unicode letters, digits, white
space, or these symbols: _ . : / = + - @" (API Reference, TagResource).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from stepwell.service import errors as err
from stepwell.service.arns import parse_machine_arn, split_arn
from stepwell.service.core import Request, Response, ServiceCore, check_tag_count, tag_pairs

_TAG_SYMBOLS = frozenset("_.:/=+-@")

Tags = dict[str, str]


class TagOperations(ServiceCore):
    def tag_resource(self, request: Request) -> Response:
        arn = request["resourceArn"]
        added = tag_pairs(request["tags"])
        for text in (*added, *added.values()):
            _check_tag_text(text)
        self._change_tags(arn, lambda tags: {**tags, **added})
        return {}

    def untag_resource(self, request: Request) -> Response:
        removed = set(request["tagKeys"])
        self._change_tags(
            request["resourceArn"],
            lambda tags: {k: v for k, v in tags.items() if k not in removed},
        )
        return {}

    def list_tags_for_resource(self, request: Request) -> Response:
        tags = self._tags(request["resourceArn"])
        return {"tags": [{"key": key, "value": value} for key, value in tags.items()]}

    # ----------------------------------------------------------------- records

    def _tags(self, arn: str) -> Tags:
        if _resource_type(arn) == "activity":
            activity = self.store.get_activity(arn)
            if activity is None:
                raise _not_found(arn)
            return dict(activity.tags)
        machine = self.store.get_state_machine(arn)
        if machine is None:
            raise _not_found(arn)
        return dict(machine.tags)

    def _change_tags(self, arn: str, change: Callable[[Tags], Tags]) -> None:
        if _resource_type(arn) == "activity":
            activity = self.store.get_activity(arn)
            if activity is None:
                raise _not_found(arn)
            tags = change(dict(activity.tags))
            check_tag_count(tags, arn)
            self.store.replace_activity(replace(activity, tags=tags))
            return
        machine = self.store.get_state_machine(arn)
        if machine is None:
            raise _not_found(arn)
        tags = change(dict(machine.tags))
        check_tag_count(tags, arn)
        self.store.replace_state_machine(replace(machine, tags=tags))


def _resource_type(arn: str) -> str:
    """``stateMachine`` (unqualified: versions and aliases carry no tags) or ``activity``."""
    parts = arn.split(":")
    if len(parts) > 5 and parts[5] == "activity":
        split_arn(arn, "activity")
        return "activity"
    if parse_machine_arn(arn).qualifier is not None:
        raise _not_found(arn)  # K15: a version or alias has no tags of its own
    return "stateMachine"


def _check_tag_text(text: str) -> None:
    if not all(c.isalnum() or c.isspace() or c in _TAG_SYMBOLS for c in text):
        raise err.ValidationException(
            f"Tags may only contain Unicode letters, digits, white space, or these symbols: "
            f"_ . : / = + - @; got '{text}'"
        )


def _not_found(arn: str) -> err.ResourceNotFound:
    return err.ResourceNotFound(f"Resource not found: '{arn}'", resource_name=arn)
