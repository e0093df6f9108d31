"""An embedded S3-like object store: buckets and objects, kept in a store's documents.

Semantics follow the Amazon S3 API Reference for the operations a workflow needs:
``CreateBucket``, ``HeadBucket``, ``ListBuckets``, ``DeleteBucket``, ``PutObject``,
``GetObject`` (with ``Range``), ``HeadObject``, ``DeleteObject``, ``DeleteObjects``,
``CopyObject``, ``ListObjects`` and ``ListObjectsV2`` (``Prefix``, ``Delimiter``,
``MaxKeys``, ``ContinuationToken``, ``StartAfter``), conditional reads and writes
(``If-Match``, ``If-None-Match``), and multipart uploads (``s3_multipart``). An object has
its body bytes, a content type (and the other content headers), an ETag (the quoted MD5
of the body, as S3 gives for a single-part upload), a last-modified time and user
metadata.

Design decision: one set of operations with AWS's parameter names, as for the other
embedded services, so Task states (``arn:aws:states:::aws-sdk:s3:getObject``), the
Distributed Map's ItemReader and ResultWriter, Python code (``services.s3.put_object(...)``)
and the S3 REST API (``api/services/s3.py``) all call the same functions. An object's
metadata (``meta/BUCKET/KEY``) is kept apart from its body, so that listing a bucket never
reads bodies; bodies are chunked (``s3_bodies``), and the front end streams them through
``begin_put``/``finish_put`` and ``open_object`` instead of holding them whole.
``call`` returns ``Body`` as bytes and dates as ``datetime``, as botocore does; the
boto3-like methods wrap ``Body`` in botocore's ``StreamingBody``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Final
from urllib.parse import quote_plus

import orjson

from stepwell.integrations.services import s3_multipart
from stepwell.integrations.services.base import (
    Request,
    Response,
    ServiceClient,
    ServiceError,
    as_client_error,
    operation_name,
)
from stepwell.integrations.services.documents import Documents
from stepwell.integrations.services.s3_bodies import (
    NAMESPACE,
    BodyWriter,
    pieces,
    stream_pieces,
)
from stepwell.integrations.services.s3_records import (
    CONTENT_HEADERS,
    MAX_KEY_BYTES,
    as_bytes,
    body_parts,
    bucket_key,
    check_key,
    check_read_conditions,
    check_write_conditions,
    copy_source,
    date_of,
    head_of,
    invalid_argument,
    legacy_body_key,
    load_object,
    location,
    meta_key,
    meta_prefix,
    replace_object,
    require_bucket,
    stored_headers,
)

MAX_KEYS: Final = 1000
_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")
_BUCKET_NAME: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
OWNER: Final = {"DisplayName": "stepwell", "ID": "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf7"}


@dataclass(frozen=True, slots=True)
class ObjectRead:
    """An object being read: its head, its first chunk, the chunks still to read."""

    head: dict[str, Any]
    first: bytes
    rest: Iterator[bytes]
    partial: bool  # a Range was asked for and applies (HTTP 206)


def byte_range(header: Any, size: int) -> tuple[int, int] | None:
    """The first and last byte a ``Range`` header asks for, or None for the whole object.

    S3 answers one range (``bytes=0-9``, ``bytes=10-``, ``bytes=-10``); a header it cannot
    read is ignored, a range starting past the end is ``InvalidRange`` (HTTP 416).
    """
    found = _RANGE.fullmatch(str(header or "").strip())
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.groups()
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), size - 1 if last == "" else min(int(last), size - 1)
        if int(first) > int(last or first):
            return None
    if start >= size or end < start:
        raise ServiceError(
            "InvalidRange",
            "The requested range is not satisfiable",
            status=416,
            extra={"RangeRequested": str(header), "ActualObjectSize": str(size)},
        )
    return start, end


def response_overrides(request: Request) -> dict[str, str]:
    """GetObject's ``response-content-type`` & co.: headers to answer with this time
    (what a presigned download link sets), the object unchanged."""
    return {
        name: str(request[f"Response{name}"])
        for name in (*CONTENT_HEADERS, "Expires")
        if request.get(f"Response{name}")
    }


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
            if documents.get(bucket_key(name)) is not None:
                raise ServiceError(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you "
                    "already own it.",
                    status=409,
                )
            documents.put(bucket_key(name), orjson.dumps({"created": self.clock()}))
        return {"Location": f"/{name}"}

    def _head_bucket(self, request: Request) -> Response:
        with self._documents() as documents:
            require_bucket(documents, str(request.get("Bucket", "")))
        return {"BucketRegion": self.region}

    def _list_buckets(self, request: Request) -> Response:
        with self._documents() as documents:
            found = documents.scan("bucket/")
        buckets = [
            {"Name": key[len("bucket/") :], "CreationDate": date_of(orjson.loads(raw)["created"])}
            for key, raw in found
        ]
        return {"Buckets": buckets, "Owner": OWNER}

    def _delete_bucket(self, request: Request) -> Response:
        name = str(request.get("Bucket", ""))
        with self._documents() as documents:
            require_bucket(documents, name)
            if documents.scan(meta_prefix(name)):
                raise ServiceError(
                    "BucketNotEmpty", "The bucket you tried to delete is not empty", status=409
                )
            documents.delete(bucket_key(name))
        return {}

    # --- objects -----------------------------------------------------------------------------

    def _put_object(self, request: Request) -> Response:
        bucket, key = location(request)
        upload = self.begin_put(bucket, key)
        try:
            upload.write(as_bytes(request.get("Body")))
        except BaseException:
            upload.abort()
            raise
        return self.finish_put(upload, bucket, key, request)

    def begin_put(self, bucket: str, key: str) -> BodyWriter:
        """Start writing an object's body (``finish_put`` publishes it, ``abort`` drops it)."""
        check_key(key)
        with self._documents() as documents:
            require_bucket(documents, bucket)
        return BodyWriter(self.store, self.clock)

    def finish_put(self, upload: BodyWriter, bucket: str, key: str, request: Request) -> Response:
        """Publish a written body as ``bucket/key`` with the request's type and metadata."""
        meta = {
            **stored_headers(request),
            "ETag": upload.etag,
            "LastModified": self.clock(),
            "Size": upload.size,
            "Metadata": {str(k): str(v) for k, v in dict(request.get("Metadata") or {}).items()},
        }
        try:
            with self._documents() as documents:
                require_bucket(documents, bucket)
                check_write_conditions(request, documents.get(meta_key(bucket, key)))
                meta["Body"] = upload.finish(documents).as_json()
                replace_object(documents, bucket, key, meta)
        except BaseException:
            upload.abort()
            raise
        return {"ETag": meta["ETag"]}

    def begin_part(self, request: Request) -> BodyWriter:
        """Start writing a multipart upload's part (``finish_part`` records it)."""
        return s3_multipart.begin_part(self, request)

    def finish_part(self, writer: BodyWriter, request: Request) -> Response:
        return s3_multipart.finish_part(self, writer, request)

    def _get_object(self, request: Request) -> Response:
        read = self.open_object(request)
        body = b"".join([read.first, *read.rest])
        return {**read.head, "Body": body}

    def open_object(self, request: Request) -> ObjectRead:
        """An object's head and its body (the ``Range`` of it) as chunks read on demand."""
        bucket, key = location(request)
        with self._documents() as documents:
            meta = load_object(documents, bucket, key)
            check_read_conditions(request, meta)
            head = {**head_of(meta), **response_overrides(request)}
            size = int(meta["Size"])
            span = byte_range(request.get("Range"), size)
            start, end = span if span is not None else (0, size - 1)
            if span is not None:
                head["ContentRange"] = f"bytes {start}-{end}/{size}"
                head["ContentLength"] = end - start + 1
            parts = body_parts(meta)
            if parts is None:  # an object written before bodies were chunked
                whole = documents.get(legacy_body_key(bucket, key)) or b""
                return ObjectRead(head, whole[start : end + 1], iter(()), span is not None)
            wanted = pieces(parts, start, end)
            first = wanted[0].read(documents) if wanted else b""
        rest = stream_pieces(self.store, wanted[1:])
        return ObjectRead(head, first, rest, span is not None)

    def _head_object(self, request: Request) -> Response:
        bucket, key = location(request)
        with self._documents() as documents:
            meta = load_object(documents, bucket, key)
            check_read_conditions(request, meta)
        return head_of(meta)

    def _delete_object(self, request: Request) -> Response:
        bucket, key = location(request)
        with self._documents() as documents:
            require_bucket(documents, bucket)
            replace_object(documents, bucket, key, None)
        return {}

    def _delete_objects(self, request: Request) -> Response:
        bucket = str(request.get("Bucket", ""))
        delete = dict(request.get("Delete") or {})
        objects = list(delete.get("Objects") or [])
        if not objects or len(objects) > MAX_KEYS:
            raise ServiceError(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our "
                "published schema",
            )
        deleted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self._documents() as documents:
            require_bucket(documents, bucket)
            for entry in objects:
                key = str(dict(entry).get("Key") or "")
                if not key or len(key.encode()) > MAX_KEY_BYTES:
                    errors.append({"Key": key, "Code": "InvalidArgument", "Message": "Invalid key"})
                    continue
                replace_object(documents, bucket, key, None)
                deleted.append({"Key": key})
        response: dict[str, Any] = {"Errors": errors} if errors else {}
        if deleted and not delete.get("Quiet"):
            response["Deleted"] = deleted
        return response

    def _copy_object(self, request: Request) -> Response:
        bucket, key = location(request)
        source_bucket, source_key = copy_source(str(request.get("CopySource") or ""))
        directive = str(request.get("MetadataDirective") or "COPY")
        if directive not in ("COPY", "REPLACE"):
            raise invalid_argument("Unknown metadata directive.")
        if (source_bucket, source_key) == (bucket, key) and directive == "COPY":
            raise ServiceError(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to "
                "itself without changing the object's metadata, storage class, website "
                "redirect location or encryption attributes.",
            )
        read = self.open_object({"Bucket": source_bucket, "Key": source_key})
        upload = self.begin_put(bucket, key)
        try:
            for piece in (read.first, *read.rest):
                upload.write(piece)
        except BaseException:
            upload.abort()
            raise
        kept = request if directive == "REPLACE" else read.head
        response = self.finish_put(upload, bucket, key, kept)
        return {
            "CopyObjectResult": {"ETag": response["ETag"], "LastModified": date_of(self.clock())}
        }

    def _list_objects_v2(self, request: Request) -> Response:
        return _url_encoded(self._listing(request))

    def _listing(self, request: Request) -> Response:
        bucket = str(request.get("Bucket", ""))
        prefix = str(request.get("Prefix") or "")
        delimiter = str(request.get("Delimiter") or "")
        max_keys = _max_keys(request.get("MaxKeys"))
        token = request.get("ContinuationToken")
        after = _token_key(str(token)) if token else str(request.get("StartAfter") or "")
        with self._documents() as documents:
            require_bucket(documents, bucket)
            found = documents.scan(meta_prefix(bucket) + prefix)
        start = len(meta_prefix(bucket))
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

    def _list_objects(self, request: Request) -> Response:
        marker = str(request.get("Marker") or "")
        listed = self._listing({**request, "StartAfter": marker, "ContinuationToken": None})
        response = {
            k: v
            for k, v in listed.items()
            if k not in ("KeyCount", "StartAfter", "NextContinuationToken")
        }
        response["Marker"] = marker
        if listed["IsTruncated"]:
            token = listed["NextContinuationToken"]
            response["NextMarker"] = _token_key(token).removesuffix("\uffff")
        return _url_encoded(response)


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
    "ListObjects": S3Client._list_objects,
    "CopyObject": S3Client._copy_object,
    "DeleteObjects": S3Client._delete_objects,
    **s3_multipart.OPERATIONS,
}


