"""Limits on what a request may make the server hold, and the Host check (issue 9, fault 8
and "Also"): a declared size above the maximum, a shared budget of bytes in flight, a time
limit on slow bodies, and, without authentication, only loopback or configured hosts."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import orjson
import pytest
from api_helpers import JSON_CONTENT_TYPE, RecordingService, asgi_client

from stepwell.api import ApiSettings, create_app
from stepwell.api.hosts import host_name
from stepwell.api.limits import SMALL_REQUEST_BYTES, BytesInFlight
from stepwell.api.protocol import ThrottlingException
from stepwell.app import server_app
from stepwell.service.settings import load_settings

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:m"


def scope_for(headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8083),
    }


API_HEADERS = {
    "host": "127.0.0.1:8083",
    "content-type": JSON_CONTENT_TYPE,
    "x-amz-target": "AWSStepFunctions.ListActivities",
}


class Stalled:
    """A client that sends one chunk of its body and then nothing, until released."""

    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk
        self.sent_chunk = False
        self.release = asyncio.Event()

    async def __call__(self) -> dict[str, Any]:
        if not self.sent_chunk:
            self.sent_chunk = True
            return {"type": "http.request", "body": self.chunk, "more_body": True}
        await self.release.wait()
        return {"type": "http.request", "body": b"}", "more_body": False}


def whole(body: bytes) -> Any:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def answer(app: Any, headers: dict[str, str], receive: Any) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope_for(headers), receive, send)
    return sent[0]["status"], orjson.loads(sent[1]["body"])


def test_bytes_in_flight_are_capped_across_requests_and_given_back() -> None:
    # Fault 8: 150 stalled 7 MiB bodies added 1 GB. Now stalled bodies hold at most the
    # budget; the next request over it is throttled (SDKs retry), and the bytes come back.
    settings = ApiSettings(max_request_bytes_in_flight=1000, max_request_bytes=800)
    service = RecordingService()
    app = create_app(service, settings)

    async def scenario() -> list[tuple[int, str]]:
        stalled = Stalled(b'{"maxResults": 1' + b" " * 600)
        first = asyncio.create_task(answer(app, API_HEADERS, stalled))
        while not stalled.sent_chunk:
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        blocked = await answer(app, {**API_HEADERS, "content-length": "500"}, Stalled(b"{}"))
        stalled.release.set()
        done = await first
        again = await answer(app, {**API_HEADERS, "content-length": "500"}, whole(b" " * 500))
        return [(status, body.get("__type", "ok")) for status, body in (blocked, done, again)]

    blocked, done, again = anyio.run(scenario)
    assert blocked == (400, "ThrottlingException")
    assert done[0] == 200 and again[0] == 200
    assert len(service.calls) == 2


def test_a_slow_body_times_out() -> None:
    app = create_app(RecordingService(), ApiSettings(body_timeout_seconds=0))

    async def scenario() -> tuple[int, dict[str, Any]]:
        return await answer(app, API_HEADERS, Stalled(b'{"maxResults"'))

    status, body = anyio.run(scenario)
    assert (status, body["__type"]) == (408, "RequestTimeoutException")
    assert body["message"] == "The request body did not arrive within 0 seconds"


def test_the_budget_refuses_more_than_its_capacity() -> None:
    budget = BytesInFlight(10)
    budget.take(6)
    with pytest.raises(ThrottlingException):
        budget.take(5)
    budget.give_back(6)
    budget.take(10)
    assert budget.used == 10


def test_large_requests_cannot_take_the_share_kept_for_small_ones() -> None:
    small, large = SMALL_REQUEST_BYTES, SMALL_REQUEST_BYTES + 1
    budget = BytesInFlight(10 * large, reserve=3 * large)
    for _ in range(7):
        budget.take(large)
    with pytest.raises(ThrottlingException):
        budget.take(large)  # past the large requests' share, though the budget is not spent
    for _ in range(3):
        budget.take(small)  # the share kept for small requests
    with pytest.raises(ThrottlingException):
        budget.take(small)  # ... itself bounded
    # A body counts as large once it has grown past the limit, whatever its last chunk.
    budget.give_back(budget.used)
    budget.take(7 * large - 10)
    with pytest.raises(ThrottlingException):
        budget.take(20, request_total=large + 20)
    budget.take(20, request_total=20)


def test_stalled_large_bodies_never_get_a_small_call_throttled() -> None:
    # The soak's attackers stall bodies that claim 7 MiB: as many as the budget holds
    # must leave another client's DescribeStateMachine served (issue 9, fault 8).
    large = SMALL_REQUEST_BYTES * 4
    settings = ApiSettings(max_request_bytes_in_flight=8 * large, max_request_bytes=large)
    service = RecordingService()
    app = create_app(service, settings)
    claiming = {**API_HEADERS, "content-length": str(large)}

    async def scenario() -> tuple[list[tuple[int, str]], tuple[int, dict[str, Any]]]:
        stalls = [Stalled(b"{") for _ in range(8)]
        tasks = [asyncio.create_task(answer(app, claiming, stall)) for stall in stalls]
        while not all(stall.sent_chunk for stall in stalls[:7]):
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        small = await answer(app, API_HEADERS, whole(b"{}"))
        for stall in stalls:
            stall.release.set()
        done = await asyncio.gather(*tasks)
        return [(status, body.get("__type", "ok")) for status, body in done], small

    stalled, (status, _) = anyio.run(scenario)
    assert status == 200
    assert (400, "ThrottlingException") in stalled  # the large ones were capped
    assert len(service.calls) == 1 + sum(1 for status, _ in stalled if status == 200)


@pytest.mark.parametrize(
    ("host", "served"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:8083", True),
        ("localhost:8083", True),
        ("LOCALHOST", True),
        ("[::1]:8083", True),
        ("[::1]", True),
        ("stepwell.internal:80", True),  # configured
        ("sync-stepwell.internal", True),  # boto3's host prefix of TestState
        ("sync-evil.example", False),
        ("evil.example", False),
        ("evil.example:8083", False),
        ("127.0.0.1.evil.example", False),
        ("[::1", False),
        ("", False),
    ],
)
def test_without_authentication_only_loopback_or_allowed_hosts_are_served(
    host: str, served: bool
) -> None:
    # Issue 9 "Also": DNS rebinding. A page on evil.example resolving to 127.0.0.1 talks to
    # the server with Host: evil.example; it must not reach the API or the console.
    service = RecordingService()
    app = server_app(service, ApiSettings(allowed_hosts=("stepwell.internal",)))
    with asgi_client(app) as client:
        api = client.request("POST", "/", {**API_HEADERS, "host": host}, b"{}")
        console = client.request("GET", "/console", {"host": host})
    if served:
        assert (api.status, console.status) == (200, 200)
    else:
        assert (api.status, console.status) == (403, 403)
        assert api.json()["__type"] == "AccessDeniedException"
        assert "allowed_hosts" in api.json()["message"]
        assert service.calls == []


@pytest.mark.parametrize(
    ("headers", "served"),
    [
        ({}, True),  # SDKs and the CLI send neither header
        ({"origin": "http://127.0.0.1:8083", "sec-fetch-site": "same-origin"}, True),
        ({"origin": "http://localhost:3000", "sec-fetch-site": "same-site"}, True),
        ({"origin": "https://stepwell.internal", "sec-fetch-site": "same-origin"}, True),
        ({"sec-fetch-site": "none"}, True),
        ({"origin": "https://evil.example"}, False),
        ({"origin": "https://127.0.0.1.evil.example"}, False),
        ({"origin": "null"}, False),
        ({"origin": "not a url ["}, False),
        ({"sec-fetch-site": "cross-site"}, False),
        ({"origin": "http://localhost:8083", "sec-fetch-site": "Cross-Site"}, False),
    ],
)
def test_without_authentication_cross_site_browser_requests_are_refused(
    headers: dict[str, str], served: bool
) -> None:
    # A page on evil.example may send "simple" requests (text/plain, no CORS preflight)
    # to http://127.0.0.1:8083 with a loopback Host; Origin / Sec-Fetch-Site betray it.
    service = RecordingService()
    app = server_app(service, ApiSettings(allowed_hosts=("stepwell.internal",)))
    with asgi_client(app) as client:
        api = client.request("POST", "/", {**API_HEADERS, **headers}, b"{}")
        plain = {**API_HEADERS, "content-type": "text/plain", **headers}
        other = client.request("POST", "/", plain, b"{}")
        console = client.request("GET", "/console", {"host": "127.0.0.1:8083", **headers})
    if served:
        assert (api.status, console.status) == (200, 200)
    else:
        assert (api.status, other.status, console.status) == (403, 403, 403)
        assert api.json()["__type"] == "AccessDeniedException"
        assert "Cross-site request refused" in api.json()["message"]
        assert service.calls == []


def test_with_authentication_any_host_reaches_the_signature_check() -> None:
    app = create_app(RecordingService(), ApiSettings(credentials={"AKID": "secret"}))
    with asgi_client(app) as client:
        reply = client.request("POST", "/", {**API_HEADERS, "host": "stepwell.example"}, b"{}")
    assert reply.json()["__type"] == "MissingAuthenticationTokenException"


def test_health_answers_any_host_for_readiness_probes() -> None:
    with asgi_client(create_app(RecordingService())) as client:
        assert client.request("GET", "/health", {"host": "10.0.0.7:8083"}).status == 200
        assert client.request("GET", "/x", {"host": "10.0.0.7:8083"}).status == 403


def test_a_request_without_host_is_not_from_a_browser_and_is_served() -> None:
    with asgi_client(create_app(RecordingService())) as client:
        headers = {k: v for k, v in API_HEADERS.items() if k != "host"}
        assert client.request("POST", "/", headers, b"{}").status == 200


@pytest.mark.parametrize(
    ("header", "name"),
    [("[::1]:80", "::1"), ("Example.COM:1", "example.com"), ("[::1", None)],
)
def test_host_name_drops_the_port(header: str, name: str | None) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            {"environ": {"STEPWELL_ALLOWED_HOSTS": "a.example, b.example"}},
            ("a.example", "b.example"),
        ),
        ({"flags": {"allowed_hosts": "c.example"}}, ("c.example",)),
        ({}, ()),
    ],
)
def test_allowed_hosts_is_a_setting(source: dict[str, Any], expected: tuple[str, ...]) -> None:
    settings = load_settings(source.get("flags"), source.get("environ", {}), config=None)
    assert settings.allowed_hosts == expected


def test_allowed_hosts_from_the_config_file_is_a_list(tmp_path: Any) -> None:
    config = tmp_path / "stepwell.toml"
    config.write_text('allowed_hosts = ["stepwell.internal"]\n')
    assert load_settings({}, {}, config=config).allowed_hosts == ("stepwell.internal",)
