"""What an evaluator may see besides the data it is applied to.

Every compiled evaluator in ``language/`` (paths, intrinsic functions, payload templates,
Choice rules, JSONata expressions) is called as ``evaluate(data, ctx)``. ``ctx`` carries
the context object (``$$`` / ``$states.context``), the variables visible from the
current state, and the only sources of randomness an evaluator may use. The engine
builds one per state entry; nothing here reads a clock or a global random source, so a
run is reproducible from its inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JSON = Any  # a value made of dict, list, str, int, float, bool and None


def _no_random() -> float:
    raise RuntimeError("this evaluation context has no random source")


def _no_uuid() -> str:
    raise RuntimeError("this evaluation context has no uuid source")


@dataclass(slots=True)
class EvalContext:
    """The environment of one evaluation: ``$$``, variables, and entropy."""

    context: JSON = field(default_factory=dict)
    variables: Mapping[str, JSON] = field(default_factory=dict)
    random: Callable[[], float] = _no_random
    """A float in [0, 1), from the execution's seeded generator."""
    uuid4: Callable[[], str] = _no_uuid
    """A version 4 UUID string, from the execution's seeded generator."""
    now: datetime | None = None
    """The execution's clock, for ``$now()``/``$millis()`` when ``$$`` has no valid
    ``State.EnteredTime`` (a TestState ``context`` is used verbatim, M4)."""
