"""DynamoDB (AWS JSON 1.0, ``X-Amz-Target: DynamoDB_20120810.*``) over the embedded tables."""

from typing import Final

from stepwell.api.protocols.base import service_api

API: Final = service_api("dynamodb", ("json",), "com.amazonaws.dynamodb.v20120810")
