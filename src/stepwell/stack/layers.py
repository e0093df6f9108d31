"""Layers with local content, on the path of the functions that name them.

Lambda extracts each layer of a function into ``/opt`` and puts its folders on the
runtime's path (Lambda Developer Guide, "Packaging your layer content": ``python`` and
``python/lib/python3.x/site-packages`` for Python, ``nodejs/node_modules`` for Node.js).
A SAM layer with a build method (``Metadata: BuildMethod: python3.12``) has its source at
the top of its ``ContentUri``, which ``sam build`` moves into ``python/``; so a local
layer folder without those subfolders is itself on the path. Here the folders stay where
they are and go on ``PYTHONPATH`` or ``NODE_PATH``, after the function's own code as on
Lambda. A layer named by an ARN outside the template cannot be fetched: what it brings
must be installed here (``stepwell up`` warns).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stepwell.stack.plan import Plan

_PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"


def local_layers(plan: Plan, layers: Any) -> tuple[list[Path], list[str]]:
    """The content folders of ``layers`` (a function's ``Layers``) that the template
    builds, and the ARNs of the others."""
    found: list[Path] = []
    elsewhere: list[str] = []
    for arn in layers if isinstance(layers, list) else []:
        path = plan.layers.get(str(arn))
        if path is None:
            elsewhere.append(str(arn))
        else:
            found.append(path)
    return found, elsewhere


def layer_environment(
    folders: list[Path], runtime: str, environment: Mapping[str, str]
) -> dict[str, str]:
    """``environment`` with the layer folders on the runtime's module path."""
    if not folders:
        return dict(environment)
    node = runtime.startswith("nodejs")
    variable = "NODE_PATH" if node else "PYTHONPATH"
    paths = [str(p) for folder in folders for p in (_node if node else _python)(folder)]
    if environment.get(variable):
        paths.append(environment[variable])
    return {**environment, variable: os.pathsep.join(paths)}


def _python(folder: Path) -> list[Path]:
    inner = [folder / "python", folder / "python" / "lib" / _PYTHON / "site-packages"]
    return [p for p in inner if p.is_dir()] or [folder]


def _node(folder: Path) -> list[Path]:
    inner = [folder / "nodejs" / "node_modules", folder / "node_modules"]
    return [p for p in inner if p.is_dir()] or [folder]
