"""Malformed requests of every kind get an AWS-shaped 4xx, never a 500.

A seeded generator mixes real and made-up targets, content types, methods and paths
with bodies that are random bytes, broken JSON, or JSON objects whose members (real
member names of the operation, and others) hold values of every JSON type.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from api_helpers import AsgiClient, RecordingService, Reply, asgi_client

from stepwell.api import create_app
from stepwell.api.model import MODEL

OPERATIONS = sorted(MODEL.operations)
ODD_VALUES: list[Any] = [
    None,
    "",
    "x" * 300,
    "y" * 3000,
    "",
    "",
    "é" * 100,
    "\u0000",
    0,
    -1,
    -5,
    10**6,
    2**40,
    2**70,
    1.5,
    -0.0,
    True,
    False,
    [],
    [""],
    ["x" * 200],
    [None],
    [1, "a", {}],
    {},
    {"key": None},
    {"key": "k", "value": 7},
    [[[[]]]],
]


# Issue 9: a 547-byte "billion laughs" YAML document (expands to 9^9 strings).
YAML_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]"
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


def minimal(shape_name: str) -> Any:
    """The smallest valid value of a model shape (required members only)."""
    shape = MODEL.shapes[shape_name]
    kind = shape["type"]
    if kind == "structure":
        return {
            name: minimal(shape["members"][name]["shape"]) for name in shape.get("required", [])
        }
    if kind == "list":
        return [minimal(shape["member"]["shape"]) for _ in range(shape.get("min", 0))]
    if kind == "string":
        return shape["enum"][0] if "enum" in shape else "a" * max(shape.get("min", 1), 1)
    return {"boolean": False}.get(kind, shape.get("min", 0))


def random_members(rng: random.Random, operation: str) -> dict[str, Any]:
    """A valid request with a few members replaced by odd values (or added)."""
    shape_name = MODEL.operation_shape(operation, "input") or ""
    members: dict[str, Any] = minimal(shape_name)
    names = [*MODEL.shapes[shape_name].get("members", {}), "unknownMember", "__type"]
    shape_members = MODEL.shapes[shape_name].get("members", {})
    for _ in range(rng.randint(1, 3)):
        name = rng.choice(names)
        member = shape_members.get(name)
        if member is not None and rng.random() < 0.6:
            members[name] = out_of_bounds(rng, member["shape"])
        else:
            members[name] = rng.choice(ODD_VALUES)
    return members


def out_of_bounds(rng: random.Random, shape_name: str) -> Any:
    """A value of the right JSON type that likely breaks one of the shape's constraints."""
    shape = MODEL.shapes[shape_name]
    kind = shape["type"]
    if kind == "string":
        return rng.choice(["", "NOT_AN_ENUM_VALUE", "z" * (shape.get("max", 64) + 1), "é"])
    if kind in ("integer", "long", "float"):
        return rng.choice([shape.get("min", 0) - 1, shape.get("max", 10**6) + 1, 0])
    if kind == "list":
        item = out_of_bounds(rng, shape["member"]["shape"])
        return rng.choice([[], [item], [item] * (shape.get("max", 3) + 1), [None]])
    if kind == "structure":
        value = minimal(shape_name)
        if shape.get("members"):
            name, member = rng.choice(list(shape["members"].items()))
            value[name] = out_of_bounds(rng, member["shape"])
        return value
    return rng.choice(ODD_VALUES)


def to_json(value: Any) -> bytes:
    return json.dumps(value).encode()  # the stdlib writes integers of any size


def random_body(rng: random.Random, operation: str) -> bytes:
    makers: list[Callable[[], bytes]] = [
        lambda: to_json(random_members(rng, operation)),
        lambda: to_json(random_members(rng, operation)),
        lambda: to_json(random_members(rng, operation)),
        lambda: to_json(random_members(rng, operation))[: rng.randint(0, 20)],
        lambda: rng.randbytes(rng.randint(0, 64)),
        lambda: to_json(rng.choice(ODD_VALUES)),
        lambda: b"[" * 5000,
        lambda: b'{"a": ' * 2000,
        lambda: b"[" * 100_000 + b"]" * 100_000,  # issue 9: nesting 100k deep
        lambda: b'{"maxResults": ' + b"9" * 5000 + b"}",  # issue 9: past 4,300 digits
        lambda: b'{"maxResults": 1e99999}',
        lambda: to_json({"definition": YAML_BOMB, "name": "m", "roleArn": "r"}),
        lambda: b'{"stateMachineArn": "\\ud800"}',
    ]
    return rng.choice(makers)()


def random_target(rng: random.Random, operation: str) -> str:
    return rng.choice(
        [
            f"AWSStepFunctions.{operation}",
            f"AWSStepFunctions.{operation}",
            f"AWSStepFunctions.{operation}",
            f"AWSStepFunctions.{operation}",
            f"AWSStepFunctions.{operation.lower()}",
            "AWSStepFunctions.",
            "AmazonStates.StartExecution",
            "".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(0, 40))),
        ]
    )


def random_request(rng: random.Random, client: AsgiClient) -> tuple[Reply, bool]:
    """Send one random request; return the reply and whether it is surely malformed."""
    operation = rng.choice(OPERATIONS)
    content_type = rng.choice(["application/x-amz-json-1.0"] * 12 + ["text/plain", "", "a/b; x"])
    method, path = rng.choice([("POST", "/")] * 20 + [("GET", "/"), ("POST", "/x"), ("PATCH", "/")])
    target = random_target(rng, operation)
    body = random_body(rng, operation)
    headers = {"content-type": content_type, "x-amz-target": target}
    surely_bad = (method, path) != ("POST", "/") or not content_type.startswith("application/")
    return client.request(method, path, headers, body), surely_bad


def test_hundreds_of_malformed_requests_never_cause_a_500() -> None:
    rng = random.Random(20250301)
    replies: list[tuple[Reply, bool]] = []
    with asgi_client(create_app(RecordingService())) as client:
        replies = [random_request(rng, client) for _ in range(600)]
    statuses = [reply.status for reply, _ in replies]
    assert all(status == 200 or 400 <= status < 500 for status in statuses), sorted(set(statuses))
    assert all(400 <= reply.status < 500 for reply, surely_bad in replies if surely_bad)
    assert sum(400 <= status < 500 for status in statuses) > 450
    for reply, _ in replies:
        assert "x-amzn-requestid" in reply.headers
        if reply.status != 200:
            assert reply.json()["__type"]


def test_type_correct_out_of_bounds_members_are_validation_errors() -> None:
    rng = random.Random(7)
    service = RecordingService()
    types: list[str] = []
    with asgi_client(create_app(service)) as client:
        for _ in range(300):
            operation = rng.choice(OPERATIONS)
            shape_name = MODEL.operation_shape(operation, "input") or ""
            members = minimal(shape_name)
            for name, member in rng.sample(list(MODEL.shapes[shape_name]["members"].items()), 1):
                members[name] = out_of_bounds(rng, member["shape"])
            reply = client.call(operation, body=to_json(members))
            assert reply.status in (200, 400), reply.body
            types.append("OK" if reply.status == 200 else reply.error_type)
    assert set(types) <= {"OK", "ValidationException", "SerializationException"}
    assert types.count("ValidationException") > 150
    assert len(service.calls) == types.count("OK")
