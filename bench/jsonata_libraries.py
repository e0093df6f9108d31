"""Measure the two JSONata libraries Stepwell could use, and check them against the spec.

Run: ``.venv/bin/python bench/jsonata_libraries.py``. It prints, for each library, the time
per evaluation of a few typical Step Functions expressions (bindings ``$states`` and a
workflow variable, as the engine passes them), then a table of behaviour cases whose
expected values come from the JSONata documentation (docs.jsonata.org), marking each
library's answer ``ok`` or ``WRONG``. The decision this informed is recorded in the
docstring of ``stepwell.language.jsonata``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jsonata as jsonata_python  # pure Python
import jsonatapy  # Rust core
import orjson

UNDEFINED = "<undefined>"
ERROR = "<error>"

STATES = {
    "input": {
        "x": 42,
        "first": "Ada",
        "last": "Lovelace",
        "items": [
            {"name": "pen", "price": 5},
            {"name": "book", "price": 12},
            {"name": "lamp", "price": 30},
        ],
    },
    "context": {"Execution": {"Id": "arn:aws:states:us-east-1:1:execution:m:e"}},
}
BINDINGS = {"states": STATES, "limit": 10}

SPEED_CASES = [
    "$states.input.x",
    "$states.input.items[price > $limit].name",
    "$sum($states.input.items.price)",
    "$states.input.first & ' ' & $states.input.last",
    "{'id': $states.context.Execution.Id, 'total': $sum($states.input.items.price)}",
]

# (expression, expected) — expected per docs.jsonata.org; UNDEFINED means no result.
BEHAVIOUR_CASES: list[tuple[str, Any]] = [
    # path-operators / simple queries
    ("$states.input.items[0].name", "pen"),
    ("$states.input.items[-1].name", "lamp"),
    ("$states.input.nothing", UNDEFINED),
    ("$states.input.items.name", ["pen", "book", "lamp"]),
    # sequences: a single match is a value, not a one-element array ("Sequences")
    ("$states.input.items[price > 20].name", "lamp"),
    ("$states.input.items[price > 20][].name", ["lamp"]),
    ("$states.input.items[price > 100].name", UNDEFINED),
    # $string / $number (string-functions, numeric-functions)
    ("$string(1/3)", "0.333333333333333"),
    ("$string(5)", "5"),
    ("$string({'a': [1, 2]})", '{"a":[1,2]}'),
    ("$string(true)", "true"),
    ("$number('12.5')", 12.5),
    ("$number('0x12')", 18),
    ("$number(true)", 1),
    # higher-order functions
    ("$map([1, 2, 3], function($v) { $v * 2 })", [2, 4, 6]),
    ("$filter([1, 2, 3, 4], function($v) { $v % 2 = 0 })", [2, 4]),
    ("$reduce([1, 2, 3, 4], function($a, $b) { $a + $b })", 10),
    # regex
    ("$match('ab12cd', /[0-9]+/).match", "12"),
    ("$replace('John Smith', /(\\w+)\\s(\\w+)/, '$2, $1')", "Smith, John"),
    ("$contains('abracadabra', /a.*a/)", True),
    ("$split('a1b2c', /[0-9]/)", ["a", "b", "c"]),
    # aggregation
    ("$sum([1, 2.5, 3])", 6.5),
    ("$sum([])", 0),
    ("$average([1, 2, 3])", 2),
    # object construction (construction.md)
    ("{'a': 1, 'b': $states.input.nothing}", {"a": 1}),
    ("$states.input.items{name: price}", {"pen": 5, "book": 12, "lamp": 30}),
    ("[$states.input.items.price]", [5, 12, 30]),
    # conditional and binding
    ("$states.input.x > 40 ? 'big' : 'small'", "big"),
    ("$states.input.x > 50 ? 'big'", UNDEFINED),
    ("($a := 2; $b := 3; $a * $b)", 6),
    # functions (programming.md)
    ("($f := function($n) { $n <= 1 ? 1 : $n * $f($n - 1) }; $f(5))", 120),
    ("($add := function($a, $b) { $a + $b }; $inc := $add(?, 1); $inc(4))", 5),
    # misc operators and numbers
    ("'a' & 1 & true", "a1true"),
    ("1 + 2 * 3", 7),
    ("7 % 3", 1),
    ("[1..4]", [1, 2, 3, 4]),
    ("'x' in ['x', 'y']", True),
    ("$count([1, 2, 3])", 3),
    ("$join(['a', 'b'], '-')", "a-b"),
    ("$sort([3, 1, 2])", [1, 2, 3]),
    ("$keys({'a': 1, 'b': 2})", ["a", "b"]),
    ("$merge([{'a': 1}, {'b': 2}])", {"a": 1, "b": 2}),
    ("$boolean([])", False),
    ("$exists($states.input.nothing)", False),
    ("$lookup({'a': 1}, 'a')", 1),
    ("$substring('hello', 1, 3)", "ell"),
    ("$uppercase('abc')", "ABC"),
    ("$trim('  a  b ')", "a b"),
    ("$pad('5', -3, '0')", "005"),
    ("$formatNumber(1234.5, '#,##0.00')", "1,234.50"),
    ("$round(2.5)", 2),
    ("$round(3.5)", 4),
    ("$floor(-1.5)", -2),
    ("$power(2, 10)", 1024),
    ("$fromMillis(0)", "1970-01-01T00:00:00.000Z"),
    ("$toMillis('1970-01-01T00:00:01.000Z')", 1000),
    ("$base64encode('hi')", "aGk="),
    ("$distinct([1, 1, 2])", [1, 2]),
    ("$states.input.items^(>price)[0].name", "lamp"),
    ("$zip([1, 2], [3, 4])", [[1, 3], [2, 4]]),
    ("$type(null)", "null"),
    ("0.1 + 0.2", 0.30000000000000004),
    ("$string(1e21)", "1e+21"),
    ("$string(0.1 + 0.2)", "0.3"),
    ("$round(2.675, 2)", 2.68),
    ("$formatInteger(12, 'w')", "twelve"),
    ("$states.input.items[name ~> /o/].name", "book"),
    ("$states.input.items[$contains(name, /o/)].name", "book"),
    ("$states.input.items[0] = $states.input.items[0]", True),
    ("$states.input.x.y", UNDEFINED),
    ("$states.input.items.price.$string()", ["5", "12", "30"]),
    ("$sift({'a': 1, 'b': 2}, function($v) { $v > 1 })", {"b": 2}),
    ("$each({'a': 1}, function($v, $k) { $k & $v })", "a1"),
    ("$spread({'a': 1, 'b': 2})", [{"a": 1}, {"b": 2}]),
    ("$assert(true, 'never')", UNDEFINED),
    # errors (codes from docs.jsonata.org / jsonata-js messages)
    ("$number('abc')", ERROR),
    ("'a' + 1", ERROR),
    ("$sum('a')", ERROR),
    ("$error('boom')", ERROR),
    ("$assert(false, 'nope')", ERROR),
    ("$undefinedFunction()", ERROR),
    ("{'a': 1}[0] = 'x' ? 1 : 2", 2),
    ("$fromMillis(1510067557121, '[M01]/[D01]/[Y0001] [h#1]:[m01][P]')", "11/07/2017 3:12pm"),
    ("$fromMillis(1704164645678, undefined, '-0130')", "2024-01-02T01:34:05.678-01:30"),
    ("$fromMillis(1704164645678, undefined, '+0545')", "2024-01-02T08:49:05.678+05:45"),
    ("$toMillis('2024-01-02T03:04:05.678Z')", 1704164645678),
    ("$formatBase(255, 16)", "ff"),
    ("$string(-0)", "0"),
    ("$string(123456789012345680000)", "123456789012346000000"),
    ("$length('😀')", 1),
    ("$substringBefore('a-b-c', '-')", "a"),
    ("$encodeUrlComponent('a b&c')", "a%20b%26c"),
    ("$replace('abc', /b/, function($m) { $uppercase($m.match) })", "aBc"),
    ("$sort([{'v': 2}, {'v': 1}], function($l, $r) { $l.v > $r.v }).v", [1, 2]),
    ("$single([1, 2, 3], function($v) { $v = 2 })", 2),
    ("$abs(-5)", 5),
    ("$sqrt(16)", 4),
    ("$max([1, 5, 3])", 5),
    ("$append([1], 2)", [1, 2]),
    ("$reverse([1, 2])", [2, 1]),
    ("$shuffle([1]) ", [1]),
    ("$not(false)", True),
    ("$eval('1 + 1')", 2),
]


def _rust(expression: str) -> Callable[[], Any]:
    compiled = jsonatapy.compile(expression)
    return lambda: compiled.evaluate(None, BINDINGS)


def _rust_undefined_aware(expression: str) -> Callable[[], Any]:
    compiled = jsonatapy.compile(expression)

    def run() -> Any:
        text = compiled.evaluate_json_or_none(None, BINDINGS)
        return UNDEFINED if text is None else orjson.loads(text)

    return run


def _python(expression: str) -> Callable[[], Any]:
    compiled = jsonata_python.Jsonata(expression)
    return lambda: compiled.evaluate(None, BINDINGS)


LIBRARIES: dict[str, Callable[[str], Callable[[], Any]]] = {
    "jsonatapy.evaluate": _rust,
    "jsonatapy.evaluate_json_or_none": _rust_undefined_aware,
    "jsonata-python": _python,
}


def _per_call_us(run: Callable[[], Any], budget_s: float = 0.2) -> float:
    run()
    calls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < budget_s:
        run()
        calls += 1
    return (time.perf_counter() - start) / calls * 1e6


def _answer(run: Callable[[], Any]) -> Any:
    try:
        result = run()
    except Exception:  # the libraries raise assorted types
        return ERROR
    return UNDEFINED if result is None else result


def main() -> None:
    print("time per evaluation (µs)")
    print(f"{'expression':72} " + " ".join(f"{name:>32}" for name in LIBRARIES))
    for expression in SPEED_CASES:
        figures = [_per_call_us(make(expression)) for make in LIBRARIES.values()]
        print(f"{expression:72} " + " ".join(f"{value:32.1f}" for value in figures))
    print()
    print("behaviour against docs.jsonata.org (only mismatches are listed)")
    wrong = dict.fromkeys(LIBRARIES, 0)
    for expression, expected in BEHAVIOUR_CASES:
        for name, make in LIBRARIES.items():
            got = _answer(make(expression))
            if json.dumps(got) != json.dumps(expected):
                wrong[name] += 1
                print(f"  WRONG {name:34} {expression!r}: got {got!r}, expected {expected!r}")
    for name, count in wrong.items():
        print(f"{name}: {len(BEHAVIOUR_CASES) - count}/{len(BEHAVIOUR_CASES)} ok")


if __name__ == "__main__":
    main()
