"""Which JSONata expressions may run in this process, and how the rest are handed off.

jsonatapy evaluates in Rust while holding Python's interpreter lock, so an expression
that loops (a recursive function), builds a huge value (``$pad('x', 1e9)``, a string
doubled by ``:=`` bindings, ``[1..1e7]``) or simply runs for its whole time limit stops
*every* thread of the server, and can take it to gigabytes and kill it. The library's
guardrails (time limit, stack depth, sequence length) end such an evaluation but do not
release the lock or bound memory: 16 concurrent hostile ``TestState`` calls at a 1 s limit
made another client's ``DescribeStateMachine`` wait 12 to 15 s (measured, bench/
jsonata_isolation_bench.py).

Decision (both options of issue 9 measured, numbers in the bench's docstring: with 16
hostile clients another client's p99 was 8.5 s with in-process guardrails and 55-62 ms
with a pool of two workers and 24 ms with one, on a shared 2-core machine whose p99
without attack was 14 to 25 ms): an
expression that is *trivially bounded* runs here, with the library's guardrails; any other
runs in a separate process with memory and time limits, when the process that embeds
Stepwell has installed such an evaluator (the server does: ``service.jsonata_pool``).
Without one (Stepwell as a library, tests) everything runs here under the guardrails.

Trivially bounded means the text uses none of what lets an expression's work grow beyond
(a small multiple of) its input and its own length:

* ``function`` / ``λ`` (user functions: recursion, self-application, loops),
* ``:=`` (bindings: each can double the previous one),
* ``..`` (ranges: ``[1..1e7]``),
* any function call outside ``BOUNDED_FUNCTIONS`` (``$pad`` widths, ``$replace``
  amplification, higher-order functions).

The typical Step Functions expression (``$states.input.x``, arithmetic, ``&``, object and
array constructors, ``$sum``/``$count``/``$string``…, Step Functions' own functions with
their limits) is bounded and pays nothing; the rest costs one round trip to a worker
process (about 0.1 ms, see the bench).

This module is pure: it classifies and describes the hand-off; the evaluator that runs
processes is injected from above (``install_isolated_evaluator``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

JSON = Any

BOUNDED_FUNCTIONS: Final = frozenset(
    {
        # strings (output at most the input's size, or a number/boolean)
        "string", "length", "substring", "substringBefore", "substringAfter", "uppercase",
        "lowercase", "trim", "contains", "split", "join", "match", "base64encode",
        "base64decode", "encodeUrlComponent", "encodeUrl", "decodeUrlComponent", "decodeUrl",
        # numbers
        "number", "abs", "floor", "ceil", "round", "power", "sqrt", "formatNumber",
        "formatBase", "formatInteger", "parseInteger",
        # aggregates, arrays, objects
        "sum", "max", "min", "average", "count", "append", "reverse", "distinct", "sort",
        "zip", "keys", "lookup", "merge", "spread", "type", "boolean", "not", "exists",
        "assert", "error",
        # time
        "now", "millis", "fromMillis", "toMillis",
        # Step Functions' own functions, each with its own limits
        "partition", "range", "hash", "random", "uuid", "parse",
    }
)  # fmt: skip

_UNBOUNDED_SYNTAX: Final = re.compile(r"\bfunction\b|λ|:=|\.\.")
_CALL: Final = re.compile(r"\$(\w+)\s*\(")
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', re.DOTALL)


def needs_isolation(text: str) -> bool:
    """Whether ``text`` may run for long or build a large value (see the module docstring).

    String literals are ignored (``'a..b'`` is not a range); anything doubtful counts as
    unbounded, which only costs a round trip.
    """
    code = _STRING.sub('""', text)
    if _UNBOUNDED_SYNTAX.search(code):
        return True
    return any(name not in BOUNDED_FUNCTIONS for name in _CALL.findall(code))


@dataclass(frozen=True, slots=True)
class IsolatedEvaluation:
    """Everything an evaluation needs, as plain data that can cross a process boundary.

    ``seed`` replaces the execution's entropy for ``$random()``/``$uuid()`` (drawn from
    it, so a replay draws the same), and ``context`` is ``$states.context`` for ``$now``.
    """

    text: str
    field: str
    states: dict[str, JSON]
    variables: dict[str, JSON]
    context: JSON
    seed: float | None


IsolatedEvaluator = Callable[[IsolatedEvaluation], JSON]
"""Evaluates elsewhere; returns the value (or ``UNDEFINED``) or raises ``StatesError``."""


class _Isolation:
    """The process-wide evaluator for unbounded expressions (None: evaluate here)."""

    evaluator: IsolatedEvaluator | None = None


ISOLATION: Final = _Isolation()


def install_isolated_evaluator(evaluator: IsolatedEvaluator | None) -> IsolatedEvaluator | None:
    """Use ``evaluator`` for unbounded expressions from now on; return the previous one."""
    previous = ISOLATION.evaluator
    ISOLATION.evaluator = evaluator
    return previous
