"""The AWS APIs on Stepwell's one endpoint: Step Functions (JSON 1.0,
``X-Amz-Target: AWSStepFunctions.*``) and the embedded DynamoDB, SQS and SNS.

A thin front end over the service: ``create_app(service, settings)`` returns an ASGI app
that speaks the protocols exactly as boto3, the AWS CLI, SAM/CDK and Terraform expect,
validating requests and shaping responses from botocore's models of the APIs. Requests
for the embedded services are routed in ``routing.py`` and served by ``embedded.py``
with the codecs in ``protocols/``; each API is one module in ``services/``.
"""

from stepwell.api.app import api_routes, create_app
from stepwell.api.settings import ApiSettings, OperationHandler

__all__ = ["ApiSettings", "OperationHandler", "api_routes", "create_app"]
