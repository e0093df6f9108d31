"""JSONata expressions and ``{% %}`` templates (stepwell.language.jsonata).

Doc pages cited in test names and comments:
* TRANSFORMING = AWS Step Functions Developer Guide, "Transforming data with JSONata in Step
  Functions" (docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html)
* INTRINSICS = Developer Guide, "Intrinsic functions for JSONPath states in Step Functions"
* docs.jsonata.org pages by name (path-operators, sequences, construction, …).
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from stepwell.language import jsonata
from stepwell.language.errors import QUERY_EVALUATION_ERROR, ExpressionSyntaxError, StatesError
from stepwell.language.evaluation import EvalContext
from stepwell.language.jsonata import (
    UNDEFINED,
    compile_jsonata,
    compile_jsonata_template,
    is_jsonata_template,
)
from stepwell.language.jsonata_functions import INVOCATION

ENTERED = "2024-01-02T03:04:05.678Z"
ENTERED_MILLIS = 1704164645678
UUID0 = "00000000-0000-4000-8000-000000000000"

INPUT = {
    "x": 42,
    "customer": {"firstName": "Martha", "lastName": "Rivera"},
    "order": {"items": 7, "total": 27.91},
    "products": [
        {"calories": 140, "flavour": "Cola", "name": "Product-1"},
        {"calories": 0, "flavour": "Cola", "name": "Product-2"},
        {"calories": 0, "flavour": "Lime", "name": "Product-5"},
    ],
    "items": [{"name": "pen", "price": 5}, {"name": "book", "price": 12}],
    "nothing": None,
    "json_string": '{"a": [1, 2], "b": null}',
}
CONTEXT = {
    "Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:m:e"},
    "State": {"EnteredTime": ENTERED, "Name": "S"},
}
STATES = {"input": INPUT, "context": CONTEXT}


def make_ctx(**changes: Any) -> EvalContext:
    numbers = itertools.count()
    defaults: dict[str, Any] = {
        "context": CONTEXT,
        "variables": {"customerName": "María", "limit": 10, "timeout": 30},
        "random": lambda: 0.5,
        "uuid4": lambda: f"00000000-0000-4000-8000-{next(numbers):012d}",
    }
    defaults.update(changes)
    return EvalContext(**defaults)


def evaluate(text: str, states: Any = STATES, **ctx_changes: Any) -> Any:
    return compile_jsonata(text).evaluate(states, make_ctx(**ctx_changes))


def error_of(text: str, states: Any = STATES, **ctx_changes: Any) -> StatesError:
    with pytest.raises(StatesError) as caught:
        evaluate(text, states, **ctx_changes)
    assert caught.value.error == QUERY_EVALUATION_ERROR
    return caught.value


# --- is_jsonata_template: TRANSFORMING, "Writing JSONata expressions in JSON strings" -------
# "the string must start with {% with no leading spaces, and must end with %} with no
# trailing spaces"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $x %}", True),
        ("{%$x%}", True),
        ("{%%}", True),
        (" {% $x %}", False),
        ("{% $x %} ", False),
        ("{% $x", False),
        ("$x %}", False),
        ("{%}", False),
        ("$states.input", False),
        (42, False),
        (None, False),
        (["{% $x %}"], False),
    ],
)
def test_is_jsonata_template_per_transforming_data_page(value: object, expected: bool) -> None:
    assert is_jsonata_template(value) is expected


# --- compile_jsonata ----------------------------------------------------------------------


def test_compile_is_cached_by_text() -> None:
    assert compile_jsonata("$states.input.x + 1") is compile_jsonata("$states.input.x + 1")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("$states.input.(", "S0207"),
        ("1 +* 2", "S0201"),
        ("'unterminated", "S0101"),
        ("$f(", "S0207"),
    ],
)
def test_syntax_errors_raise_expression_syntax_error(text: str, code: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_jsonata(text)
    assert code in caught.value.message
    assert caught.value.message.startswith("Invalid JSONata expression: ")
    assert caught.value.text == text
    assert caught.value.position is None  # jsonatapy reports no position


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_expression_is_a_syntax_error(text: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match="empty") as caught:
        compile_jsonata(text)
    assert caught.value.position == 0


# --- evaluation: JSONata semantics (docs.jsonata.org) and $states (TRANSFORMING) -----------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # TRANSFORMING, "Example: Input and Output"
        ("'Last=>' & $states.input.customer.lastName", "Last=>Rivera"),
        ("$states.input.order.total", 27.91),
        # TRANSFORMING, "Example: Filtering with JSONata"
        (
            "$states.input.products[calories=0]",
            [
                {"calories": 0, "flavour": "Cola", "name": "Product-2"},
                {"calories": 0, "flavour": "Lime", "name": "Product-5"},
            ],
        ),
        # TRANSFORMING, "Reserved variable : $states"
        ("$states.context.Execution.Id", CONTEXT["Execution"]["Id"]),
        ("$states.context.State.Name & $states.input.x", "S42"),
        ("$states", STATES),
        ("$keys($states)", ["input", "context"]),
        # TRANSFORMING: workflow variables are $name
        ("$customerName", "María"),
        ("$states.input.items[price > $limit].name", "book"),
        # path-operators: navigation, index, negative index
        ("$states.input.items[0].name", "pen"),
        ("$states.input.items[-1].name", "book"),
        ("$states.input.items.name", ["pen", "book"]),
        # sequences: one match is a value; [] keeps an array
        ("$states.input.products[flavour='Lime'].name", "Product-5"),
        ("$states.input.products[flavour='Lime'][].name", ["Product-5"]),
        # null is a value, distinct from undefined
        ("$states.input.nothing", None),
        # string-functions: $string (15 significant digits), $number
        ("$string(1/3)", "0.333333333333333"),
        ("$string({'a': [1, 2]})", '{"a":[1,2]}'),
        ("$number('0x12')", 18),
        ("$number('12.5')", 12.5),
        # higher-order-functions
        ("$map([1, 2, 3], function($v) { $v * 2 })", [2, 4, 6]),
        ("$filter([1, 2, 3, 4], function($v) { $v % 2 = 0 })", [2, 4]),
        ("$reduce([1, 2, 3, 4], function($a, $b) { $a + $b })", 10),
        # regex
        ("$match('ab12cd', /[0-9]+/).match", "12"),
        ("$replace('John Smith', /(\\w+)\\s(\\w+)/, '$2, $1')", "Smith, John"),
        # aggregation-functions
        ("$sum($states.input.items.price)", 17),
        ("$average([1, 2, 3])", 2),
        # construction: an undefined value drops the key inside JSONata itself
        ("{'a': 1, 'b': $states.input.missing}", {"a": 1}),
        ("$states.input.items{name: price}", {"pen": 5, "book": 12}),
        # other-operators: conditional; programming: binding and functions
        ("$states.input.x > 40 ? 'big' : 'small'", "big"),
        ("($a := 2; $b := 3; $a * $b)", 6),
        ("($f := function($n) { $n <= 1 ? 1 : $n * $f($n - 1) }; $f(5))", 120),
        ("($add := function($a, $b) { $a + $b }; $inc := $add(?, 1); $inc(4))", 5),
        ("0.1 + 0.2", 0.30000000000000004),
        ("1e21", 1e21),
    ],
)
def test_evaluate_follows_jsonata_and_aws_docs(text: str, expected: Any) -> None:
    result = evaluate(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        "$states.input.missing",
        "$states.input.x.y",
        "$states.input.x > 50 ? 'big'",
        "$states.input.items[price > 100].name",
        "$undeclaredVariable",
        "$states.result",
    ],
)
def test_no_result_is_undefined_not_null(text: str) -> None:
    assert evaluate(text) is UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"


def test_result_and_error_output_are_read_from_states() -> None:
    states = {**STATES, "result": {"Payload": 1}, "errorOutput": {"Error": "E"}}
    assert evaluate("$states.result.Payload + 1", states) == 2
    assert evaluate("$states.errorOutput.Error", states) == "E"


def test_only_the_variables_and_states_members_the_text_names_are_bound() -> None:
    # An unconvertible value nobody mentions must not be converted (it would fail).
    unconvertible = object()
    states = {"input": {"x": 1}, "context": unconvertible}
    ctx_variables = {"used": 2, "unused": unconvertible}
    assert evaluate("$states.input.x + $used", states, variables=ctx_variables) == 3
    with pytest.raises(StatesError, match="threw an error during evaluation"):
        evaluate("$states.context", states, variables=ctx_variables)


def test_states_used_as_a_whole_binds_everything() -> None:
    assert evaluate("$states.input.x & $count($keys($states))") == "422"


@pytest.mark.parametrize(
    "text",
    [
        "$lookup($states, 'context').State.Name",
        "$states.`context`.State.Name",
        "$states.input.%.context.State.Name",
        "$states.(context).State.Name",
    ],
)
def test_indirect_uses_of_states_bind_all_of_it(text: str) -> None:
    assert evaluate(text) == "S"


def test_top_level_context_is_undefined() -> None:
    # "You cannot use $ ... at the top level": the library gets no input document.
    assert evaluate("$") is UNDEFINED


# --- runtime errors: TRANSFORMING, "Handling expression errors" ----------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("$states.input.customer.firstName + 1", "T2001"),
        ("1 + $states.input.customer.firstName", "T2002"),
        ("$number('abc')", "D3030"),
        ("$sum('a')", "T0412"),
        ("$error('boom')", "boom"),
        ("$assert(false, 'nope')", "nope"),
        ("$notAFunction()", "T1006"),
    ],
)
def test_runtime_errors_are_query_evaluation_errors(text: str, code: str) -> None:
    error = error_of(text)
    # AWS: "... threw an error during evaluation. T0410: <message>" (floci-io/floci #2736,
    # measured with TestState); a message without a JSONata code follows ": ".
    assert error.cause.startswith(
        f"The JSONata expression '{text}' threw an error during evaluation"
    )
    assert code in error.cause


def test_evaluate_for_field_names_the_field_in_the_cause() -> None:
    with pytest.raises(StatesError) as caught:
        compile_jsonata("1 + 'a'").evaluate_for_field(STATES, make_ctx(), "TimeoutSeconds")
    assert caught.value.cause.startswith(
        "The JSONata expression '1 + 'a'' specified for the field 'TimeoutSeconds' threw an"
        " error during evaluation. T2002: "
    )
    assert caught.value.location == "TimeoutSeconds"


# --- guardrails ----------------------------------------------------------------------------


def test_runaway_recursion_is_stopped() -> None:
    error = error_of("($f := function($n) { 1 + $f($n + 1) }; $f(0))")
    assert "D1011" in error.cause


def test_huge_sequences_are_stopped() -> None:
    error = error_of("$count([1..2000000])")
    assert "D2015" in error.cause


def test_infinite_loops_time_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonata, "EVALUATION_TIMEOUT_MS", 20)
    error = error_of("($loop := function($n) { $loop($n + 1) }; $loop(0)) /* timeout */")
    assert "D1012" in error.cause


# --- Step Functions' functions: TRANSFORMING, "JSONata functions provided by Step Functions"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$partition([1,2,3,4], 2)", [[1, 2], [3, 4]]),
        ("$partition([1,2,3,4,5,6,7,8,9], 4)", [[1, 2, 3, 4], [5, 6, 7, 8], [9]]),  # INTRINSICS
        ("$partition([1,2,3], 2.9)", [[1, 2], [3]]),  # "round down any non-integer"
        ("$partition([], 3)", []),
        ("$partition('solo', 3)", [["solo"]]),
        ("$range(0, 10, 2)", [0, 2, 4, 6, 8, 10]),
        ("$range(1, 9, 2)", [1, 3, 5, 7, 9]),  # INTRINSICS, States.ArrayRange
        ("$range(10, 0, -5)", [10, 5, 0]),
        ("$range(1.9, 3.5, 1)", [1, 2, 3]),
        ("$range(5, 1, 1)", []),
        ("$count($range(1, 1000, 1))", 1000),
        ("$parse($states.input.json_string)", {"a": [1, 2], "b": None}),
        ("$parse('\"text\"')", "text"),
        ("$random(7) = $random(7)", True),
        ("$random(7.8) = $random(7)", True),
        ("$random()", 0.5),
        ("$random($states.input.missing)", 0.5),
        ("$uuid()", "00000000-0000-4000-8000-000000000000"),
        ("[$uuid(), $uuid()][1]", "00000000-0000-4000-8000-000000000001"),
        ("$millis()", ENTERED_MILLIS),
        ("$now()", ENTERED),
        ("$now('[Y0001]-[M01]-[D01]')", "2024-01-02"),
        ("$now('[H01]:[m01]', '+0100')", "04:04"),
        ("$now($states.input.missing, '-0500')", "2024-01-01T22:04:05.678-05:00"),
    ],
)
def test_step_functions_functions(text: str, expected: Any) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_hash_supports_the_documented_algorithms(algorithm: str) -> None:
    expected = hashlib.new(algorithm.replace("-", "").lower(), b"input data").hexdigest()
    assert evaluate(f"$hash('input data', '{algorithm}')") == expected


def test_hash_matches_the_intrinsics_page_example() -> None:
    # INTRINSICS, States.Hash: SHA-1 of "input data" starts with aaff4a450
    assert evaluate("$hash('input data', 'SHA-1')").startswith("aaff4a450")


def test_seeded_random_is_deterministic_and_in_range() -> None:
    values = {evaluate(f"$random({seed})") for seed in range(20)}
    assert len(values) == 20
    assert all(0 <= value < 1 for value in values)
    assert evaluate("$random(3)") == evaluate("$random(3)", random=lambda: 0.9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$partition([1], 0)", "$partition: the chunk size must be a positive integer, got 0"),
        ("$partition([1], -2)", "positive integer"),
        ("$partition($states.input.missing, 2)", "argument 1 must be an array, got null"),
        ("$partition([1], 'two')", 'argument 2 must be an integer, got "two"'),
        ("$partition([1], true)", "argument 2 must be an integer, got true"),
        ("$partition([1])", "$partition: expected 2 argument(s) but got 1"),
        ("$range(1, 10, 0)", "$range: the step must not be 0"),
        ("$range(1, 1001, 1)", "the range has 1001 items; at most 1000 are allowed"),
        ("$range(1, 'x', 1)", "argument 2 must be an integer"),
        ("$range(1, 2)", "expected 3 argument(s) but got 2"),
        ("$hash(1, 'MD5')", "$hash: argument 1 must be a string, got 1"),
        ("$hash('a', 'SHA1')", "the algorithm must be one of MD5, SHA-1, SHA-256, SHA-384"),
        ("$hash('a', null)", "argument 2 must be a string, got null or nothing"),
        ("$hash($pad('', 10001, 'x'), 'MD5')", "the input has 10001 characters"),
        ("$random(1, 2)", "$random: expected 0 to 1 argument(s) but got 2"),
        ("$random('seed')", "argument 1 must be an integer"),
        ("$uuid(1)", "$uuid: expected 0 argument(s) but got 1"),
        ("$parse('{')", "$parse: argument 1 is not valid JSON"),
        ("$parse({'a': 1})", 'argument 1 must be a string, got {"a":1}'),
        ("$parse()", "expected 1 argument(s) but got 0"),
        # TRANSFORMING: "$eval is not supported in Step Functions workflows"
        ("$eval('1 + 1')", "$eval: the function is not supported in Step Functions"),
        ("$millis(1)", "$millis: expected 0 argument(s) but got 1"),
        ("$now('[Y]', '+0000', 3)", "$now: expected 0 to 2 argument(s) but got 3"),
        ("$now(1)", "$now: "),
    ],
)
def test_step_functions_function_errors(text: str, message: str) -> None:
    error = error_of(text)
    assert message in error.cause
    assert error.cause.startswith(
        f"The JSONata expression '{text}' threw an error during evaluation: $"
    )
    assert INVOCATION.error is None


@pytest.mark.parametrize(
    "context",
    [{}, {"State": {}}, {"State": {"EnteredTime": "yesterday"}}, {"State": "x"}, []],
)
def test_now_without_a_valid_entered_time_reads_the_execution_clock(context: Any) -> None:
    """A TestState ``context`` is ``$$`` verbatim (aws-behaviour M4), so it may have no
    ``State.EnteredTime``: the time is then the execution's clock."""
    clock = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert evaluate("$millis()", context=context, now=clock) == ENTERED_MILLIS
    assert evaluate("$now()", context=context, now=clock) == "2024-01-02T03:04:05.678Z"


