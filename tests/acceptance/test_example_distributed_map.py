"""The Distributed Map example runs as the README says: 1,000 CSV records in 20 batches,
each a child execution, results written back to the embedded S3."""

from __future__ import annotations

import pytest

from examples.distributed_map import run


def test_distributed_map_example(capsys: pytest.CaptureFixture[str]) -> None:
    run.main()
    printed = capsys.readouterr().out
    assert "execution SUCCEEDED" in printed
    assert "1000/1000 records in 20/20 child executions" in printed
    assert "ListExecutions(mapRunArn) lists 20 children" in printed
    assert "/SUCCEEDED_0.json" in printed
