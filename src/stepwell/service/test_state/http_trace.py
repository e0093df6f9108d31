"""``inspectionData.request`` and ``.response`` at TRACE: the HTTP exchange of an unmocked
HTTP Task (``arn:aws:states:::http:invoke``; API Reference, "InspectionDataRequest",
"InspectionDataResponse"), written as the Developer Guide's TRACE example shows it
("Using TestState API to test a state", Example 3):

- ``request``: ``protocol`` (``https``), ``method``, ``url`` with its query string,
  ``headers`` and ``body`` (the text sent; ``""`` without one). ``headers`` is one string,
  ``[name: value, name: value]``: the definition's ``Headers`` in their order (then, on
  AWS, the connection's), then ``User-Agent`` and ``Range``. Headers the HTTP client adds
  on its own (``Host``, ``Content-Type``, ``Content-Length`` …) are not listed.
- ``response``: ``protocol``, ``statusCode`` and ``statusMessage`` as strings,
  ``headers`` as received in the same ``[name: value, …]`` form, ``body`` the text
  received, not the parsed ``ResponseBody``.

``revealSecrets``: AWS omits, without it, what an EventBridge connection adds to the
request (its authorization header, header, query and body parameters); the definition's
own values and the response are never omitted. Stepwell's HTTP Task reads no connection
(``integrations/http_task.py``), so there is nothing to omit and both answers are the
same. AWS also needs the caller to hold ``states:RevealSecrets``; Stepwell has no IAM, so
every caller holds it.

The exchange is the HTTP Task integration's own (``HttpTask.exchange``): the request is
rebuilt from the task's parameters by the same code that sent it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from stepwell.integrations.http_task import HttpTask, HttpTaskError
from stepwell.language.evaluation import JSON

if TYPE_CHECKING:
    import httpx

_ADDED = ("User-Agent", "Range")  # headers Step Functions adds to every request, in order


def http_request(http: HttpTask, payload: JSON) -> dict[str, str] | None:
    """InspectionDataRequest for the parameters an HTTP Task was called with."""
    import httpx

    try:
        arguments = http.request(payload)
    except HttpTaskError:
        return None  # not sent: the task failed with States.Runtime
    request = httpx.Request(**arguments)
    sent: dict[str, str] = arguments["headers"]
    given = payload.get("Headers") if isinstance(payload, Mapping) else None
    names = dict.fromkeys([*map(str, given if isinstance(given, Mapping) else ()), *_ADDED])
    return {
        "protocol": request.url.scheme,
        "method": request.method,
        "url": str(request.url),
        "headers": header_list((name, sent[name]) for name in names),
        "body": request.content.decode("utf-8", "replace"),
    }


def http_response(response: httpx.Response) -> dict[str, str]:
    """InspectionDataResponse for the response as it came."""
    return {
        "protocol": response.request.url.scheme,
        "statusCode": str(response.status_code),
        "statusMessage": response.reason_phrase,
        "headers": header_list(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in response.headers.raw  # names as the server spelled them
        ),
        "body": response.text,
    }


def header_list(headers: Iterable[tuple[str, str]]) -> str:
    """``[name: value, name: value]``, AWS's text for a list of headers."""
    return "[" + ", ".join(f"{name}: {value}" for name, value in headers) + "]"


def trace(http: HttpTask, payload: JSON, response: httpx.Response | None) -> dict[str, Any]:
    """``request`` and ``response`` for one exchange, each when there was one."""
    found: dict[str, Any] = {}
    request = http_request(http, payload)
    if request is not None:
        found["request"] = request
        if response is not None:
            found["response"] = http_response(response)
    return found
