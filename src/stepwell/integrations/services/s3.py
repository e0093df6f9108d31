"""An embedded S3-like object store: buckets and objects, kept in a store's documents.

Semantics follow the Amazon S3 API Reference for the operations a workflow needs:
``CreateBucket``, ``HeadBucket``, ``ListBuckets``, ``DeleteBucket``, ``PutObject``,
``GetObject``, ``HeadObject``, ``DeleteObject`` and ``ListObjectsV2`` (``Prefix``,
``Delimiter``, ``MaxKeys``, ``ContinuationToken``, ``StartAfter``). An object has its body
bytes, a content type, an ETag (the quoted MD5 of the body, as S3 gives for a single-part
upload), a last-modified time and user metadata.

Design decision: one set of operations with AWS's parameter names, as for the other
embedded services, so Task states (``arn:aws:states:::aws-sdk:s3:getObject``), the
Distributed Map's ItemReader and ResultWriter, Python code (``services.s3.put_object(...)``)
and, later, an S3 REST front end all call the same functions. Each operation is one
``documents("s3")`` transaction. An object's metadata (``meta/BUCKET/KEY``) is kept apart
from its body (``body/BUCKET/KEY``) so that listing a bucket never reads bodies.
``call`` returns ``Body`` as bytes and dates as ``datetime``, as botocore does; the
boto3-like methods wrap ``Body`` in botocore's ``StreamingBody``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import orjson

from stepwell.integrations.services.base import (
    Request,
    Response,
    ServiceClient,
    ServiceError,
    as_client_error,
    operation_name,
)
from stepwell.integrations.services.documents import Documents

NAMESPACE: Final = "s3"
DEFAULT_CONTENT_TYPE: Final = "binary/octet-stream"
MAX_KEYS: Final = 1000
_BUCKET_NAME: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
OWNER: Final = {"DisplayName": "stepwell", "ID": "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf7"}


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


def etag_of(body: bytes) -> str:
    """S3's ETag of a single-part upload: the body's MD5, hex, in double quotes."""
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


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


class S3Client(ServiceClient):
    """S3's API over the embedded buckets (``put_object(Bucket=..., Key=..., Body=...)``)."""

    service_name: ClassVar[str] = "s3"

    @contextmanager
    def _documents(self) -> Iterator[Documents]:
        with self.store.documents(NAMESPACE) as documents:
            yield documents

    def __getattr__(self, attribute: str) -> Callable[..., Response]:
        name = operation_name(attribute)
        if attribute.startswith("_") or not self.supports(name):
            raise AttributeError(f"{type(self).__name__} has no operation {attribute!r}")

        def method(**request: Any) -> Response:
            try:
                response = self.call(name, request)
            except ServiceError as error:
                raise as_client_error(error, name) from None
            if isinstance(response.get("Body"), bytes):
                response["Body"] = _streaming(response["Body"])
            return {**response, "ResponseMetadata": {"HTTPStatusCode": 200}}

        method.__name__ = attribute
        return method

    # --- buckets -----------------------------------------------------------------------------

    def _create_bucket(self, request: Request) -> Response:
        name = str(request.get("Bucket", ""))
        if not _BUCKET_NAME.fullmatch(name) or ".." in name:
            raise ServiceError("InvalidBucketName", "The specified bucket is not valid.")
        with self._documents() as documents:
            if documents.get(_bucket_key(name)) is not None:
                raise ServiceError(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you "
                    "already own it.",
                    status=409,
                )
            documents.put(_bucket_key(name), orjson.dumps({"created": self.clock()}))
        return {"Location": f"/{name}"}

    def _head_bucket(self, request: Request) -> Response:
        with self._documents() as documents:
            _bucket(documents, str(request.get("Bucket", "")))
        return {"BucketRegion": self.region}

    def _list_buckets(self, request: Request) -> Response:
        with self._documents() as documents:
            found = documents.scan("bucket/")
        buckets = [
            {"Name": key[len("bucket/") :], "CreationDate": _date(orjson.loads(raw)["created"])}
            for key, raw in found
        ]
        return {"Buckets": buckets, "Owner": OWNER}

    def _delete_bucket(self, request: Request) -> Response:
        name = str(request.get("Bucket", ""))
        with self._documents() as documents:
            _bucket(documents, name)
            if documents.scan(_meta_prefix(name)):
                raise ServiceError(
                    "BucketNotEmpty", "The bucket you tried to delete is not empty", status=409
                )
            documents.delete(_bucket_key(name))
        return {}

    # --- objects -----------------------------------------------------------------------------

    def _put_object(self, request: Request) -> Response:
        bucket, key = _location(request)
        body = as_bytes(request.get("Body"))
        etag = etag_of(body)
        meta = {
            "ContentType": str(request.get("ContentType") or DEFAULT_CONTENT_TYPE),
            "ETag": etag,
            "LastModified": self.clock(),
            "Size": len(body),
            "Metadata": {str(k): str(v) for k, v in dict(request.get("Metadata") or {}).items()},
        }
        with self._documents() as documents:
            _bucket(documents, bucket)
            documents.put(_meta_key(bucket, key), orjson.dumps(meta))
            documents.put(_body_key(bucket, key), body)
        return {"ETag": etag}

    def _get_object(self, request: Request) -> Response:
        bucket, key = _location(request)
        with self._documents() as documents:
            meta = _object(documents, bucket, key)
            body = documents.get(_body_key(bucket, key)) or b""
        return {**_head(meta), "Body": body}

    def _head_object(self, request: Request) -> Response:
        bucket, key = _location(request)
        with self._documents() as documents:
            meta = _object(documents, bucket, key)
        return _head(meta)

    def _delete_object(self, request: Request) -> Response:
        bucket, key = _location(request)
        with self._documents() as documents:
            _bucket(documents, bucket)
            documents.delete(_meta_key(bucket, key))
            documents.delete(_body_key(bucket, key))
        return {}

    def _list_objects_v2(self, request: Request) -> Response:
        bucket = str(request.get("Bucket", ""))
        prefix = str(request.get("Prefix") or "")
        delimiter = str(request.get("Delimiter") or "")
        max_keys = _max_keys(request.get("MaxKeys"))
        token = request.get("ContinuationToken")
        after = _token_key(str(token)) if token else str(request.get("StartAfter") or "")
        with self._documents() as documents:
            _bucket(documents, bucket)
            found = documents.scan(_meta_prefix(bucket) + prefix)
        start = len(_meta_prefix(bucket))
        contents: list[dict[str, Any]] = []
        prefixes: list[str] = []
        truncated, last = False, ""
        for stored, raw in found:
            key = stored[start:]
            if key <= after:
                continue
            common = _common_prefix(key, prefix, delimiter)
            if common is not None and (common in prefixes or common <= after):
                continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            if common is not None:
                prefixes.append(common)
                last = common + "\uffff"  # past every key under it
            else:
                contents.append(_listed(key, orjson.loads(raw)))
                last = key
        response: dict[str, Any] = {
            "IsTruncated": truncated,
            "Name": bucket,
            "Prefix": prefix,
            "MaxKeys": max_keys,
            "KeyCount": len(contents) + len(prefixes),
            "EncodingType": "url" if request.get("EncodingType") == "url" else None,
        }
        response = {k: v for k, v in response.items() if v is not None}
        if contents:
            response["Contents"] = contents
        if delimiter:
            response["Delimiter"] = delimiter
        if prefixes:
            response["CommonPrefixes"] = [{"Prefix": p} for p in prefixes]
        if token:
            response["ContinuationToken"] = str(token)
        if request.get("StartAfter"):
            response["StartAfter"] = str(request["StartAfter"])
        if truncated:
            response["NextContinuationToken"] = _token(last)
        return response


