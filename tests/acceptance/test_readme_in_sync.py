"""The README shows ``test_readme_test_state.py`` verbatim, so the example it prints is
the test ``make test`` runs (issue 10)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_shows_the_test_state_example_verbatim() -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    example = (ROOT / "tests" / "acceptance" / "test_readme_test_state.py").read_text()
    assert example in blocks
