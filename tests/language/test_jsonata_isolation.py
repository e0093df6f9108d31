"""Which JSONata expressions run in-process and which go to the isolated evaluator
(issue 9, fault 6: jsonatapy holds the interpreter lock, so a hostile expression stalled
every thread of the server)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from stepwell.language.errors import QUERY_EVALUATION_ERROR, StatesError
from stepwell.language.evaluation import EvalContext
from stepwell.language.jsonata import UNDEFINED, compile_jsonata, compile_jsonata_template
from stepwell.language.jsonata_isolation import (
    ISOLATION,
    IsolatedEvaluation,
    install_isolated_evaluator,
    needs_isolation,
)


@pytest.mark.parametrize(
    ("text", "isolated"),
    [
        # bounded: runs in-process at full speed
        ("$states.input.x", False),
        ("$states.input.items[price > $limit].name", False),
        ("$sum($states.input.items.price)", False),
        ("$states.input.first & ' ' & $states.input.last", False),
        ("{'id': $states.context.Execution.Id, 'n': $count($states.input.a)}", False),
        ("$partition($states.input.a, 2)", False),
        ("$uuid() & $string($random())", False),
        ("'a..b := function' & $x", False),  # inside a string literal: not code
        # unbounded: loops, bindings, ranges, amplifying or unknown functions
        ("( $f := function($n){ $f($n+1) }; $f(0) )", True),
        ("(function($f){ $f($f) })(function($f){ $f($f) })", True),
        ("λ($x){$x}(1)", True),
        ("( $a := $s & $s; $b := $a & $a; $b )", True),
        ("$count([1..1e8])", True),
        ("$pad('x', 1e9)", True),
        ("$replace($states.input.s, 'a', $states.input.long)", True),
        ("$map($states.input.a, $string)", True),
        ("$sift($states.input, $boolean)", True),
    ],
)
def test_only_trivially_bounded_expressions_run_in_process(text: str, isolated: bool) -> None:
    assert needs_isolation(text) is isolated


class Recorder:
    """An isolated evaluator that records what it was handed and answers from a table."""

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.requests: list[IsolatedEvaluation] = []

    def __call__(self, request: IsolatedEvaluation) -> object:
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder(42)
    previous = install_isolated_evaluator(recorder)
    yield recorder
    install_isolated_evaluator(previous)


def ctx() -> EvalContext:
    entropy = random.Random(7)
    return EvalContext(
        {"State": {"EnteredTime": "2025-01-01T00:00:00Z"}},
        {"limit": 3, "unused": 1},
        entropy.random,
        lambda: "uuid",
    )


def test_an_unbounded_expression_is_handed_to_the_installed_evaluator(
    recorder: Recorder,
) -> None:
    expression = compile_jsonata("$map($states.input.a, function($v){ $v + $limit })")
    assert expression.evaluate({"input": {"a": [1]}, "context": {}}, ctx()) == 42
    (request,) = recorder.requests
    assert request.states == {"input": {"a": [1]}}  # only the $states members it uses
    assert request.variables == {"limit": 3}  # only the variables it names
    assert request.seed is None and request.context is None


def test_the_hand_off_carries_a_seed_drawn_from_the_execution_and_the_context(
    recorder: Recorder,
) -> None:
    compile_jsonata("$map([1], function($v){ $uuid() & $now() })").evaluate({}, ctx())
    (request,) = recorder.requests
    assert request.seed == random.Random(7).random()
    assert request.context == {"State": {"EnteredTime": "2025-01-01T00:00:00Z"}}


def test_a_bounded_expression_never_leaves_the_process(recorder: Recorder) -> None:
    assert compile_jsonata("$states.input.x + $limit").evaluate({"input": {"x": 1}}, ctx()) == 4
    assert recorder.requests == []


def test_errors_and_undefined_from_the_evaluator_reach_the_template(recorder: Recorder) -> None:
    template = compile_jsonata_template({"v": "{% $map([], function($v){$v}) %}"}, "Output")
    recorder.answer = UNDEFINED
    with pytest.raises(StatesError, match="returned nothing"):
        template.evaluate({}, ctx())
    recorder.answer = StatesError(QUERY_EVALUATION_ERROR, "stopped", "Output/v")
    with pytest.raises(StatesError, match="stopped"):
        template.evaluate({}, ctx())


def test_without_an_evaluator_everything_runs_here_under_the_guardrails() -> None:
    assert ISOLATION.evaluator is None
    value = compile_jsonata("$map([1, 2], function($v){ $v * 2 })").evaluate({}, ctx())
    assert value == [2, 4]
