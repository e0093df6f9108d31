"""Which of a function's declared dependencies this environment does not satisfy.

Functions run on the interpreter that runs Stepwell (``processes.py``), so a
``requirements.txt`` beside the code is a promise the user's environment must keep;
``stepwell up`` names every requirement it does not, with what is installed instead.
Lines that are not plain requirements (``-r``, ``--index-url``, URLs) are skipped.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement


def unmet_requirements(code: Path) -> list[str]:
    """One line per requirement of ``code/requirements.txt`` that is not installed."""
    path = code / "requirements.txt"
    if not path.is_file():
        return []
    unmet = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            unmet.append(f"{text} (not installed)")
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, True):
            unmet.append(f"{text} ({installed} installed)")
    return unmet