S3Client.operations = {
    "CreateBucket": S3Client._create_bucket,
    "HeadBucket": S3Client._head_bucket,
    "ListBuckets": S3Client._list_buckets,
    "DeleteBucket": S3Client._delete_bucket,
    "PutObject": S3Client._put_object,
    "GetObject": S3Client._get_object,
    "HeadObject": S3Client._head_object,
    "DeleteObject": S3Client._delete_object,
    "ListObjectsV2": S3Client._list_objects_v2,
}


# --- records ---------------------------------------------------------------------------------


def _bucket_key(name: str) -> str:
    return f"bucket/{name}"


def _meta_prefix(bucket: str) -> str:
    return f"meta/{bucket}/"


def _meta_key(bucket: str, key: str) -> str:
    return f"meta/{bucket}/{key}"


def _body_key(bucket: str, key: str) -> str:
    return f"body/{bucket}/{key}"


def _location(request: Request) -> tuple[str, str]:
    bucket, key = str(request.get("Bucket") or ""), str(request.get("Key") or "")
    if not key:
        raise invalid_argument("A key must be specified")
    return bucket, key


def _bucket(documents: Documents, name: str) -> None:
    if documents.get(_bucket_key(name)) is None:
        raise no_bucket(name)


def _object(documents: Documents, bucket: str, key: str) -> dict[str, Any]:
    _bucket(documents, bucket)
    raw = documents.get(_meta_key(bucket, key))
    if raw is None:
        raise no_key(key)
    meta: dict[str, Any] = orjson.loads(raw)
    return meta


def _head(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "AcceptRanges": "bytes",
        "ContentLength": meta["Size"],
        "ContentType": meta["ContentType"],
        "ETag": meta["ETag"],
        "LastModified": _date(meta["LastModified"]),
        "Metadata": meta.get("Metadata", {}),
    }


def _listed(key: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "Key": key,
        "LastModified": _date(meta["LastModified"]),
        "ETag": meta["ETag"],
        "Size": meta["Size"],
        "StorageClass": "STANDARD",
    }


def _date(seconds: float) -> datetime:
    # S3 keeps last-modified times to the second.
    return datetime.fromtimestamp(int(seconds), UTC)


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def _max_keys(value: Any) -> int:
    if value is None:
        return MAX_KEYS
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_argument("Provided max-keys not an integer or within integer range")
    return min(value, MAX_KEYS)


def _token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _token_key(token: str) -> str:
    try:
        return base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except ValueError:
        raise invalid_argument("The continuation token provided is incorrect") from None


def _streaming(body: bytes) -> Any:
    import io

    from botocore.response import StreamingBody  # type: ignore[import-untyped]

    return StreamingBody(io.BytesIO(body), len(body))


__all__ = ["NAMESPACE", "S3Client", "as_bytes", "etag_of"]
