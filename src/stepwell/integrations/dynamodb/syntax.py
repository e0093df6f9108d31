"""The expression tree shared by all of DynamoDB's expression kinds.

Condition, filter, key-condition, update and projection expressions are parsed into these
frozen nodes once per distinct text (``parser.py`` caches them); ``binding.py`` then turns a
parsed tree into a *bound* one for a single request by replacing ``#name`` placeholders
with attribute names and ``:value`` placeholders with ``Literal`` values. Evaluators only
ever see bound trees, so the same node classes serve both stages: a bound ``Path`` holds
only real names (``placeholder=False``) and a bound tree holds no ``Placeholder``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# --- document paths -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    """A map key (or top-level attribute) in a document path; ``#n`` while a placeholder."""

    text: str
    placeholder: bool = False


@dataclass(frozen=True, slots=True)
class Index:
    """A list element in a document path: ``[position]``."""

    position: int


Step = Name | Index


@dataclass(frozen=True, slots=True)
class Path:
    """A document path such as ``a.b[0].#c``; the first step is always a ``Name``."""

    steps: tuple[Step, ...]

    def render(self) -> str:
        """How AWS lists a path in messages: ``[a, b, [0]]``."""
        parts = (s.text if isinstance(s, Name) else f"[{s.position}]" for s in self.steps)
        return "[" + ", ".join(parts) + "]"

    @property
    def top(self) -> str:
        first = self.steps[0]
        assert isinstance(first, Name)
        return first.text


# --- operands -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placeholder:
    """An expression attribute value reference, ``:v``."""

    key: str


@dataclass(frozen=True, slots=True, eq=False)
class Literal:
    """A value bound in place of a ``Placeholder`` (an AttributeValue dict)."""

    value: dict[str, Any]
    key: str


@dataclass(frozen=True, slots=True)
class Call:
    """A function application: ``size(a)``, ``if_not_exists(a, :v)``, ``begins_with(a, :p)``."""

    name: str
    args: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``left + right`` or ``left - right`` on the right of an update's SET action."""

    operator: str
    left: Operand
    right: Operand


Operand = Path | Placeholder | Literal | Call | Arithmetic

# --- conditions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    operator: str
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Between:
    subject: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True, slots=True)
class In:
    subject: Operand
    options: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class FunctionTest:
    """A Boolean function used as a condition: ``attribute_exists(a)`` and friends."""

    call: Call


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


@dataclass(frozen=True, slots=True)
class And:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Or:
    left: Condition
    right: Condition


Condition = Comparison | Between | In | FunctionTest | Not | And | Or

# --- update expressions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpdateAction:
    """One action of an update: ``SET path = value``, ``REMOVE path``, ``ADD path value``
    or ``DELETE path value`` (``value`` is None for REMOVE)."""

    section: str
    path: Path
    value: Operand | None = None


@dataclass(frozen=True, slots=True)
class UpdateExpression:
    actions: tuple[UpdateAction, ...]


@dataclass(frozen=True, slots=True)
class Projection:
    paths: tuple[Path, ...]


# Functions by where they may appear.
CONDITION_FUNCTIONS = frozenset(
    {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"}
)
OPERAND_FUNCTIONS = frozenset({"size"})
UPDATE_FUNCTIONS = frozenset({"if_not_exists", "list_append"})
ALL_FUNCTIONS = CONDITION_FUNCTIONS | OPERAND_FUNCTIONS | UPDATE_FUNCTIONS
ARITY = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
    "size": 1,
    "if_not_exists": 2,
    "list_append": 2,
}
# Functions whose first operand must be a document path.
PATH_FIRST = frozenset(
    {"attribute_exists", "attribute_not_exists", "attribute_type", "size", "if_not_exists"}
)
