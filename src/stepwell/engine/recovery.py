"""Retry and Catch: which rule matches an error, and how long to wait before a retry.

From the Developer Guide, "Handling errors in Step Functions workflows":
- ``States.ALL`` matches any error name except the terminal ``States.DataLimitExceeded``
  and ``States.Runtime``;
- ``States.TaskFailed`` "matches any known error name except for States.Timeout";
- a ``States.Runtime`` error "isn't retriable, and will always cause the execution to
  fail", so no rule matches it, not even one naming it.
- Only the first Retrier whose ErrorEquals matches is considered; once its MaxAttempts
  are used up the Catchers are tried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from stepwell.language import errors as e
from stepwell.language.model import Catcher, Retrier

_NOT_ALL = frozenset({e.DATA_LIMIT_EXCEEDED, e.RUNTIME})
_NOT_TASK_FAILED = frozenset({e.TIMEOUT, e.DATA_LIMIT_EXCEEDED, e.RUNTIME})

Rule = TypeVar("Rule", Retrier, Catcher)


def error_matches(patterns: Iterable[str], error: str) -> bool:
    if error == e.RUNTIME:
        return False
    for pattern in patterns:
        if pattern == error:
            return True
        if pattern == e.ALL and error not in _NOT_ALL:
            return True
        if pattern == e.TASK_FAILED and error not in _NOT_TASK_FAILED:
            return True
    return False


def first_match(rules: Iterable[Rule], error: str) -> tuple[int, Rule] | None:
    for index, rule in enumerate(rules):
        if error_matches(rule.error_equals, error):
            return index, rule
    return None


def retry_delay(retrier: Retrier, attempt: int, random: Callable[[], float]) -> float:
    """Seconds before retry number ``attempt + 1`` (``attempt`` counts from 0).

    IntervalSeconds * BackoffRate^attempt, capped by MaxDelaySeconds; with
    JitterStrategy FULL a uniformly random delay between 0 and that value.
    """
    delay = retrier.interval_seconds * retrier.backoff_rate**attempt
    if retrier.max_delay_seconds is not None:
        delay = min(delay, retrier.max_delay_seconds)
    if retrier.jitter_full:
        delay *= random()
    return delay
