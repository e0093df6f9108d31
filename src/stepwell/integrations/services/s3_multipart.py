"""Multipart uploads of the embedded S3: how boto3 and ``aws s3 cp`` send files over 8 MiB.

``CreateMultipartUpload`` opens an upload (``upload/ID``: bucket, key and the content
headers and metadata the object will have); ``UploadPart`` stores part N as a chunked
body (``s3_bodies``) and records it (``part/ID/0000N``: its body, ETag and size), replacing
an earlier part N; ``CompleteMultipartUpload`` checks the parts the client lists against
the ones stored and publishes the object, in one transaction, with ``Parts``: the listed
parts' bodies laid end to end, so completing copies no bytes. Parts not listed are
deleted with the upload's records. ``AbortMultipartUpload`` deletes everything.
``UploadPartCopy`` (how ``aws s3 cp`` copies objects over 8 MiB between keys) makes a
part of a range of another object.

Rules from the Amazon S3 API Reference ("CompleteMultipartUpload", "UploadPart"): part
numbers 1 to 10,000; every part but the last at least 5 MiB (``EntityTooSmall``); parts
listed in ascending order (``InvalidPartOrder``) with the ETags the uploads returned
(``InvalidPart``); an unknown upload id is ``NoSuchUpload`` (404). The object's ETag is
the MD5 of the parts' MD5 digests, hex, followed by ``-`` and the number of parts.

An upload never completed nor aborted stays, as on S3 without a lifecycle rule.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any, Final

import orjson

from stepwell.integrations.services.base import Request, Response, ServiceError
from stepwell.integrations.services.documents import Documents
from stepwell.integrations.services.s3_bodies import NAMESPACE, BodyRef, BodyWriter, delete_body
from stepwell.integrations.services.s3_records import (
    as_bytes,
    check_key,
    copy_source,
    date_of,
    location,
    replace_object,
    require_bucket,
    stored_headers,
)

if TYPE_CHECKING:
    from stepwell.integrations.services.s3 import S3Client

MIN_PART_BYTES: Final = 5 * 1024 * 1024
MAX_PARTS: Final = 10_000


def no_upload() -> ServiceError:
    return ServiceError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload "
        "may have been aborted or completed.",
        status=404,
    )


def invalid_part(message: str) -> ServiceError:
    return ServiceError("InvalidPart", message)


def _upload_key(upload_id: str) -> str:
    return f"upload/{upload_id}"


def _part_prefix(upload_id: str) -> str:
    return f"part/{upload_id}/"


def _part_key(upload_id: str, number: int) -> str:
    return f"{_part_prefix(upload_id)}{number:05d}"


def _load_upload(documents: Documents, request: Request) -> dict[str, Any]:
    bucket, key = location(request)
    upload_id = str(request.get("UploadId") or "")
    raw = documents.get(_upload_key(upload_id)) if upload_id else None
    if raw is None:
        raise no_upload()
    upload: dict[str, Any] = orjson.loads(raw)
    if (upload["Bucket"], upload["Key"]) != (bucket, key):
        raise no_upload()
    return upload


def create_multipart_upload(client: S3Client, request: Request) -> Response:
    bucket, key = location(request)
    check_key(key)
    upload_id = uuid.uuid4().hex
    upload = {
        "Bucket": bucket,
        "Key": key,
        "Initiated": client.clock(),
        "Headers": stored_headers(request),
        "Metadata": {str(k): str(v) for k, v in dict(request.get("Metadata") or {}).items()},
    }
    with client.store.documents(NAMESPACE) as documents:
        require_bucket(documents, bucket)
        documents.put(_upload_key(upload_id), orjson.dumps(upload))
    return {"Bucket": bucket, "Key": key, "UploadId": upload_id}


def part_number(request: Request) -> int:
    number = request.get("PartNumber")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_PARTS:
        raise ServiceError(
            "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"
        )
    return number


def begin_part(client: S3Client, request: Request) -> BodyWriter:
    """Start writing a part's body (``finish_part`` records it)."""
    part_number(request)
    with client.store.documents(NAMESPACE) as documents:
        _load_upload(documents, request)
    return BodyWriter(client.store, client.clock)


def finish_part(client: S3Client, writer: BodyWriter, request: Request) -> Response:
    """Record a written part, replacing an earlier part with its number."""
    number = part_number(request)
    try:
        with client.store.documents(NAMESPACE) as documents:
            upload_id = str(request["UploadId"])
            _load_upload(documents, request)
            _drop_part(documents, upload_id, number)
            part = {"Body": writer.finish(documents).as_json(), "ETag": writer.etag}
            documents.put(_part_key(upload_id, number), orjson.dumps(part))
    except BaseException:
        writer.abort()
        raise
    return {"ETag": writer.etag}


