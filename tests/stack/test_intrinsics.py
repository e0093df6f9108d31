"""CloudFormation intrinsic functions, conditions and parameters, table-driven from the
CloudFormation User Guide ("Intrinsic function reference", "Pseudo parameters
reference", "Parameters")."""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.stack.intrinsics import Resolver, StackIdentity
from stepwell.stack.template import StackError, parse_template

TEMPLATE = parse_template(
    """
Parameters:
  Env: {Type: String, Default: dev}
  Size: {Type: Number, Default: 3}
  Names: {Type: CommaDelimitedList, Default: "a, b,c"}
  Required: {Type: String}
Mappings:
  Regions:
    us-east-1: {Ami: ami-1}
Conditions:
  IsDev: !Equals [!Ref Env, dev]
  IsProd: !Not [!Condition IsDev]
  Both: !And [!Condition IsDev, !Equals [1, 1]]
  Either: !Or [!Condition IsProd, !Condition IsDev]
  Loop: !Condition Loop
Resources:
  Table: {Type: AWS::DynamoDB::Table}
"""
)

IDENTITY = StackIdentity("app", "eu-west-1", "111122223333", "arn:aws:cloudformation:x")


def lookup(logical: str, attribute: str | None) -> Any:
    return f"{logical}.{attribute}" if attribute else f"ref:{logical}"


def resolver(**parameters: Any) -> Resolver:
    return Resolver(TEMPLATE, IDENTITY, {"Required": "given", **parameters}, lookup)


CASES: list[tuple[Any, Any]] = [
    ({"Ref": "Env"}, "dev"),
    ({"Ref": "Size"}, "3"),  # a Number parameter is a string where it is used
    ({"Ref": "Names"}, ["a", "b", "c"]),
    ({"Ref": "AWS::Region"}, "eu-west-1"),
    ({"Ref": "AWS::AccountId"}, "111122223333"),
    ({"Ref": "AWS::Partition"}, "aws"),
    ({"Ref": "AWS::StackName"}, "app"),
    ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
    ({"Ref": "Table"}, "ref:Table"),
    ({"Fn::GetAtt": ["Table", "Arn"]}, "Table.Arn"),
    ({"Fn::GetAtt": "Table.StreamArn"}, "Table.StreamArn"),
    (
        {"Fn::Sub": "${AWS::StackName}-${Env}-${Table.Arn}-${!Literal}"},
        "app-dev-Table.Arn-${Literal}",
    ),
    ({"Fn::Sub": ["${X}/${Table}", {"X": {"Ref": "Env"}}]}, "dev/ref:Table"),
    ({"Fn::Join": ["-", ["a", {"Ref": "Env"}, 1]]}, "a-dev-1"),
    ({"Fn::Select": [1, {"Ref": "Names"}]}, "b"),
    ({"Fn::Split": [",", "x,y"]}, ["x", "y"]),
    ({"Fn::FindInMap": ["Regions", "us-east-1", "Ami"]}, "ami-1"),
    ({"Fn::FindInMap": ["Regions", "nowhere", "Ami", {"DefaultValue": "d"}]}, "d"),
    ({"Fn::If": ["IsDev", "yes", "no"]}, "yes"),
    ({"Fn::If": ["IsProd", "yes", "no"]}, "no"),
    ({"Fn::Base64": "hi"}, "aGk="),
    ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    ({"Fn::ToJsonString": {"a": [1]}}, '{"a":[1]}'),
    ({"Fn::Length": [1, 2, 3]}, 3),
    # AWS::NoValue removes the property or list element it stands in.
    ({"A": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}, "B": 2}, {"B": 2}),
    ([1, {"Ref": "AWS::NoValue"}, 2], [1, 2]),
    ({"Ref": "Required"}, "given"),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_intrinsic_functions_resolve_as_cloudformation_does(value: Any, expected: Any) -> None:
    assert resolver().resolve(value) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [("IsDev", True), ("IsProd", False), ("Both", True), ("Either", True)],
)
def test_conditions(condition: str, expected: bool) -> None:
    assert resolver().condition(condition) is expected


def test_parameter_overrides_win_over_defaults() -> None:
    assert resolver(Env="prod").condition("IsProd") is True


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Nope"}, "no parameter or resource"),
        ({"Fn::GetAtt": ["Nope", "Arn"]}, "no resource has that name"),
        ({"Fn::ImportValue": "Shared"}, "pass the value as a parameter"),
        ({"Fn::Select": [9, [1]]}, "no item"),
        ({"Fn::FindInMap": ["Regions", "x", "Ami"]}, "no Regions/x/Ami"),
        ({"Fn::If": ["Missing", 1, 2]}, "not in the Conditions section"),
        ({"Fn::If": ["Loop", 1, 2]}, "refers to itself"),
        ({"Fn::Join": ["-"]}, "Fn::Join needs"),
        ({"Fn::Sub": 5}, "Fn::Sub needs"),
        ({"Fn::Length": "x"}, "Fn::Length needs a list"),
    ],
)
def test_mistakes_are_stack_errors_that_say_what(value: Any, message: str) -> None:
    with pytest.raises(StackError, match=message):
        resolver().resolve(value)


def test_a_parameter_without_default_or_value_is_named() -> None:
    bare = Resolver(TEMPLATE, IDENTITY, {}, lookup)
    with pytest.raises(StackError, match="--parameter-overrides Required=VALUE"):
        bare.resolve({"Ref": "Required"})


def test_short_form_tags_are_read_into_long_forms() -> None:
    template = parse_template("Resources:\n  A: {Type: X, Properties: {P: !GetAtt B.Arn}}\n")
    assert template["Resources"]["A"]["Properties"]["P"] == {"Fn::GetAtt": ["B", "Arn"]}


@pytest.mark.parametrize("text", ["Resources: [unclosed", "just text", "{}"])
def test_what_is_not_a_template_is_refused(text: str) -> None:
    with pytest.raises(StackError):
        parse_template(text)
