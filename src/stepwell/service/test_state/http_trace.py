"""``inspectionData.request`` and ``.response`` at TRACE: the HTTP exchange of an unmocked
HTTP Task (``arn:aws:states:::http:invoke``; API Reference, "InspectionDataRequest",
"InspectionDataResponse").

The request is rebuilt from the task's parameters by the HTTP Task integration itself, so
it is the request that was sent (method, URL with its query, headers, body); the response
is the task's result (``StatusCode``, ``StatusText``, ``Headers``, ``ResponseBody``), or
the cause of a ``States.Http.StatusCode.<code>`` failure, which carries the same object.
Headers are written as a JSON object of name to value (several values joined by ", ").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from stepwell.integrations.http_task import HttpTask, HttpTaskError
from stepwell.language.evaluation import JSON

HTTP_RESOURCE = "arn:aws:states:::http:invoke"


def http_request(http: HttpTask, payload: JSON) -> dict[str, Any] | None:
    """InspectionDataRequest for the parameters an HTTP Task was called with."""
    import httpx

    try:
        arguments = http.request(payload)
    except HttpTaskError:
        return None
    request = httpx.Request(**arguments)
    return {
        "protocol": request.url.scheme,
        "method": request.method,
        "url": str(request.url),
        "headers": _headers(_raw(request.headers.raw)),
        "body": request.content.decode("utf-8", "replace"),
    }


def http_response(url: str, result: JSON) -> dict[str, Any] | None:
    """InspectionDataResponse from the task's result (or its failure cause, parsed)."""
    if not isinstance(result, Mapping) or "StatusCode" not in result:
        return None
    body = result.get("ResponseBody")
    headers = result.get("Headers")
    return {
        "protocol": urlsplit(url).scheme,
        "statusCode": str(result["StatusCode"]),
        "statusMessage": str(result.get("StatusText", "")),
        "headers": _headers(headers if isinstance(headers, Mapping) else {}),
        "body": body if isinstance(body, str) else orjson.dumps(body).decode(),
    }


def failure_result(cause: str | None) -> JSON:
    try:
        value: JSON = orjson.loads(cause or "")
    except orjson.JSONDecodeError:
        return None
    return value


def _raw(pairs: list[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    """Header names as they are sent, not lower-cased."""
    found: dict[str, list[str]] = {}
    for name, value in pairs:
        found.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
    return found


def _headers(headers: Mapping[str, Any]) -> str:
    joined = {
        str(name): ", ".join(map(str, values)) if isinstance(values, list) else str(values)
        for name, values in headers.items()
    }
    return orjson.dumps(joined).decode()