# --- records ---------------------------------------------------------------------------------


def _listed(key: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "Key": key,
        "LastModified": date_of(meta["LastModified"]),
        "ETag": meta["ETag"],
        "Size": meta["Size"],
        "StorageClass": "STANDARD",
    }


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


def _url_encoded(response: Response) -> Response:
    """With ``EncodingType=url`` S3 URL-encodes the keys and prefixes of a listing (botocore
    asks for it and decodes them with ``unquote_plus``), so that any key survives XML."""
    if response.get("EncodingType") != "url":
        return response
    for name in ("Prefix", "Delimiter", "StartAfter", "Marker", "NextMarker"):
        if response.get(name):
            response[name] = quote_plus(response[name], safe="/")
    for entry in response.get("Contents", []):
        entry["Key"] = quote_plus(entry["Key"], safe="/")
    for entry in response.get("CommonPrefixes", []):
        entry["Prefix"] = quote_plus(entry["Prefix"], safe="/")
    return response


def _streaming(body: bytes) -> Any:
    import io

    from botocore.response import StreamingBody  # type: ignore[import-untyped]

    return StreamingBody(io.BytesIO(body), len(body))


__all__ = ["NAMESPACE", "ObjectRead", "S3Client", "as_bytes", "byte_range", "copy_source"]