def test_entered_time_without_zone_is_utc() -> None:
    context = {"State": {"EnteredTime": "2024-01-02T03:04:05.678"}}
    assert evaluate("$millis()", context=context) == ENTERED_MILLIS


def test_context_is_set_only_during_evaluation() -> None:
    assert evaluate("$uuid()") == "00000000-0000-4000-8000-000000000000"
    assert INVOCATION.ctx is None


def test_an_expression_compiled_in_one_thread_runs_in_another() -> None:
    # jsonatapy's compiled objects are bound to their thread; the adapter must hide that.
    expression = compile_jsonata("$states.input.x * 2")
    results: list[Any] = []
    thread = threading.Thread(
        target=lambda: results.append(expression.evaluate(STATES, make_ctx()))
    )
    thread.start()
    thread.join()
    assert results == [84]


def test_each_thread_evaluates_with_its_own_context() -> None:
    results: dict[str, Any] = {}

    def run(name: str) -> None:
        results[name] = evaluate("$uuid() & $random()", uuid4=lambda: name)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"a": "a0.5", "b": "b0.5"}


# --- templates: TRANSFORMING, "Writing JSONata expressions…" and "Arguments and Output" -----


def test_conversion_example_from_the_transforming_data_page() -> None:
    template = compile_jsonata_template(
        {
            "static": "Hello",
            "title": "{% $states.input.title %}",
            "name": "{% $customerName %}",
            "not-evaluated": "$customerName",
        },
        "Arguments",
    )
    result = template.evaluate({"input": {"title": "Doctor"}, "context": {}}, make_ctx())
    assert result == {
        "static": "Hello",
        "title": "Doctor",
        "name": "María",
        "not-evaluated": "$customerName",
    }
    assert list(result) == ["static", "title", "name", "not-evaluated"]
    assert template.is_static is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $states.input.x %}", 42),  # a whole-field template
        ("{% $states.input.nothing %}", None),
        ([1, "{% $states.input.x %}", 3], [1, 42, 3]),  # "Items": [1, "{% $two %}", 3]
        ({"a": {"b": ["{% $uuid() %}", {"c": "{%$limit%}"}]}}, {"a": {"b": [UUID0, {"c": 10}]}}),
        ({"{% $x %}": "{% 1 + 1 %}"}, {"{% $x %}": 2}),  # keys are never evaluated
        (
            {"n": 1, "s": "x", "t": True, "z": None, "l": [1]},
            {"n": 1, "s": "x", "t": True, "z": None, "l": [1]},
        ),
    ],
)
def test_template_evaluation(value: Any, expected: Any) -> None:
    assert compile_jsonata_template(value, "Output").evaluate(STATES, make_ctx()) == expected


