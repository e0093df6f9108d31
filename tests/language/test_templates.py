"""JSONPath payload templates (Parameters, ItemSelector, ResultSelector).

Cases come from the States Language spec ("Payload Template", "Parameters" example), the
Developer Guide pages "InputPath, Parameters and ResultSelector"
(input-output-inputpath-params) and "Context object" (input-output-contextobject), and the
AWS error causes quoted in public issues (cited per case).
"""

from __future__ import annotations

from typing import Any

import pytest

from stepwell.language.errors import INTRINSIC_FAILURE, RUNTIME, ExpressionSyntaxError, StatesError
from stepwell.language.evaluation import EvalContext
from stepwell.language.templates import compile_payload_template

CTX = EvalContext(
    context={"Execution": {"Id": "arn:exec"}, "Map": {"Item": {"Index": 1, "Value": {"id": 7}}}},
    variables={"x": 42},
    uuid4=lambda: "11111111-2222-4333-8444-555555555555",
)

PRODUCT_INPUT = {
    "comment": "Example for Parameters.",
    "product": {
        "details": {"color": "blue", "size": "small", "material": "cotton"},
        "availability": "in stock",
        "sku": "2317",
        "cost": "$23",
    },
}

# (template, input, expected payload)
CASES: list[tuple[Any, Any, Any]] = [
    # States Language spec, "Parameters" example
    (
        {"flagged": True, "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[3:]"}},
        {"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]},
        {"flagged": True, "parts": {"first": 0, "last3": [30, 40, 50]}},
    ),
    # input-output-inputpath-params: "Parameters" example
    (
        {
            "comment": "Selecting what I care about.",
            "MyDetails": {
                "size.$": "$.product.details.size",
                "exists.$": "$.product.availability",
                "StaticValue": "foo",
            },
        },
        PRODUCT_INPUT,
        {
            "comment": "Selecting what I care about.",
            "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
        },
    ),
    # input-output-contextobject: context object fields in Parameters
    (
        {
            "execId.$": "$$.Execution.Id",
            "index.$": "$$.Map.Item.Index",
            "item.$": "$$.Map.Item.Value",
        },
        {},
        {"execId": "arn:exec", "index": 1, "item": {"id": 7}},
    ),
    # intrinsic-functions: "KeyId.$": "States.Array($.Id)"
    ({"KeyId.$": "States.Array($.Id)"}, {"Id": 123456}, {"KeyId": [123456]}),
    # Intrinsic functions spec example in a Payload Template
    (
        {"foo.$": "States.Format('Your name is {}, we are in the year {}', $.name, 2020)"},
        {"name": "Foo", "zebra": "stripe"},
        {"foo": "Your name is Foo, we are in the year 2020"},
    ),
    # workflow-variables: a JSONPath state reads a variable as $name
    ({"answer.$": "$x", "whole.$": "$"}, {"a": 1}, {"answer": 42, "whole": {"a": 1}}),
    # Objects nested in arrays are templates too
    (
        {"items": [{"id.$": "$.id"}, "static", [{"deep.$": "$.deep"}], 3]},
        {"id": 5, "deep": None},
        {"items": [{"id": 5}, "static", [{"deep": None}], 3]},
    ),
    # Many dynamic fields keep the template's order
    (
        {"a.$": "$.v", "b": 1, "c.$": "$.v", "d.$": "$.v", "e": {"f.$": "$.v"}},
        {"v": "V"},
        {"a": "V", "b": 1, "c": "V", "d": "V", "e": {"f": "V"}},
    ),
    (
        {"two.$": "$.v", "static": [1, {"k": "v"}], "one.$": "States.UUID()"},
        {"v": 2},
        {"two": 2, "static": [1, {"k": "v"}], "one": "11111111-2222-4333-8444-555555555555"},
    ),
    # A "$" inside a plain value is just text (the key does not end in .$)
    ({"price": "$23", "path": "$.not.a.path"}, {}, {"price": "$23", "path": "$.not.a.path"}),
    # Non-object templates
    ([{"a.$": "$.a"}, 1], {"a": 0}, [{"a": 0}, 1]),
    ("plain", {}, "plain"),
    (None, {}, None),
    ({}, {"a": 1}, {}),
]


@pytest.mark.parametrize(("template", "data", "expected"), CASES)
def test_payload_templates(template: Any, data: Any, expected: Any) -> None:
    compiled = compile_payload_template(template)
    payload = compiled.evaluate(data, CTX)
    assert payload == expected
    assert list(_keys(payload)) == list(_keys(expected))


