"""How the embedded S3 files buckets and objects in the ``s3`` documents, and its errors.

``bucket/NAME`` marks a bucket; ``meta/BUCKET/KEY`` holds an object's metadata (content
headers, ETag, size, date, user metadata) and where its body is: ``Body``, one chunked
body (``s3_bodies``), or ``Parts``, the bodies of a completed multipart upload laid end to
end. Objects written before bodies were chunked keep theirs whole in
``body/BUCKET/KEY``; they are still read and deleted. Shared by the object operations
(``s3``) and multipart uploads (``s3_multipart``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote

import orjson

from stepwell.integrations.services.base import Request, ServiceError
from stepwell.integrations.services.documents import Documents
from stepwell.integrations.services.s3_bodies import BodyRef, delete_body

DEFAULT_CONTENT_TYPE: Final = "binary/octet-stream"
MAX_KEY_BYTES: Final = 1024
# Content headers kept with an object and given back on GET and HEAD.
CONTENT_HEADERS: Final = (
    "ContentType",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "CacheControl",
)


def no_bucket(name: str) -> ServiceError:
    return ServiceError(
        "NoSuchBucket",
        "The specified bucket does not exist",
        status=404,
        extra={"BucketName": name},
    )


def no_key(key: str) -> ServiceError:
    return ServiceError(
        "NoSuchKey", "The specified key does not exist.", status=404, extra={"Key": key}
    )


def invalid_argument(message: str) -> ServiceError:
    return ServiceError("InvalidArgument", message)


def bucket_key(name: str) -> str:
    return f"bucket/{name}"


def meta_prefix(bucket: str) -> str:
    return f"meta/{bucket}/"


def meta_key(bucket: str, key: str) -> str:
    return f"meta/{bucket}/{key}"


def legacy_body_key(bucket: str, key: str) -> str:
    """Where a body was kept whole before bodies were chunked (still read and deleted)."""
    return f"body/{bucket}/{key}"


def body_parts(meta: dict[str, Any]) -> list[BodyRef] | None:
    """The bodies an object's bytes are, in order (None: a whole legacy body)."""
    if "Parts" in meta:
        return [BodyRef.from_json(part) for part in meta["Parts"]]
    body = meta.get("Body")
    return None if body is None else [BodyRef.from_json(body)]


def replace_object(
    documents: Documents, bucket: str, key: str, meta: dict[str, Any] | None
) -> None:
    """Put (or, with None, delete) an object's metadata, deleting the body it replaces."""
    raw = documents.get(meta_key(bucket, key))
    if raw is not None:
        parts = body_parts(orjson.loads(raw))
        if parts is None:
            documents.delete(legacy_body_key(bucket, key))
        for part in parts or []:
            delete_body(documents, part)
    if meta is None:
        documents.delete(meta_key(bucket, key))
    else:
        documents.put(meta_key(bucket, key), orjson.dumps(meta))


def stored_headers(request: Request) -> dict[str, str]:
    headers = {name: str(request[name]) for name in CONTENT_HEADERS if request.get(name)}
    headers.setdefault("ContentType", DEFAULT_CONTENT_TYPE)
    return headers


def check_key(key: str) -> None:
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ServiceError("KeyTooLongError", "Your key is too long")


def location(request: Request) -> tuple[str, str]:
    bucket, key = str(request.get("Bucket") or ""), str(request.get("Key") or "")
    if not key:
        raise invalid_argument("A key must be specified")
    return bucket, key


def require_bucket(documents: Documents, name: str) -> None:
    if documents.get(bucket_key(name)) is None:
        raise no_bucket(name)


def load_object(documents: Documents, bucket: str, key: str) -> dict[str, Any]:
    require_bucket(documents, bucket)
    raw = documents.get(meta_key(bucket, key))
    if raw is None:
        raise no_key(key)
    meta: dict[str, Any] = orjson.loads(raw)
    return meta


def head_of(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        **{name: meta[name] for name in CONTENT_HEADERS if name in meta},
        "AcceptRanges": "bytes",
        "ContentLength": meta["Size"],
        "ETag": meta["ETag"],
        "LastModified": date_of(meta["LastModified"]),
        "Metadata": meta.get("Metadata", {}),
    }


def date_of(seconds: float) -> datetime:
    # S3 keeps last-modified times to the second.
    return datetime.fromtimestamp(int(seconds), UTC)


def as_bytes(body: Any) -> bytes:
    """A PutObject ``Body``: bytes, text (UTF-8), a file-like object, or nothing."""
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    read = getattr(body, "read", None)
    if callable(read):
        return as_bytes(read())
    raise invalid_argument("Body must be bytes, text or a readable object.")


def _etag_listed(header: str, etag: str) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` list names ``etag`` (or is ``*``)."""
    tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in tags or etag.strip('"') in tags


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        status=412,
        extra={"Condition": condition},
    )


def check_read_conditions(request: Request, meta: dict[str, Any]) -> None:
    """``If-Match`` (412 when the ETag differs) and ``If-None-Match`` (304 when it is the
    same) of GetObject and HeadObject."""
    if_match, if_none_match = request.get("IfMatch"), request.get("IfNoneMatch")
    if if_match and not _etag_listed(str(if_match), meta["ETag"]):
        raise precondition_failed("If-Match")
    if if_none_match and _etag_listed(str(if_none_match), meta["ETag"]):
        raise ServiceError("NotModified", "Not Modified", status=304)


def check_write_conditions(request: Request, existing: bytes | None) -> None:
    """Conditional writes: ``If-None-Match: *`` only creates, ``If-Match`` only replaces
    the object with that ETag (checked in the publishing transaction, so atomically)."""
    if_match, if_none_match = request.get("IfMatch"), request.get("IfNoneMatch")
    if if_none_match and existing is not None:
        raise precondition_failed("If-None-Match")
    if if_match:
        if existing is None:
            raise no_key(str(request.get("Key") or ""))
        if not _etag_listed(str(if_match), orjson.loads(existing)["ETag"]):
            raise precondition_failed("If-Match")


def copy_source(text: str) -> tuple[str, str]:
    """``bucket/key`` of an ``x-amz-copy-source`` (URL-encoded, maybe with a leading ``/``)."""
    path = unquote(text.partition("?")[0]).lstrip("/")
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"
        )
    return bucket, key
