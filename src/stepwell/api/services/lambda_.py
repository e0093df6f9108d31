"""Lambda (REST-JSON) over the functions Stepwell binds (``service.lambda_api``).

Requests are recognised by their path (``/2015-03-31/functions/…``, the API version
segments of the model's request URIs) or by a SigV4 credential scope naming ``lambda``.
"""

from typing import Final

from stepwell.api.protocols.base import service_api

API: Final = service_api("lambda", ("rest-json",), "com.amazonaws.lambda")