@pytest.mark.parametrize("value", [42, True, None, "plain", {"a": [1, {"b": "x"}]}, []])
def test_static_templates_return_their_value(value: Any) -> None:
    template = compile_jsonata_template(value)
    assert template.is_static is True
    assert template.evaluate(STATES, make_ctx()) is value


@pytest.mark.parametrize(
    ("value", "field", "cause"),
    [
        (
            "{% $states.input.missing %}",
            "Output",
            "The JSONata expression '$states.input.missing' specified for the field 'Output'"
            " returned nothing (undefined).",
        ),
        (
            {"Input": {"pushLocation": "{% $states.input.pushLocation %}"}},
            "Arguments",
            "The JSONata expression '$states.input.pushLocation' specified for the field"
            " 'Arguments/Input/pushLocation' returned nothing (undefined).",
        ),
        (
            {"list": [1, "{%  $nope  %}"]},
            "Assign",
            "The JSONata expression '$nope' specified for the field 'Assign/list[1]'"
            " returned nothing (undefined).",
        ),
        (
            {"a": "{% $undefinedAtTopLevel %}"},
            "",
            "The JSONata expression '$undefinedAtTopLevel' specified for the field 'a'"
            " returned nothing (undefined).",
        ),
        (
            "{% $undefinedWithoutField %}",
            "",
            "The JSONata expression '$undefinedWithoutField' returned nothing (undefined).",
        ),
    ],
)
def test_undefined_inside_a_template_is_an_error(value: Any, field: str, cause: str) -> None:
    # TRANSFORMING, "Handling expression errors": "Failure to return a result"
    with pytest.raises(StatesError) as caught:
        compile_jsonata_template(value, field).evaluate(STATES, make_ctx())
    assert caught.value.error == QUERY_EVALUATION_ERROR
    assert caught.value.cause == cause