def _keys(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_each_evaluation_builds_a_new_object_and_shares_static_parts() -> None:
    """Static subtrees are computed once and shared (values are never mutated in place)."""
    compiled = compile_payload_template({"a.$": "$.a", "static": {"k": [1, 2]}})
    first = compiled.evaluate({"a": 1}, CTX)
    second = compiled.evaluate({"a": 2}, CTX)
    assert first == {"a": 1, "static": {"k": [1, 2]}}
    assert second == {"a": 2, "static": {"k": [1, 2]}}
    assert first is not second
    assert first["static"] is second["static"]
    assert not compiled.is_static


def test_a_template_without_dynamic_fields_is_static() -> None:
    source = {"a": {"b": [1]}}
    compiled = compile_payload_template(source)
    assert compiled.is_static
    assert compiled.source is source
    source["a"]["b"].append(2)  # the compiled template holds its own copy
    assert compiled.evaluate("ignored", CTX) == {"a": {"b": [1]}}


# --------------------------------------------------------------------------- run-time errors


@pytest.mark.parametrize(
    ("template", "data", "path", "field"),
    [
        # Step Functions Local 2.0.0 cause quoted in floci-io/floci#2521
        ({"missing.$": "$.nope.deep"}, {"other": 1}, "$.nope.deep", "missing.$"),
        # aws/aws-cdk#22391: nested fields are named by their dotted path
        (
            {"Item": {"id.$": "$$.Map.Item.Value.id.S"}},
            {"other": 1},
            "$$.Map.Item.Value.id.S",
            "Item.id.$",
        ),
        # re:Post "sum() function returns error about not finding path"
        ({"Jobs.$": "$.Jobs.sum()"}, {"other": 1}, "$.Jobs.sum()", "Jobs.$"),
        ({"list": [{"a.$": "$.a"}]}, {"other": 1}, "$.a", "list[0].a.$"),
        ({"v.$": "$undefined"}, {"other": 1}, "$undefined", "v.$"),
    ],
)
def test_a_path_that_matches_nothing_fails_with_states_runtime(
    template: Any, data: Any, path: str, field: str
) -> None:
    with pytest.raises(StatesError) as caught:
        compile_payload_template(template).evaluate(data, CTX)
    assert caught.value.error == RUNTIME
    assert caught.value.cause == (
        f"The JSONPath '{path}' specified for the field '{field}' could not be found in the "
        "input '{\"other\":1}'"
    )


def test_an_indefinite_path_that_matches_nothing_yields_an_empty_list() -> None:
    payload = compile_payload_template({"types.$": "$.items[*].type"}).evaluate({}, CTX)
    assert payload == {"types": []}


def test_intrinsic_errors_pass_through_unchanged() -> None:
    with pytest.raises(StatesError) as caught:
        compile_payload_template({"n.$": "States.ArrayLength($.a)"}).evaluate({"a": 1}, CTX)
    assert caught.value.error == INTRINSIC_FAILURE
    with pytest.raises(StatesError) as missing:
        compile_payload_template({"v.$": "States.Format('{}', $.nope)"}).evaluate({"o": 1}, CTX)
    assert missing.value.error == RUNTIME
    assert missing.value.cause.startswith("The function 'States.Format('{}', $.nope)'")


# --------------------------------------------------------------------------- compile errors


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"a.$": 5}, "must be a path or an intrinsic function string"),
        ({"a.$": None}, "must be a path or an intrinsic function string"),
        ({"a.$": {"b": 1}}, "must be a path or an intrinsic function string"),
        ({"a.$": "plain text"}, "must be a path (starting with '$') or an intrinsic"),
        ({"a.$": "states.Format('x')"}, "must be a path (starting with '$') or an intrinsic"),
        ({"a.$": "$.a b"}, "unexpected character"),
        ({"a.$": "States.Nope()"}, "unknown intrinsic function"),
        ({"a.$": "States.Format('{}')"}, "the template has 1 '{}' but 0 arguments"),
        ({"a": 1, "a.$": "$.a"}, "the template has the field 'a' twice"),
        ({"outer": [{"b.$": "$.b", "b": 2}]}, "the template has the field 'b' twice"),
    ],
)
def test_malformed_templates_are_syntax_errors(template: Any, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_payload_template(template)
    assert message in caught.value.message
