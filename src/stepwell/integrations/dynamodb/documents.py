"""Reading, writing and projecting document paths (``a.b[0].c``) in items.

Items are plain dicts of AttributeValues; a path walks ``M`` values by name and ``L`` values
by index. Reads never fail: a step into a missing attribute, a missing element or a value
of the wrong type yields ``None`` ("does not exist"). Writes fail the way UpdateItem does
when the parent of the target is missing or not a container ("The document path provided
in the update expression is invalid for update"). Writers mutate the item they are given;
callers hand them a copy.
"""

from __future__ import annotations

import copy
from typing import Any

from stepwell.integrations.dynamodb.errors import validation
from stepwell.integrations.dynamodb.syntax import Index, Name, Path, Step
from stepwell.integrations.dynamodb.values import AttributeValue, Item

INVALID_PATH = "The document path provided in the update expression is invalid for update"


def get_path(item: Item | None, path: Path) -> AttributeValue | None:
    if item is None:
        return None
    value: AttributeValue | None = item.get(path.top)
    for step in path.steps[1:]:
        if value is None:
            return None
        value = _child(value, step)
    return value


def _child(value: AttributeValue, step: Step) -> AttributeValue | None:
    if isinstance(step, Name):
        members = value.get("M")
        return None if members is None else members.get(step.text)
    elements = value.get("L")
    if elements is None or step.position >= len(elements):
        return None
    child: AttributeValue = elements[step.position]
    return child


def _container(item: Item, path: Path) -> Any:
    """The dict or list that holds the last step of ``path``; invalid-path error if none."""
    holder: Any = item
    steps = path.steps
    for position, step in enumerate(steps[:-1]):
        value = _child_of(holder, step)
        if value is None:
            raise validation(INVALID_PATH)
        holder = _members(value, steps[position + 1])
    return holder


def _child_of(holder: Any, step: Step) -> AttributeValue | None:
    if isinstance(step, Name):
        child: AttributeValue | None = holder.get(step.text)
        return child
    return holder[step.position] if step.position < len(holder) else None


def _members(value: AttributeValue, step: Step) -> Any:
    """The dict of an ``M`` (for a name step) or the list of an ``L`` (for an index step)."""
    kind = "M" if isinstance(step, Name) else "L"
    if kind not in value:
        raise validation(INVALID_PATH)
    return value[kind]


def set_path(item: Item, path: Path, value: AttributeValue) -> None:
    """SET: replace or create the value; an index past a list's end appends."""
    holder = _container(item, path)
    last = path.steps[-1]
    if isinstance(last, Name):
        holder[last.text] = value
    elif last.position < len(holder):
        holder[last.position] = value
    else:
        holder.append(value)


def remove_path(item: Item, path: Path) -> None:
    """REMOVE: drop the attribute, map entry or list element if it is there."""
    holder = _container(item, path)
    last = path.steps[-1]
    if isinstance(last, Name):
        holder.pop(last.text, None)
    elif last.position < len(holder):
        del holder[last.position]


# --- projection ---------------------------------------------------------------------------

# A projection tree: each step maps to its subtree; ``None`` marks a projected leaf.
Tree = dict[Step, "Tree | None"]


def projection_tree(paths: tuple[Path, ...] | list[Path]) -> Tree:
    tree: Tree = {}
    for path in paths:
        node = tree
        for step in path.steps[:-1]:
            child = node.setdefault(step, {})
            assert child is not None  # overlapping paths are rejected before projecting
            node = child
        node[path.steps[-1]] = None
    return tree


def project(item: Item, paths: tuple[Path, ...] | list[Path]) -> Item:
    """The parts of ``item`` the paths name, nested as in the item (ProjectionExpression)."""
    return _project_map(item, projection_tree(paths))


def _project_map(members: dict[str, AttributeValue], tree: Tree) -> dict[str, AttributeValue]:
    result: dict[str, AttributeValue] = {}
    for step, subtree in tree.items():
        assert isinstance(step, Name)
        if step.text in members:
            projected = _project_value(members[step.text], subtree)
            if projected is not None:
                result[step.text] = projected
    return result


def _project_value(value: AttributeValue, tree: Tree | None) -> AttributeValue | None:
    if tree is None:
        return copy.deepcopy(value)
    if "M" in value and all(isinstance(step, Name) for step in tree):
        members = _project_map(value["M"], tree)
        return {"M": members} if members else None
    if "L" in value and all(isinstance(step, Index) for step in tree):
        elements = _project_list(value["L"], tree)
        return {"L": elements} if elements else None
    return None


def _project_list(elements: list[AttributeValue], tree: Tree) -> list[AttributeValue]:
    result: list[AttributeValue] = []
    for step in sorted(tree, key=lambda s: s.position if isinstance(s, Index) else 0):
        assert isinstance(step, Index)
        if step.position < len(elements):
            projected = _project_value(elements[step.position], tree[step])
            if projected is not None:
                result.append(projected)
    return result