def test_runtime_error_inside_a_template_names_the_field() -> None:
    template = compile_jsonata_template({"a": ["{% 1 + 'x' %}"]}, "Output")
    with pytest.raises(StatesError) as caught:
        template.evaluate(STATES, make_ctx())
    assert caught.value.cause.startswith(
        "The JSONata expression '1 + 'x'' specified for the field 'Output/a[0]' threw an error"
    )


@pytest.mark.parametrize(
    "value",
    [" {% $x %}", "{% $x %} ", "{% $x", "$x %}", {"a": ["  {% 1 %}  "]}],
)
def test_improperly_opened_or_closed_expressions_are_literals_h1(value: Any) -> None:
    # aws-behaviour.md H1: the Developer Guide speaks of a validation error, but AWS
    # creates the machine and treats such strings as plain literals.
    template = compile_jsonata_template(value, "Output")
    assert template.is_static
    assert template.evaluate({"input": {}}, EvalContext()) == value


def test_syntax_error_in_a_template_names_the_field() -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_jsonata_template({"a": ["{% 1 + %}"]}, "Arguments")
    assert caught.value.message.endswith("in the field 'Arguments/a[0]'")
    assert caught.value.text == "1 +"


def test_syntax_error_in_a_bare_template_has_no_field() -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_jsonata_template("{% %}")
    assert caught.value.message == "The JSONata expression is empty"


def test_an_integer_past_64_bits_is_a_double_to_jsonata() -> None:
    """JSONata's numbers are JavaScript doubles: an input integer past 64 bits is seen
    rounded, as a double (the library refuses the integer itself: every expression that
    read such an input failed with "int too big to convert")."""
    big = 2**100 + 1
    states = {"input": {"n": big, "small": 3}}
    assert evaluate("$states.input.n", states) == float(big)
    assert evaluate("$states.input.n + 1", states) == float(big) + 1
    assert evaluate("$states.input.small", states) == 3
