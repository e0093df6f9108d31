"""S3 (REST-XML) over the embedded buckets: which operation a request is, from the model.

Every S3 operation in botocore's model has an HTTP method and a request URI template:
``PUT /{Bucket}/{Key+}`` (PutObject), ``GET /{Bucket}?list-type=2`` (ListObjectsV2),
``POST /{Bucket}?delete`` (DeleteObjects). A request is matched against all of them, not
only the ones Stepwell implements, so that ``GET /bucket?acl`` is recognised as
GetBucketAcl and answered ``NotImplemented`` instead of being mistaken for a listing. The
most specific template wins (the most query parameters it requires, in the URI or as
required members: UploadPart's ``partNumber`` and ``uploadId``); CopyObject and
PutObject share theirs and differ by the ``x-amz-copy-source`` header, as do
UploadPartCopy and UploadPart. botocore also adds
``x-id=Operation`` to some URIs, which names the operation outright.

Only the implemented operations' input shapes are compiled into validators (compiling
all of S3's would cost a second at start-up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl

from stepwell.api.model import ServiceModel, load_service_model
from stepwell.api.protocols.base import ServiceApi
from stepwell.api.validation import compile_request_validators

OPERATIONS: Final = (
    "ListBuckets",
    "CreateBucket",
    "HeadBucket",
    "DeleteBucket",
    "ListObjects",
    "ListObjectsV2",
    "DeleteObjects",
    "PutObject",
    "CopyObject",
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "UploadPartCopy",
)


@dataclass(frozen=True, slots=True)
class UriTemplate:
    """Where one operation is: method, what the path names, the query it requires."""

    operation: str
    method: str
    target: str  # "service" (/), "bucket" (/{Bucket}) or "object" (/{Bucket}/{Key+})
    query: tuple[tuple[str, str | None], ...]  # required parameters, with a value or not

    def matches(self, method: str, target: str, query: Mapping[str, str]) -> bool:
        return (
            self.method == method
            and self.target == target
            and all(name in query and value in (None, query[name]) for name, value in self.query)
        )


def uri_templates(model: ServiceModel) -> list[UriTemplate]:
    """The URI templates of every operation addressed by bucket and key."""
    found = []
    for operation, definition in model.operations.items():
        http = definition["http"]
        path, _, query = str(http["requestUri"]).partition("?")
        target = {"/": "service", "/{Bucket}": "bucket", "/{Bucket}/{Key+}": "object"}.get(path)
        if target is None:
            continue
        required = tuple(
            (name, value if "=" in part else None)
            for part in query.split("&")
            if part
            for name, _, value in [part.partition("=")]
            if name != "x-id"
        )
        required += _required_query_members(model, operation)
        found.append(UriTemplate(operation, str(http["method"]), target, required))
    return found


def _required_query_members(model: ServiceModel, operation: str) -> tuple[tuple[str, None], ...]:
    """Query parameters the input shape requires (UploadPart's ``partNumber``, ``uploadId``)."""
    shape_name = model.operation_shape(operation, "input")
    if shape_name is None:
        return ()
    shape = model.shapes[shape_name]
    members = shape.get("members", {})
    return tuple(
        (str(members[name]["locationName"]), None)
        for name in shape.get("required", [])
        if members[name].get("location") == "querystring"
    )


class OperationMatcher:
    """Finds the S3 operation a request is."""

    def __init__(self, model: ServiceModel) -> None:
        self._templates = uri_templates(model)

    def operation(
        self, method: str, target: str, query: Mapping[str, str], copy: bool
    ) -> str | None:
        """The operation's name, or None when no operation has this shape."""
        named = query.get("x-id")
        candidates = [
            t
            for t in self._templates
            if t.matches(method, target, query) and named in (None, t.operation)
        ]
        if not candidates:
            return None
        most = max(len(t.query) for t in candidates)
        best = [t.operation for t in candidates if len(t.query) == most]
        # A copy and its upload share a URI; the x-amz-copy-source header tells them apart.
        best = [name for name in best if ("Copy" in name) == copy] or best
        implemented = [name for name in best if name in OPERATIONS]
        return (implemented or best)[0]


def query_parameters(query_string: str) -> dict[str, str]:
    """The query string's parameters (a bare ``?delete`` is ``{"delete": ""}``)."""
    return dict(parse_qsl(query_string, keep_blank_values=True))


def _load() -> ServiceApi:
    model = load_service_model("s3")
    served = ServiceModel(
        metadata=model.metadata,
        operations={name: model.operations[name] for name in OPERATIONS},
        shapes=model.shapes,
    )
    return ServiceApi(
        name="s3",
        model=model,
        protocols=("rest-xml",),
        error_namespace="",
        validators=compile_request_validators(served, decode_blobs=False),
        encoders={},
    )


API: Final = _load()
MATCHER: Final = OperationMatcher(API.model)
