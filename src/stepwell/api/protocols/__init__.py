"""The wire protocols AWS services speak, each a thin codec over validated operations.

``json`` is AWS JSON 1.0 (``X-Amz-Target``; DynamoDB, SQS); ``query`` is the form-encoded
``Action=…&Version=…`` protocol with XML responses (SNS, and SQS for older SDKs);
``rest-json`` puts members in the path, query string, headers and body (Lambda). A codec
decodes a request into an operation name and members checked against botocore's model,
and encodes a result or an error the way that protocol's clients parse them.
"""

from stepwell.api.protocols.base import Codec, DecodedCall, WireError, wire_error
from stepwell.api.protocols.json import JsonCodec
from stepwell.api.protocols.query import QueryCodec
from stepwell.api.protocols.rest_json import RestJsonCodec

CODECS: dict[str, Codec] = {
    "json": JsonCodec(),
    "query": QueryCodec(),
    "rest-json": RestJsonCodec(),
}

__all__ = ["CODECS", "Codec", "DecodedCall", "JsonCodec", "QueryCodec", "WireError", "wire_error"]
