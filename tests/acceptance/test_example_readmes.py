"""The examples' READMEs point at the seeds by paths relative to the repository (issue 13):
no absolute path of a build machine, and each relative link to a seed names a document
that exists when ``shared/`` is beside the checkout, as it is where the seeds live."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READMES = sorted(
    path
    for path in (ROOT / "examples").rglob("README.md")
    if "idempotent-workflow-sam" not in path.parts  # AWS's own README, unchanged
)
LINK = re.compile(r"\]\(([^)]*shared/seeds/[^)]*)\)")


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_readme_names_its_seed_by_a_relative_path(readme: Path) -> None:
    text = readme.read_text()
    assert "/work/" not in text
    links = LINK.findall(text)
    assert links or "seeds" not in text, "a seed named without a link"
    for link in links:
        assert not link.startswith("/")
        # From the repository root the seed is ../shared/seeds/<name>, whatever the folder
        # (compared as written: the checkout's parent may be reached by a mount).
        target = os.path.normpath(readme.parent.relative_to(ROOT) / link)
        assert target == os.path.join("..", "shared", "seeds", Path(link).name)
        seeds = ROOT / ".." / "shared" / "seeds"
        if seeds.is_dir():
            assert (seeds / Path(link).name).exists(), link
