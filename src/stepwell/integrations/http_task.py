"""The HTTP Task, ``arn:aws:states:::http:invoke``, over httpx.

Follows the Developer Guide, "Call HTTPS APIs in Step Functions workflows": ``Parameters``
hold ``ApiEndpoint`` and ``Method`` (required), ``Headers``, ``QueryParameters``,
``RequestBody`` and ``Transform`` (``RequestBodyEncoding``: ``NONE`` or ``URL_ENCODED``;
``RequestEncodingOptions.ArrayFormat``: ``INDICES`` (default), ``REPEAT``, ``COMMAS`` or
``BRACKETS``). The request carries ``User-Agent: Amazon|StepFunctions|HttpInvoke|REGION``
and ``Range: bytes=0-262144``, as AWS sends them. Headers the guide lists as unsupported
fail the task with ``States.Runtime``; so does ``Authorization`` (credentials belong in the
EventBridge connection).

The result is ``{"Headers": {name: [values]}, "ResponseBody": ..., "StatusCode": "200",
"StatusText": "OK"}``; a JSON response body is parsed, any other is text. A status outside
2xx fails the task with ``States.Http.StatusCode.<code>`` and that same object, as JSON, as
the cause; a connection failure or the 60-second timeout fails it with
``States.Http.Socket``.

Decision: ``Authentication.ConnectionArn`` is accepted and ignored — Stepwell has no
EventBridge connection to read secrets from; put credentials in ``Headers`` instead (an
``Authorization`` header is refused, as AWS refuses it, so use the API's own header).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

import orjson

from stepwell.integrations.functions import Outcome

if TYPE_CHECKING:
    import httpx

TIMEOUT_SECONDS: Final = 60.0
METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"})
UNSUPPORTED_HEADERS: Final = frozenset(
    name.lower()
    for name in (
        "A-IM", "Accept-Charset", "Accept-Datetime", "Accept-Encoding", "Authorization",
        "Cache-Control", "Connection", "Content-Encoding", "Content-MD5", "Date", "Expect",
        "Forwarded", "From", "Host", "HTTP2-Settings", "If-Match", "If-Modified-Since",
        "If-None-Match", "If-Range", "If-Unmodified-Since", "Max-Forwards", "Origin",
        "Pragma", "Proxy-Authorization", "Referer", "Server", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Via", "Warning",
    )
)  # fmt: skip
UNSUPPORTED_PREFIXES: Final = ("x-forwarded-", "x-amz-", "x-amzn-")
ARRAY_FORMATS: Final = frozenset({"INDICES", "REPEAT", "COMMAS", "BRACKETS"})


class HttpTaskError(Exception):
    """A request that cannot be sent as given (``States.Runtime``)."""


class HttpTask:
    def __init__(
        self,
        region: str = "us-east-1",
        client: Callable[[], httpx.Client] | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.region = region
        self.client = client or (lambda: _client(timeout))

    def invoke(self, payload: Any) -> Outcome:
        return self.exchange(payload)[0]

    def exchange(self, payload: Any) -> tuple[Outcome, httpx.Response | None]:
        """The task's outcome and the response as received, when one came (TestState's
        TRACE level shows it)."""
        try:
            request = self.request(payload)
        except HttpTaskError as problem:
            return Outcome(error="States.Runtime", cause=str(problem)), None
        import httpx

        try:
            with self.client() as client:
                response = client.send(client.build_request(**request))
        except httpx.HTTPError as failure:
            cause = f"{type(failure).__name__}: {failure}"
            return Outcome(error="States.Http.Socket", cause=cause), None
        result = _result(response)
        if not 200 <= response.status_code < 300:
            failed = Outcome(
                error=f"States.Http.StatusCode.{response.status_code}",
                cause=orjson.dumps(result).decode(),
            )
            return failed, response
        return Outcome(output=result), response

    def request(self, payload: Any) -> dict[str, Any]:
        """httpx ``build_request`` arguments for the task's Parameters."""
        if not isinstance(payload, Mapping):
            raise HttpTaskError("The HTTP Task requires Parameters with ApiEndpoint and Method.")
        endpoint = payload.get("ApiEndpoint")
        method = payload.get("Method")
        if not isinstance(endpoint, str) or not endpoint:
            raise HttpTaskError("The field 'ApiEndpoint' is required and must be a string.")
        _check_url(endpoint)
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise HttpTaskError(
                f"The field 'Method' must be one of {', '.join(sorted(METHODS))}; got {method!r}."
            )
        headers = _headers(payload.get("Headers") or {})
        headers["User-Agent"] = f"Amazon|StepFunctions|HttpInvoke|{self.region}"
        headers["Range"] = "bytes=0-262144"
        arguments: dict[str, Any] = {"method": method.upper(), "url": endpoint, "headers": headers}
        query = payload.get("QueryParameters")
        if query:
            arguments["params"] = _pairs(_mapping(query, "QueryParameters"), "REPEAT")
        if "RequestBody" in payload:
            content, content_type = _body(payload["RequestBody"], payload.get("Transform") or {})
            arguments["content"] = content
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = content_type
        return arguments


