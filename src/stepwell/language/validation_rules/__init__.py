"""The rules that validate one state of a definition (``validation.py`` walks the graphs).

* ``base``: diagnostics, the report, and checks of one value or expression;
* ``states``: the allowed fields of each state type per query language, Next/End,
  Retry/Catch and the rules of Pass, Task, Wait, Succeed, Fail and Parallel;
* ``choice`` and ``map``: the two state types with the most rules of their own;
* ``variables``: variable scopes across nested graphs (run once per definition).
"""

from stepwell.language.validation_rules.base import (
    JSONATA,
    JSONPATH,
    QUERY_LANGUAGES,
    Diagnostic,
    Report,
    StateScope,
)
from stepwell.language.validation_rules.states import STATE_TYPES, check_state

__all__ = [
    "JSONATA",
    "JSONPATH",
    "QUERY_LANGUAGES",
    "STATE_TYPES",
    "Diagnostic",
    "Report",
    "StateScope",
    "check_state",
]
