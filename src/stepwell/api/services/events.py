"""EventBridge (AWS JSON 1.1, ``X-Amz-Target: AWSEvents.*``) over the embedded event buses."""

from typing import Final

from stepwell.api.protocols.base import service_api

API: Final = service_api("events", ("json",), "com.amazonaws.events")