def _client(timeout: float) -> httpx.Client:
    import httpx  # imported when first needed: it takes a noticeable time to import

    return httpx.Client(timeout=timeout)


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise HttpTaskError(f"The field '{field}' must be a JSON object.")
    return value


def _headers(value: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, item in _mapping(value, "Headers").items():
        lower = str(name).lower()
        if lower in UNSUPPORTED_HEADERS or lower.startswith(UNSUPPORTED_PREFIXES):
            raise HttpTaskError(f"The header '{name}' is not supported in an HTTP Task.")
        text = ",".join(map(_text, item)) if isinstance(item, list) else _text(item)
        if not (str(name).isascii() and text.isascii()):
            raise HttpTaskError(f"The header '{name}' must have an ASCII name and value.")
        headers[str(name)] = text
    return headers


def _check_url(endpoint: str) -> None:
    """Refuse an endpoint that is not a URL at all (``http://[::1``); one with a
    scheme other than http(s) or an unknown host fails when sent (States.Http.Socket)."""
    import httpx

    try:
        httpx.URL(endpoint)
    except httpx.InvalidURL as problem:
        raise HttpTaskError(f"The field 'ApiEndpoint' is not a valid URL: {problem}") from None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _body(body: Any, transform: Any) -> tuple[bytes, str]:
    options = _mapping(transform, "Transform")
    encoding = options.get("RequestBodyEncoding", "NONE")
    if encoding == "URL_ENCODED":
        array_format = _mapping(
            options.get("RequestEncodingOptions") or {}, "RequestEncodingOptions"
        ).get("ArrayFormat", "INDICES")
        if array_format not in ARRAY_FORMATS:
            raise HttpTaskError(f"Unsupported ArrayFormat {array_format!r}.")
        form = urlencode(_pairs(_mapping(body, "RequestBody"), array_format))
        return form.encode(), "application/x-www-form-urlencoded"
    if encoding != "NONE":
        raise HttpTaskError(f"Unsupported RequestBodyEncoding {encoding!r}.")
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=UTF-8"
    return orjson.dumps(body), "application/json; charset=UTF-8"


def _pairs(values: Mapping[str, Any], array_format: str, prefix: str = "") -> list[tuple[str, str]]:
    """Form/query pairs; arrays per ``array_format``, objects as ``key[member]``."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        key = f"{prefix}[{name}]" if prefix else str(name)
        if isinstance(value, Mapping):
            pairs.extend(_pairs(value, array_format, key))
        elif isinstance(value, list):
            pairs.extend(_array(key, value, array_format))
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def _array(key: str, items: list[Any], array_format: str) -> list[tuple[str, str]]:
    if array_format == "COMMAS":
        return [(key, ",".join(_scalar(item) for item in items))]
    if array_format == "REPEAT":
        return [(key, _scalar(item)) for item in items]
    if array_format == "BRACKETS":
        return [(f"{key}[]", _scalar(item)) for item in items]
    return [(f"{key}[{index}]", _scalar(item)) for index, item in enumerate(items)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return _text(value)


def _result(response: httpx.Response) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in response.headers.raw:  # names as the server spelled them
        headers.setdefault(raw_name.decode("latin-1"), []).append(raw_value.decode("latin-1"))
    return {
        "Headers": headers,
        "ResponseBody": _response_body(response),
        "StatusCode": str(response.status_code),
        "StatusText": response.reason_phrase or _reason(response.status_code),
    }


def _response_body(response: httpx.Response) -> Any:
    content_type = response.headers.get("content-type", "")
    if "json" in content_type and response.content:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass
    return response.text


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
