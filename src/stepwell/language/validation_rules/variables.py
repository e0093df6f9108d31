"""Variable scopes: a name assigned in an outer scope cannot be assigned in an inner one.

Developer Guide, "Passing data between states with variables", "Variable scope": the
states of a machine's ``States`` share one workflow-local scope; each Parallel branch and
Map processor has its own, which can read the outer ones. "A variable exists in a scope
if any state in the scope assigns a value to it. To help avoid common errors, a variable
assigned in an inner scope cannot have the same name as one assigned in an outer scope."
A Catch's ``Assign`` belongs to the scope the Parallel or Map state itself is in.

Design: one walk of the definition, carrying the names the enclosing scopes assign.
Malformed shapes are left to the other rules, which report them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from stepwell.language.validation_rules.base import JSON, Report, join

_DYNAMIC: Final = ".$"


def check_variable_scopes(report: Report, machine: JSON) -> None:
    """Report every inner-scope assignment of a name an outer scope assigns."""
    _check_graph(report, machine, "", frozenset())


def _check_graph(report: Report, graph: JSON, path: str, outer: frozenset[str]) -> None:
    states = graph.get("States") if isinstance(graph, dict) else None
    if not isinstance(states, dict):
        return
    own: set[str] = set()
    for name, body in states.items():
        for location, variable in _assignments(body, join(path, "States", name)):
            own.add(variable)
            if variable in outer:
                report.error(
                    location,
                    f'The variable "{variable}" is assigned in an outer scope; a state inside '
                    "a Parallel or Map state cannot assign it",
                )
    enclosing = outer | own
    for name, body in states.items():
        for child, child_path in _nested_graphs(body, join(path, "States", name)):
            _check_graph(report, child, child_path, enclosing)


def _assignments(body: JSON, path: str) -> Iterator[tuple[str, str]]:
    """(location, variable name) of every variable a state assigns, in its own scope."""
    if not isinstance(body, dict):
        return
    yield from _names(body.get("Assign"), join(path, "Assign"))
    for field in ("Choices", "Catch"):
        rules = body.get(field)
        if isinstance(rules, list):
            for index, rule in enumerate(rules):
                if isinstance(rule, dict):
                    yield from _names(rule.get("Assign"), join(path, field, index, "Assign"))


def _names(assign: JSON, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(assign, dict):
        for key in assign:
            yield join(path, key), key.removesuffix(_DYNAMIC)


def _nested_graphs(body: JSON, path: str) -> Iterator[tuple[JSON, str]]:
    if not isinstance(body, dict):
        return
    branches = body.get("Branches")
    if isinstance(branches, list):
        for index, branch in enumerate(branches):
            yield branch, join(path, "Branches", index)
    for key in ("ItemProcessor", "Iterator"):
        if key in body:
            yield body[key], join(path, key)
