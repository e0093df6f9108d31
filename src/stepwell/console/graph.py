"""A state machine as a drawable graph, and each state's status in one execution.

``layout(definition)`` places every state on a grid: states in layers by their distance
from StartAt, Parallel branches and Map processors as nested boxes. ``statuses(history)``
reads a GetExecutionHistory event list and says, per state name, what the console colours
it: SUCCEEDED (green), FAILED (red), IN_PROGRESS (yellow: entered, not yet left — a task
running, a Wait waiting, a callback pending), CAUGHT_ERROR (orange: failed, then caught),
ABORTED, or absent (never entered: grey).

Both are plain functions over data so the browser only draws what they return.

A Parallel or Map nested more than ``MAX_NESTED_GRAPHS`` deep is drawn as a box with
``"collapsed": true`` instead of its branches: definitions are limited in depth when they
are created, but a stored one may predate the limit, and the drawing of a hundred nested
boxes is neither readable nor encodable (orjson stops at 255 levels).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stepwell.engine.progress import ExecutionProgress

JSON = Any
NODE_WIDTH = 180
NODE_HEIGHT = 44
GAP_X = 40
GAP_Y = 36
PAD = 24
MAX_NESTED_GRAPHS = 32


@dataclass(slots=True)
class Node:
    name: str
    type: str
    x: int = 0
    y: int = 0
    width: int = NODE_WIDTH
    height: int = NODE_HEIGHT
    children: list[Graph] = field(default_factory=list)
    collapsed: bool = False


@dataclass(slots=True)
class Graph:
    """One ``States`` block: its nodes, its edges, and its size once laid out."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # from, to, kind
    width: int = 0
    height: int = 0


def layout(definition: Mapping[str, JSON]) -> dict[str, Any]:
    """The whole machine, laid out, as JSON-ready data."""
    return _to_data(_layout_graph(definition))


def _layout_graph(definition: Mapping[str, JSON], depth: int = 0) -> Graph:
    states = definition.get("States")
    if not isinstance(states, Mapping):
        return Graph()
    graph = Graph()
    layers = _layers(definition.get("StartAt"), states)
    by_name: dict[str, Node] = {}
    for name, body in states.items():
        body = body if isinstance(body, Mapping) else {}
        node = Node(name=name, type=str(body.get("Type", "?")))
        nested = _nested(body)
        if depth < MAX_NESTED_GRAPHS:
            node.children = [_layout_graph(branch, depth + 1) for branch in nested]
        else:
            node.collapsed = bool(nested)
        if node.children:
            node.width = max(
                NODE_WIDTH,
                sum(c.width for c in node.children) + GAP_X * (len(node.children) - 1) + 2 * PAD,
            )
            node.height = NODE_HEIGHT + max(c.height for c in node.children) + PAD
        by_name[name] = node
        graph.nodes.append(node)
        graph.edges.extend((name, target, kind) for target, kind in _targets(body))
    _place(graph, layers, by_name)
    return graph


def _nested(body: Mapping[str, JSON]) -> list[Mapping[str, JSON]]:
    if body.get("Type") == "Parallel" and isinstance(body.get("Branches"), list):
        return [b for b in body["Branches"] if isinstance(b, Mapping)]
    if body.get("Type") == "Map":
        processor = body.get("ItemProcessor") or body.get("Iterator")
        return [processor] if isinstance(processor, Mapping) else []
    return []


def _targets(body: Mapping[str, JSON]) -> Iterable[tuple[str, str]]:
    if isinstance(body.get("Next"), str):
        yield body["Next"], "next"
    if isinstance(body.get("Default"), str):
        yield body["Default"], "default"
    for key, kind in (("Choices", "choice"), ("Catch", "catch")):
        for rule in body.get(key) or ():
            if isinstance(rule, Mapping) and isinstance(rule.get("Next"), str):
                yield rule["Next"], kind


def _layers(start: JSON, states: Mapping[str, JSON]) -> list[list[str]]:
    """States by breadth-first distance from StartAt; unreachable ones last."""
    depth: dict[str, int] = {}
    if isinstance(start, str) and start in states:
        depth[start] = 0
        queue = deque([start])
        while queue:
            name = queue.popleft()
            body = states[name] if isinstance(states[name], Mapping) else {}
            for target, _ in _targets(body):
                if target in states and target not in depth:
                    depth[target] = depth[name] + 1
                    queue.append(target)
    last = max(depth.values(), default=-1) + 1
    for name in states:
        depth.setdefault(name, last)
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in states:
        layers[depth[name]].append(name)
    return layers


def _place(graph: Graph, layers: list[list[str]], nodes: Mapping[str, Node]) -> None:
    widths = [sum(nodes[n].width for n in layer) + GAP_X * (len(layer) - 1) for layer in layers]
    graph.width = max(widths, default=0) + 2 * PAD
    y = PAD
    for layer, width in zip(layers, widths, strict=True):
        x = (graph.width - width) // 2
        for name in layer:
            node = nodes[name]
            node.x, node.y = x, y
            x += node.width + GAP_X
        y += max((nodes[n].height for n in layer), default=0) + GAP_Y
    graph.height = y - GAP_Y + PAD


def _to_data(graph: Graph) -> dict[str, Any]:
    return {
        "width": graph.width,
        "height": graph.height,
        "nodes": [
            {
                "name": n.name,
                "type": n.type,
                "x": n.x,
                "y": n.y,
                "width": n.width,
                "height": n.height,
                "children": [_to_data(c) for c in n.children],
                "collapsed": n.collapsed,
            }
            for n in graph.nodes
        ],
        "edges": [{"from": a, "to": b, "kind": k} for a, b, k in graph.edges],
    }


# --------------------------------------------------------------------- statuses

# The console's colours for the statuses ``engine.progress`` tells apart.
_COLOURED = {"WAITING": "IN_PROGRESS", "TIMED_OUT": "FAILED"}


def statuses(history: Iterable[Mapping[str, JSON]]) -> dict[str, str]:
    """Each entered state's status after the events so far, as the console colours it:
    SUCCEEDED, FAILED, IN_PROGRESS (running or waiting), CAUGHT_ERROR or ABORTED. The
    reading of the history is ``engine.progress``, shared with the command line."""
    progress = ExecutionProgress()
    for event in history:
        progress.add(event)
    return coloured_statuses(progress)


def coloured_statuses(progress: ExecutionProgress) -> dict[str, str]:
    """Each state's status in ``progress``, as the console colours it."""
    return {row.name: _COLOURED.get(row.status, row.status) for row in progress.rows()}
