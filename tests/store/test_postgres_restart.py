"""A real PostgreSQL restart under running executions (issue 9, fault 1): on a private
throwaway server (``pg_cluster``), never the shared one. While the server is down the
API answers ``503 ServiceUnavailable`` and the loops back off; once it is back every
acknowledged execution completes, and each loop logged its trouble once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stepwell.service import errors as err
from stepwell.service.host import Host
from stepwell.service.settings import Settings
from tests.store.pg_cluster import PrivateCluster, postgres_bin

BIN = postgres_bin()
pytestmark = pytest.mark.skipif(
    BIN is None, reason="PostgreSQL server binaries (initdb, pg_ctl) are not installed"
)
ROLE = "arn:aws:iam::123456789012:role/stepwell"
WAIT_A_SECOND = {
    "StartAt": "Before",
    "States": {
        "Before": {"Type": "Pass", "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "After"},
        "After": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    assert BIN is not None
    server = PrivateCluster(BIN)
    server.start()
    yield server
    server.destroy()


def poll(condition: Callable[[], bool], seconds: float = 90.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def statuses(host: Host, arns: list[str]) -> list[str]:
    return [host.service.handle("DescribeExecution", {"executionArn": a})["status"] for a in arns]


@pytest.mark.parametrize("stop", ["fast", "immediate"])
def test_every_acknowledged_execution_completes_across_a_restart(
    cluster: PrivateCluster, stop: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    host = Host(Settings(db=cluster.url, workers=2, invokers=2)).start()
    try:
        machine = host.service.handle(
            "CreateStateMachine",
            {"name": "m", "definition": json.dumps(WAIT_A_SECOND), "roleArn": ROLE},
        )["stateMachineArn"]
        start = {"stateMachineArn": machine}
        acknowledged = [host.service.handle("StartExecution", start)["executionArn"]]
        acknowledged += [host.service.handle("StartExecution", start)["executionArn"]]
        cluster.stop(stop)  # their Wait timers come due while the server is away
        with pytest.raises(err.ServiceUnavailable, match="PostgreSQL database cannot be reached"):
            host.service.handle("ListStateMachines", {})
        assert poll(lambda: host.health.report()["status"] == "unavailable")
        assert poll(lambda: host.health.loop("listen").failures >= 1)
        cluster.start()
        acknowledged += [host.service.handle("StartExecution", start)["executionArn"]]
        assert poll(lambda: statuses(host, acknowledged) == ["SUCCEEDED"] * 3)
        assert poll(lambda: host.health.report()["status"] == "ok")
        assert all(thread.is_alive() for thread in host.pool._threads)  # type: ignore[union-attr]
    finally:
        host.stop()
    streaks = [r.getMessage() for r in caplog.records if "retrying with back-off" in r.getMessage()]
    assert len(streaks) <= 2 * len(host.health.report()["loops"])  # once per streak, at most