def upload_part(client: S3Client, request: Request) -> Response:
    writer = begin_part(client, request)
    writer.write(as_bytes(request.get("Body")))
    return finish_part(client, writer, request)


def upload_part_copy(client: S3Client, request: Request) -> Response:
    """A part copied from an object (``x-amz-copy-source-range``: part of it), streamed."""
    source_bucket, source_key = copy_source(str(request.get("CopySource") or ""))
    source = {"Bucket": source_bucket, "Key": source_key, "Range": request.get("CopySourceRange")}
    read = client.open_object(source)
    writer = begin_part(client, request)
    try:
        for piece in (read.first, *read.rest):
            writer.write(piece)
    except BaseException:
        writer.abort()
        raise
    etag = finish_part(client, writer, request)["ETag"]
    return {"CopyPartResult": {"ETag": etag, "LastModified": date_of(client.clock())}}


def _drop_part(documents: Documents, upload_id: str, number: int) -> None:
    raw = documents.get(_part_key(upload_id, number))
    if raw is not None:
        delete_body(documents, BodyRef.from_json(orjson.loads(raw)["Body"]))
        documents.delete(_part_key(upload_id, number))


def _listed_parts(request: Request) -> list[tuple[int, str]]:
    listed = dict(request.get("MultipartUpload") or {}).get("Parts") or []
    parts = [(part_number(dict(p)), str(dict(p).get("ETag") or "")) for p in listed]
    if not parts:
        raise ServiceError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our "
            "published schema",
        )
    numbers = [number for number, _ in parts]
    if numbers != sorted(set(numbers)):
        raise ServiceError(
            "InvalidPartOrder",
            "The list of parts was not in ascending order. The parts list must be specified "
            "in order by part number.",
        )
    return parts


def _stored_parts(documents: Documents, upload_id: str) -> dict[int, dict[str, Any]]:
    prefix = _part_prefix(upload_id)
    return {int(key[len(prefix) :]): orjson.loads(raw) for key, raw in documents.scan(prefix)}


def complete_multipart_upload(client: S3Client, request: Request) -> Response:
    bucket, key = location(request)
    listed = _listed_parts(request)
    with client.store.documents(NAMESPACE) as documents:
        upload = _load_upload(documents, request)
        upload_id = str(request["UploadId"])
        stored = _stored_parts(documents, upload_id)
        bodies = _chosen_bodies(listed, stored)
        digest = hashlib.md5(usedforsecurity=False)
        for number, _ in listed:
            digest.update(bytes.fromhex(stored[number]["ETag"].strip('"')))
        etag = f'"{digest.hexdigest()}-{len(listed)}"'
        meta = {
            **upload["Headers"],
            "ETag": etag,
            "LastModified": client.clock(),
            "Size": sum(body.size for body in bodies),
            "Metadata": upload["Metadata"],
            "Parts": [body.as_json() for body in bodies],
        }
        require_bucket(documents, bucket)
        replace_object(documents, bucket, key, meta)
        chosen = {number for number, _ in listed}
        for number in stored:
            if number not in chosen:
                _drop_part(documents, upload_id, number)
            else:
                documents.delete(_part_key(upload_id, number))
        documents.delete(_upload_key(upload_id))
    return {"Location": f"/{bucket}/{key}", "Bucket": bucket, "Key": key, "ETag": etag}


def _chosen_bodies(
    listed: list[tuple[int, str]], stored: dict[int, dict[str, Any]]
) -> list[BodyRef]:
    bodies = []
    for position, (number, etag) in enumerate(listed):
        part = stored.get(number)
        if part is None or part["ETag"].strip('"') != etag.strip('"'):
            raise invalid_part(
                "One or more of the specified parts could not be found. The part may not "
                "have been uploaded, or the specified entity tag may not match the part's "
                "entity tag."
            )
        body = BodyRef.from_json(part["Body"])
        if position < len(listed) - 1 and body.size < MIN_PART_BYTES:
            raise ServiceError(
                "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
            )
        bodies.append(body)
    return bodies


def abort_multipart_upload(client: S3Client, request: Request) -> Response:
    with client.store.documents(NAMESPACE) as documents:
        _load_upload(documents, request)
        upload_id = str(request["UploadId"])
        for number in _stored_parts(documents, upload_id):
            _drop_part(documents, upload_id, number)
        documents.delete(_upload_key(upload_id))
    return {}


OPERATIONS: Final = {
    "CreateMultipartUpload": create_multipart_upload,
    "UploadPart": upload_part,
    "CompleteMultipartUpload": complete_multipart_upload,
    "AbortMultipartUpload": abort_multipart_upload,
    "UploadPartCopy": upload_part_copy,
}
