"""The functions Step Functions adds to JSONata, and the built-ins it changes.

Source: AWS Step Functions Developer Guide, "Transforming data with JSONata in Step
Functions" → "JSONata functions provided by Step Functions", and for the limits the
intrinsic each one replaces ("Intrinsic functions for JSONPath states").

* ``$partition(array, size)`` - ``States.ArrayPartition``: chunks of ``size`` items, the
  last one possibly shorter. ``size`` must be a positive integer.
* ``$range(start, end, step)`` - ``States.ArrayRange``: ``start`` to ``end`` inclusive by
  ``step`` (negative steps count down); ``step`` must not be 0; at most 1,000 items (the
  limit the guide states for ``States.ArrayRange``, assumed to carry over). A range of one
  value is that value, not an array (aws-behaviour.md E5: ``$range(1, 9, 9)`` is ``1``).
* ``$hash(value, algorithm)`` - ``States.Hash``: lowercase hex digest of a string of at most
  10,000 characters (the ``States.Hash`` limit) with ``MD5``, ``SHA-1``, ``SHA-256``,
  ``SHA-384`` or ``SHA-512``.
* ``$random([seed])`` - ``States.MathRandom``: a float in [0, 1); the same seed gives the
  same number. Unseeded, it draws from ``ctx.random`` (never a global generator).
* ``$uuid()`` - ``States.UUID``: a v4 UUID from ``ctx.uuid4``.
* ``$parse(jsonString)`` - deserialises JSON; Step Functions' replacement for ``$eval``.

The guide: "Built-in JSONata functions that require integer values as parameters will
automatically round down any non-integer numbers provided", so integer arguments are
floored. Like JSONata's own functions (signature type ``a``), ``$partition`` treats a single
non-array value as a one-item array.

Changed built-ins: ``$eval`` "is not supported in Step Functions workflows", so calling it
fails with ``States.QueryEvaluationError``. ``$now()`` and ``$millis()`` are supported by
AWS (JSONata 2.0.6 built-ins) but must not read the clock here: they return the time the
state was entered, ``$states.context.State.EnteredTime``. JSONata itself promises that every
``$now()`` within one evaluation returns the same instant, so this is a valid clock reading
and it makes replays deterministic.

Design: the functions are plain Python callables that jsonatapy calls as host functions.
Those that need the evaluation context (``$random`` unseeded, ``$uuid``, ``$now``,
``$millis``) read it from a thread-local ``INVOCATION`` that the adapter sets only around
evaluations of expressions that mention them, so other expressions pay nothing. jsonatapy
turns any exception a host function raises into a ``ValueError`` that loses the original,
so a failing function also leaves its ``StatesError`` in ``INVOCATION.error`` for the adapter
to pick up.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, NoReturn

import jsonatapy
import orjson

from stepwell.language.errors import QUERY_EVALUATION_ERROR, StatesError
from stepwell.language.evaluation import JSON, EvalContext

MAX_RANGE_ITEMS: Final = 1000
MAX_HASH_INPUT_CHARS: Final = 10_000
HASH_ALGORITHMS: Final[Mapping[str, str]] = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MILLISECOND: Final = timedelta(milliseconds=1)


class _Invocation(threading.local):
    """Per-thread state of the evaluation in progress (class attributes are the defaults)."""

    ctx: EvalContext | None = None
    error: StatesError | None = None


INVOCATION: Final = _Invocation()


def _fail(function: str, message: str) -> NoReturn:
    error = StatesError(QUERY_EVALUATION_ERROR, f"${function}: {message}")
    INVOCATION.error = error
    raise error


def _check_arity(function: str, args: tuple[JSON, ...], least: int, most: int) -> None:
    if least <= len(args) <= most:
        return
    expected = str(least) if least == most else f"{least} to {most}"
    _fail(function, f"expected {expected} argument(s) but got {len(args)}")


def _integer(function: str, position: int, value: JSON) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(function, f"argument {position} must be an integer, got {_describe(value)}")
    return math.floor(value)


def _string(function: str, position: int, value: JSON) -> str:
    if not isinstance(value, str):
        _fail(function, f"argument {position} must be a string, got {_describe(value)}")
    return value


def _describe(value: JSON) -> str:
    if value is None:
        return "null or nothing"
    return orjson.dumps(value).decode()[:100]


def _context() -> EvalContext:
    ctx = INVOCATION.ctx
    assert ctx is not None, "the JSONata adapter sets the context before evaluating"
    return ctx


def partition(*args: JSON) -> JSON:
    """``$partition(array, size)``: the array cut into chunks of ``size`` items."""
    _check_arity("partition", args, 2, 2)
    items, size_argument = args
    if items is None:
        _fail("partition", "argument 1 must be an array, got null or nothing")
    array = items if isinstance(items, list) else [items]
    size = _integer("partition", 2, size_argument)
    if size <= 0:
        _fail("partition", f"the chunk size must be a positive integer, got {size}")
    return [array[start : start + size] for start in range(0, len(array), size)]


def range_(*args: JSON) -> JSON:
    """``$range(start, end, step)``: ``start`` to ``end`` inclusive, ``step`` apart."""
    _check_arity("range", args, 3, 3)
    start, end, step = (_integer("range", n, value) for n, value in enumerate(args, 1))
    if step == 0:
        _fail("range", "the step must not be 0")
    count = max(0, (end - start) // step + 1)
    if count > MAX_RANGE_ITEMS:
        _fail("range", f"the range has {count} items; at most {MAX_RANGE_ITEMS} are allowed")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    # E5: a JSONata sequence of one value collapses to that value: $range(1, 9, 9) is 1.
    return values[0] if len(values) == 1 else values


def hash_(*args: JSON) -> JSON:
    """``$hash(value, algorithm)``: the hex digest of a string."""
    _check_arity("hash", args, 2, 2)
    data = _string("hash", 1, args[0])
    algorithm = _string("hash", 2, args[1])
    if len(data) > MAX_HASH_INPUT_CHARS:
        _fail("hash", f"the input has {len(data)} characters; at most 10000 are allowed")
    if algorithm not in HASH_ALGORITHMS:
        allowed = ", ".join(HASH_ALGORITHMS)
        _fail("hash", f"the algorithm must be one of {allowed}, got {algorithm!r}")
    digest = hashlib.new(HASH_ALGORITHMS[algorithm], data.encode(), usedforsecurity=False)
    return digest.hexdigest()


def random_(*args: JSON) -> JSON:
    """``$random([seed])``: seeded → the same number for the same seed; else ``ctx.random``."""
    _check_arity("random", args, 0, 1)
    if not args or args[0] is None:
        return _context().random()
    return random.Random(_integer("random", 1, args[0])).random()


def uuid(*args: JSON) -> JSON:
    """``$uuid()``: a v4 UUID from the execution's seeded source."""
    _check_arity("uuid", args, 0, 0)
    return _context().uuid4()


