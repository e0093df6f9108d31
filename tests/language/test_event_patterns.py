"""EventBridge event-pattern matching, table-driven from the Amazon EventBridge User Guide:

* CF: "Content filtering in Amazon EventBridge event patterns"
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html)
* OP: "Comparison operators for use in event patterns in Amazon EventBridge"
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html)
* NV: "Matching events on null values and empty strings in Amazon EventBridge"
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html)
* EP: "Creating Amazon EventBridge event patterns" and "Event patterns with arrays"
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html)
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepwell.language.event_patterns import InvalidEventPattern, parse_pattern

# EP: the EC2 example event of "Creating Amazon EventBridge event patterns", extended.
EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": [
        "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0",
        "arn:aws:ec2:us-west-1:123456789012:volume/vol-1",
    ],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 3.0,
        "x-limit": 301.8,
        "source-ip": "10.0.0.123",
        "FilePath": "/usr/lib/python/main.PNG",
        "Region": "us-east-1",
        "eventVersion": "",
        "responseElements": None,
        "tags": ["blue", "prod"],
        "items": [{"id": "a", "size": 1}, {"id": "b", "size": 9}],
        "location": {"city": "Seattle", "zip": "98101"},
        "empty-list": [],
        "flag": True,
    },
}

MATCHING: list[tuple[str, dict[str, Any]]] = [
    # EP: fields named must match, others are ignored; nested detail fields.
    ("EP exact", {"source": ["aws.ec2"], "detail": {"state": ["terminated"]}}),
    ("EP array is OR", {"detail": {"state": ["running", "terminated"]}}),
    ("EP nested object", {"detail": {"location": {"city": ["Seattle"]}}}),
    (
        "EP event array intersects",
        {"resources": ["arn:aws:ec2:us-west-1:123456789012:volume/vol-1"]},
    ),
    ("EP array of strings in detail", {"detail": {"tags": ["prod"]}}),
    ("EP array of objects", {"detail": {"items": {"id": ["b"], "size": [9]}}}),
    ("EP number literal", {"detail": {"c-count": [5]}}),
    ("EP numbers compare numerically", {"detail": {"d-count": [3]}}),
    ("EP boolean literal", {"detail": {"flag": [True]}}),
    ("NV empty string", {"detail": {"eventVersion": [""]}}),
    ("NV null", {"detail": {"responseElements": [None]}}),
    ("CF prefix", {"time": [{"prefix": "2017-12-22"}]}),
    ("CF prefix ignore case", {"detail": {"Region": [{"prefix": {"equals-ignore-case": "US-"}}]}}),
    ("CF suffix", {"detail": {"FilePath": [{"suffix": ".PNG"}]}}),
    (
        "CF suffix ignore case",
        {"detail": {"FilePath": [{"suffix": {"equals-ignore-case": ".png"}}]}},
    ),
    ("CF equals-ignore-case", {"detail": {"state": [{"equals-ignore-case": "TERMINATED"}]}}),
    ("CF anything-but value", {"detail": {"state": [{"anything-but": "initializing"}]}}),
    ("CF anything-but list", {"detail": {"state": [{"anything-but": ["stopped", "running"]}]}}),
    ("CF anything-but number", {"detail": {"c-count": [{"anything-but": [1, 2]}]}}),
    ("CF anything-but prefix", {"detail": {"Region": [{"anything-but": {"prefix": "eu-"}}]}}),
    ("CF anything-but suffix", {"detail": {"FilePath": [{"anything-but": {"suffix": ".txt"}}]}}),
    (
        "OP anything-but ignore case",
        {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Running", "STOPPED"]}}]}},
    ),
    (
        "OP anything-but wildcard",
        {"detail": {"Region": [{"anything-but": {"wildcard": "*-west-*"}}]}},
    ),
    ("CF numeric range", {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}),
    ("CF numeric equals", {"detail": {"x-limit": [{"numeric": ["=", 301.8]}]}}),
    ("CF numeric open", {"detail": {"x-limit": [{"numeric": [">=", 301.8]}]}}),
    ("CF cidr", {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}),
    ("CF exists true", {"detail": {"state": [{"exists": True}]}}),
    ("CF exists false", {"detail": {"no-such-field": [{"exists": False}]}}),
    ("CF exists false on an empty array", {"detail": {"empty-list": [{"exists": False}]}}),
    ("CF wildcard", {"detail": {"FilePath": [{"wildcard": "/usr/*/main.*"}]}}),
    ("CF wildcard at the end", {"source": [{"wildcard": "aws.*"}]}),
    ("CF $or", {"$or": [{"source": ["aws.s3"]}, {"detail": {"c-count": [{"numeric": [">", 4]}]}}]}),
    (
        "CF $or nested in detail",
        {"detail": {"$or": [{"state": ["nope"]}, {"location": {"zip": [{"prefix": "98"}]}}]}},
    ),
    ("CF several conditions are OR", {"detail": {"state": [{"prefix": "x"}, {"suffix": "ated"}]}}),
]

NOT_MATCHING: list[tuple[str, dict[str, Any]]] = [
    ("EP exact is case-sensitive", {"detail": {"state": ["Terminated"]}}),
    ("EP all fields must match", {"source": ["aws.ec2"], "detail": {"state": ["running"]}}),
    ("EP missing field", {"detail": {"no-such-field": ["x"]}}),
    ("EP string does not match a number", {"detail": {"c-count": ["5"]}}),
    (
        "EP objects in an array match within one element",
        {"detail": {"items": {"id": ["a"], "size": [9]}}},
    ),
    ("NV empty string is not null", {"detail": {"responseElements": [""]}}),
    ("NV null is not empty string", {"detail": {"eventVersion": [None]}}),
    ("CF prefix", {"source": [{"prefix": "aws.s3"}]}),
    ("CF suffix is case-sensitive", {"detail": {"FilePath": [{"suffix": ".png"}]}}),
    ("CF anything-but excluded", {"detail": {"state": [{"anything-but": "terminated"}]}}),
    ("CF anything-but missing field", {"detail": {"no-such-field": [{"anything-but": "x"}]}}),
    (
        "CF anything-but prefix excluded",
        {"detail": {"Region": [{"anything-but": {"prefix": "us-"}}]}},
    ),
    ("CF numeric out of range", {"detail": {"c-count": [{"numeric": [">", 5, "<", 10]}]}}),
    ("CF numeric on a string", {"detail": {"state": [{"numeric": [">", 0]}]}}),
    ("CF cidr outside", {"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}),
    ("CF exists true on a missing field", {"detail": {"nope": [{"exists": True}]}}),
    ("CF exists false on a present field", {"detail": {"state": [{"exists": False}]}}),
    ("CF exists on an object (not a leaf)", {"detail": {"location": [{"exists": True}]}}),
    ("CF wildcard", {"detail": {"FilePath": [{"wildcard": "/usr/*/other.*"}]}}),
    ("CF $or none", {"$or": [{"source": ["aws.s3"]}, {"detail": {"state": ["running"]}}]}),
    (
        "OP anything-but wildcard excluded",
        {"detail": {"Region": [{"anything-but": {"wildcard": "us-*"}}]}},
    ),
]


@pytest.mark.parametrize(("rule", "pattern"), MATCHING, ids=[c[0] for c in MATCHING])
def test_patterns_that_match(rule: str, pattern: dict[str, Any]) -> None:
    assert parse_pattern(json.dumps(pattern)).matches(EVENT)


@pytest.mark.parametrize(("rule", "pattern"), NOT_MATCHING, ids=[c[0] for c in NOT_MATCHING])
def test_patterns_that_do_not_match(rule: str, pattern: dict[str, Any]) -> None:
    assert not parse_pattern(json.dumps(pattern)).matches(EVENT)


def test_a_wildcard_can_match_a_literal_star() -> None:
    # CF, "Wildcard matching": a backslash escapes the star.
    pattern = parse_pattern(json.dumps({"name": [{"wildcard": "a\\*b*"}]}))
    assert pattern.matches({"name": "a*bcd"})
    assert not pattern.matches({"name": "axbcd"})


def test_the_step_functions_failed_execution_pattern() -> None:
    # Step Functions Developer Guide, "Automating Step Functions event delivery with EventBridge".
    pattern = parse_pattern('{"source": ["aws.states"], "detail": {"status": ["FAILED"]}}')
    event = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change"}
    assert pattern.matches({**event, "detail": {"status": "FAILED"}})
    assert not pattern.matches({**event, "detail": {"status": "SUCCEEDED"}})


INVALID: list[tuple[str, str]] = [
    ("not JSON", "{"),
    ("not an object", "[1]"),
    ("empty", "{}"),
    ("leaf is not an array", '{"source": "aws.ec2"}'),
    ("empty nested object", '{"detail": {}}'),
    ("unknown operator", '{"a": [{"contains": "x"}]}'),
    ("two keys in a match", '{"a": [{"prefix": "x", "suffix": "y"}]}'),
    ("prefix of a number", '{"a": [{"prefix": 1}]}'),
    ("exists not boolean", '{"a": [{"exists": "yes"}]}'),
    ("numeric not an array", '{"a": [{"numeric": 5}]}'),
    ("numeric bad operator", '{"a": [{"numeric": ["!=", 5]}]}'),
    ("numeric bound not a number", '{"a": [{"numeric": [">", "5"]}]}'),
    ("numeric two lower bounds", '{"a": [{"numeric": [">", 1, ">=", 2]}]}'),
    ("numeric out of range", '{"a": [{"numeric": [">", 6e9]}]}'),
    ("cidr not an address", '{"a": [{"cidr": "10.0.0.0/99"}]}'),
    ("consecutive wildcards", '{"a": [{"wildcard": "a**b"}]}'),
    ("bad wildcard escape", '{"a": [{"wildcard": "a\\\\b"}]}'),
    ("anything-but mixed types", '{"a": [{"anything-but": ["x", 1]}]}'),
    ("anything-but empty", '{"a": [{"anything-but": []}]}'),
    ("anything-but unknown", '{"a": [{"anything-but": {"numeric": [">", 1]}}]}'),
    ("$or of one", '{"$or": [{"a": ["b"]}]}'),
    ("$or not objects", '{"$or": ["a", "b"]}'),
    ("array in an array", '{"a": [["b"]]}'),
]


@pytest.mark.parametrize(("case", "text"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_patterns_are_refused(case: str, text: str) -> None:
    with pytest.raises(InvalidEventPattern) as raised:
        parse_pattern(text)
    assert str(raised.value).startswith("Event pattern is not valid. Reason: ")


# CF, "Wildcard matching": ``*`` matches any run of characters (including none); the
# matcher is linear (no regex), so adversarial patterns answer at once.
WILDCARDS: list[tuple[str, str, bool]] = [
    ("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 60, False),
    ("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 60 + "b", True),
    ("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 11 + "b", False),
    ("*", "", True),
    ("a*", "a", True),
    ("*a", "", False),
    ("a*a", "a", False),
    ("a*a", "aa", True),
    ("ab*ba", "aba", False),
    ("x*y*z", "xyz", True),
    ("x*y*z", "xzyz", True),
    ("x*y*z", "xzy", False),
    ("/usr/*/other.*", "/usr/local/other.txt", True),
    ("a\\*b*", "a*bcd", True),
    ("a\\*b*", "axbcd", False),
    ("a\\\\*", "a\\tail", True),
    ("plain", "plain", True),
    ("plain", "plainer", False),
]


@pytest.mark.parametrize(("glob", "value", "expected"), WILDCARDS)
def test_wildcard_matching_table(glob: str, value: str, expected: bool) -> None:
    pattern = parse_pattern(json.dumps({"name": [{"wildcard": glob}]}))
    assert pattern.matches({"name": value}) is expected


def test_a_wildcard_is_matched_without_regular_expressions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Catastrophic backtracking came from compiling globs to regexes: the matcher uses none.
    import re

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the wildcard matcher must not use re")

    for name in ("compile", "fullmatch", "match", "search"):
        monkeypatch.setattr(re, name, refuse)
    pattern = parse_pattern(json.dumps({"name": [{"wildcard": "*a*a*a*a*a*a*a*a*a*a*a*a*b"}]}))
    assert not pattern.matches({"name": "a" * 60})


def test_a_pattern_longer_than_the_quota_is_refused() -> None:
    # Amazon EventBridge quotas, "Event pattern size": 2,048 characters by default.
    fits = json.dumps({"source": ["x" * 2000]})
    assert parse_pattern(fits).matches({"source": "x" * 2000})
    with pytest.raises(InvalidEventPattern, match="longer than 2048"):
        parse_pattern(json.dumps({"source": ["x" * 2100]}))


def test_a_deeply_nested_pattern_is_refused_not_a_recursion_error() -> None:
    text = '{"a":' * 300 + '["b"]' + "}" * 300  # 1,806 characters: within the size quota
    with pytest.raises(InvalidEventPattern, match="nested deeper"):
        parse_pattern(text)


def test_an_event_nested_a_thousand_arrays_deep_matches() -> None:
    # EP, "Event patterns with arrays": array values are matched element by element.
    pattern = parse_pattern('{"a": ["b"]}')
    deep: Any = "b"
    for _ in range(1000):
        deep = [deep]
    assert pattern.matches({"a": deep})
    assert not parse_pattern('{"a": ["c"]}').matches({"a": deep})
    assert parse_pattern('{"a": [{"exists": true}]}').matches({"a": deep})
