from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "apps"
SEED_APP = EXAMPLES / "idempotent-workflow-sam"


@pytest.fixture
def write_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a small application: ``write_app(template_text, {"path": "content"})``."""

    def write(template: str, files: dict[str, str] | None = None) -> Path:
        for name, content in (files or {}).items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        (tmp_path / "template.yaml").write_text(template)
        return tmp_path / "template.yaml"

    return write