def parse(*args: JSON) -> JSON:
    """``$parse(jsonString)``: the JSON value the string holds."""
    _check_arity("parse", args, 1, 1)
    text = _string("parse", 1, args[0])
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        _fail("parse", f"argument 1 is not valid JSON: {error}")


def eval_(*args: JSON) -> JSON:
    """``$eval`` is not available in Step Functions; the guide says to use ``$parse``."""
    _fail("eval", "the function is not supported in Step Functions; use $parse instead")


def entered_millis() -> int:
    """Milliseconds since the epoch at which the current state was entered: ``$$``'s
    ``State.EnteredTime``; without a valid one (a TestState ``context`` is used verbatim,
    aws-behaviour M4) the execution's clock, else the current time."""
    ctx = _context()
    context = ctx.context
    state = context.get("State") if isinstance(context, dict) else None
    entered = state.get("EnteredTime") if isinstance(state, dict) else None
    try:
        moment = datetime.fromisoformat(entered) if isinstance(entered, str) else None
    except ValueError:
        moment = None
    if moment is None:
        moment = ctx.now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_MILLISECOND


class _Formatter(threading.local):
    """JSONata's own timestamp formatting, compiled per thread (jsonatapy objects are)."""

    def __init__(self) -> None:
        self.expression = jsonatapy.compile("$fromMillis($millis, $picture, $timezone)")


_FORMATTER: Final = _Formatter()


def millis(*args: JSON) -> JSON:
    """``$millis()``: the state's entry time in milliseconds since the epoch."""
    _check_arity("millis", args, 0, 0)
    return entered_millis()


def now(*args: JSON) -> JSON:
    """``$now([picture [, timezone]])``: the state's entry time as a timestamp string."""
    _check_arity("now", args, 0, 2)
    bindings: dict[str, JSON] = {"millis": entered_millis()}
    for name, value in zip(("picture", "timezone"), args, strict=False):
        if value is not None:  # an absent binding is undefined, as an omitted argument
            bindings[name] = value
    try:
        return _FORMATTER.expression.evaluate(None, bindings)
    except ValueError as error:
        _fail("now", str(error))


@dataclass(frozen=True, slots=True)
class StepFunctionsFunction:
    """A function Step Functions provides: its JSONata name and how jsonatapy gets it."""

    implementation: Callable[..., JSON]
    replaces_builtin: bool
    """True when it overrides a JSONata built-in of the same name."""
    needs_context: bool
    """True when it reads ``INVOCATION.ctx`` (time or entropy)."""


FUNCTIONS: Final[Mapping[str, StepFunctionsFunction]] = {
    "partition": StepFunctionsFunction(partition, replaces_builtin=False, needs_context=False),
    "range": StepFunctionsFunction(range_, replaces_builtin=False, needs_context=False),
    "hash": StepFunctionsFunction(hash_, replaces_builtin=False, needs_context=False),
    "parse": StepFunctionsFunction(parse, replaces_builtin=False, needs_context=False),
    "uuid": StepFunctionsFunction(uuid, replaces_builtin=False, needs_context=True),
    "random": StepFunctionsFunction(random_, replaces_builtin=True, needs_context=True),
    "now": StepFunctionsFunction(now, replaces_builtin=True, needs_context=True),
    "millis": StepFunctionsFunction(millis, replaces_builtin=True, needs_context=True),
    "eval": StepFunctionsFunction(eval_, replaces_builtin=True, needs_context=False),
}
