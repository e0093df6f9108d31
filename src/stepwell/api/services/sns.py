"""SNS (the query protocol, XML responses) over the embedded topics."""

from typing import Final

from stepwell.api.protocols.base import SIGNATURE_ERROR_CODES, service_api

API: Final = service_api(
    "sns",
    ("query",),
    "com.amazonaws.sns",
    query_error_codes={
        "ValidationException": "ValidationError",
        "SerializationException": "InvalidParameter",
        "UnknownOperationException": "InvalidAction",
        **SIGNATURE_ERROR_CODES,
    },
)
