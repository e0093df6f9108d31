"""The compiled, immutable model of a state machine.

``compile_definition`` (in ``compiler.py``) turns a validated definition into these frozen
objects. Everything a running execution needs is decided here, once: which paths and
templates exist (already compiled into evaluators), which query language a state uses,
where each state goes next. The interpreter reads this model and never looks at the raw
definition again.

Evaluators share one calling convention, ``evaluate(scope, ctx)``: in a JSONPath state the
scope is the data the field applies to; in a JSONata state it is the ``$states`` mapping
(``input``, ``context``, ``result``, ``errorOutput``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from stepwell.language.evaluation import JSON, EvalContext

JSONPATH: Final = "JSONPath"
JSONATA: Final = "JSONata"


class Evaluator(Protocol):
    """Anything compiled that produces a value: a path, a template, an expression."""

    def evaluate(self, scope: Any, ctx: EvalContext) -> JSON: ...


class _Discard:
    """A path field set to JSON ``null``: InputPath/OutputPath give ``{}``, ResultPath
    keeps the input and drops the result (Developer Guide, "InputPath, ResultPath and
    OutputPath": "If the value is null, ...")."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_PATH"


NULL_PATH: Final = _Discard()


@dataclass(frozen=True, slots=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter_full: bool = False


@dataclass(frozen=True, slots=True)
class Catcher:
    error_equals: tuple[str, ...]
    next: str
    result_path: Any = None  # CompiledPath, NULL_PATH, or None for "$" (JSONPath)
    output: Evaluator | None = None  # JSONata Output over $states.errorOutput
    assign: Evaluator | None = None  # Assign: evaluates to {variable name: value}


@dataclass(frozen=True, slots=True)
class Transition:
    """Where a state goes when it is done: the next state's name, or the end."""

    next: str | None
    end: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """What every state has. Fields a state type does not use stay at their default."""

    name: str
    type: str
    query_language: str
    transition: Transition
    # JSONPath input/output processing; None means the default "$".
    input_path: Any = None
    output_path: Any = None
    result_path: Any = None
    parameters: Evaluator | None = None
    result_selector: Evaluator | None = None
    # JSONata input/output processing.
    arguments: Evaluator | None = None
    output: Evaluator | None = None
    # Both languages. Assign evaluates to {variable name: value}, all at once.
    assign: Evaluator | None = None
    uses_context: bool = False  # whether any field reads $$ / $states.context
    retriers: tuple[Retrier, ...] = ()
    catchers: tuple[Catcher, ...] = ()

    @property
    def is_jsonata(self) -> bool:
        return self.query_language == JSONATA


@dataclass(frozen=True, slots=True, kw_only=True)
class PassState(State):
    result: JSON = None
    has_result: bool = False
    plain: bool = False  # no field touches the data: the output is the input


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskState(State):
    resource: str
    timeout_seconds: Evaluator | None = None
    heartbeat_seconds: Evaluator | None = None
    credentials: JSON = None


@dataclass(frozen=True, slots=True)
class ChoiceBranch:
    predicate: Evaluator  # returns bool
    next: str
    assign: Evaluator | None = None
    output: Evaluator | None = None
    location: str = ""  # the rule's field, e.g. "Choices[1]/Condition", for error causes


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceState(State):
    choices: tuple[ChoiceBranch, ...]
    default: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitState(State):
    seconds: Evaluator | None = None
    timestamp: Evaluator | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SucceedState(State):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class FailState(State):
    error: Evaluator | None = None
    cause: Evaluator | None = None


@dataclass(frozen=True, slots=True)
class Graph:
    """A set of states with a start: the machine itself, a Parallel branch, a Map's
    ItemProcessor. ``key`` locates it inside the machine (for the engine's bookkeeping)."""

    key: str
    start_at: str
    states: dict[str, State] = field(hash=False)
    query_language: str = JSONPATH


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelState(State):
    branches: tuple[Graph, ...]


@dataclass(frozen=True, slots=True)
class DistributedConfig:
    """A Map in DISTRIBUTED mode (Developer Guide, "Using Map state in Distributed
    mode"): each item, or batch, runs as a child execution of ``processor_definition``
    (the ItemProcessor as a definition of its own). The ItemReader, ItemBatcher and
    ResultWriter fields are compiled templates; the engine evaluates them on the state's
    input and hands the results to the runtime, which does the I/O."""

    execution_type: str
    processor_definition: str
    reader_resource: str | None = None
    reader_arguments: Evaluator | None = None
    reader_config: Evaluator | None = None
    batcher: Evaluator | None = None
    batch_input: Evaluator | None = None
    writer_resource: str | None = None
    writer_arguments: Evaluator | None = None
    writer_config: Evaluator | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MapState(State):
    processor: Graph
    items_path: Any = None  # JSONPath: CompiledPath or None for "$"
    items: Evaluator | None = None  # JSONata Items, or JSONPath literal array
    item_selector: Evaluator | None = None
    max_concurrency: Evaluator | None = None
    tolerated_failure_percentage: Evaluator | None = None
    tolerated_failure_count: Evaluator | None = None
    label: str | None = None
    distributed: DistributedConfig | None = None


@dataclass(frozen=True, slots=True)
class StateMachine:
    """A compiled definition. ``graphs`` indexes every graph by key, the root as ""."""

    root: Graph
    graphs: dict[str, Graph] = field(hash=False)
    timeout_seconds: int | None = None
    comment: str | None = None
    definition: JSON = field(default=None, hash=False, compare=False)
    # State name -> sorted names of the variables it reads (``references.py``).
    variable_references: dict[str, tuple[str, ...]] = field(
        default_factory=dict, hash=False, compare=False
    )
