"""The AWS Step Functions API (JSON 1.0 protocol, ``X-Amz-Target: AWSStepFunctions.*``).

A thin front end over the service: ``create_app(service, settings)`` returns an ASGI app
that speaks the protocol exactly as boto3, the AWS CLI, SAM/CDK and Terraform expect,
validating requests and shaping responses from botocore's model of the API.
"""

from stepwell.api.app import api_routes, create_app
from stepwell.api.settings import ApiSettings, OperationHandler

__all__ = ["ApiSettings", "OperationHandler", "api_routes", "create_app"]
