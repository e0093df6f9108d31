"""How Step Functions names and explains a service's error in a Task's failure.

Two conventions, because optimized and AWS SDK integrations are built on different AWS SDKs:

* AWS SDK integrations (``arn:aws:states:::aws-sdk:SERVICE:ACTION``): the error is
  ``ServiceName.ExceptionName``, both in PascalCase, the service as the SDK names its client
  (``DynamoDb``, ``Sqs``, ``AcmPca``), and ``Exception`` is appended when the service's own
  name lacks it (``S3.BucketAlreadyExistsException``) — Developer Guide, "Learning to use
  AWS service SDK integrations in Step Functions". An error the API model does not declare
  is the service's base exception (``DynamoDb.DynamoDbException``). The cause is the Java
  SDK v2 message: ``MESSAGE (Service: DynamoDb, Status Code: 400, Request ID: ID)``.
* Optimized integrations: the prefix is the integration's (``DynamoDB``, ``SQS``, ``SNS``,
  ``Lambda``) and the name the exception class (``DynamoDB.ConditionalCheckFailedException``);
  undeclared errors are the service's base exception (``DynamoDB.AmazonDynamoDBException``,
  ``SQS.AmazonSQSException``). The cause is the Java SDK v1 message:
  ``MESSAGE (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: CODE; Request ID: ID;
  Proxy: null)``.

Which errors a service declares comes from botocore's copy of the API models, which also
maps the SDK's service names to botocore's (``sfn`` → ``stepfunctions``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

# Step Functions' aws-sdk service names whose botocore name differs beyond dashes.
BOTOCORE_NAMES: Final[Mapping[str, str]] = {
    "sfn": "stepfunctions",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "cognitoidentityprovider": "cognito-idp",
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
    "databasemigration": "dms",
    "costexplorer": "ce",
    "elasticsearch": "es",
    "lexruntime": "lex-runtime",
    "lexmodelbuilding": "lex-models",
    "iotdata": "iot-data",
}


@dataclass(frozen=True, slots=True)
class OptimizedNaming:
    prefix: str  # DynamoDB
    sdk_v1_service: str  # AmazonDynamoDBv2 (the cause's "Service:")
    base_exception: str  # AmazonDynamoDBException


OPTIMIZED_NAMING: Final[Mapping[str, OptimizedNaming]] = {
    "dynamodb": OptimizedNaming("DynamoDB", "AmazonDynamoDBv2", "AmazonDynamoDBException"),
    "sqs": OptimizedNaming("SQS", "AmazonSQS", "AmazonSQSException"),
    "sns": OptimizedNaming("SNS", "AmazonSNS", "AmazonSNSException"),
    "lambda": OptimizedNaming("Lambda", "AWSLambda", "AWSLambdaException"),
    "batch": OptimizedNaming("Batch", "AWSBatch", "AWSBatchException"),
    "ecs": OptimizedNaming("ECS", "AmazonECS", "AmazonECSException"),
    "glue": OptimizedNaming("Glue", "AWSGlue", "AWSGlueException"),
    "athena": OptimizedNaming("Athena", "AmazonAthena", "AmazonAthenaException"),
    "events": OptimizedNaming("EventBridge", "AmazonEventBridge", "AmazonEventBridgeException"),
    "sagemaker": OptimizedNaming("SageMaker", "AmazonSageMaker", "AmazonSageMakerException"),
    "codebuild": OptimizedNaming("CodeBuild", "AWSCodeBuild", "AWSCodeBuildException"),
    "s3": OptimizedNaming("S3", "Amazon S3", "AmazonS3Exception"),
}

_WORD: Final = re.compile(r"[A-Z]+[0-9]*(?![a-z])|[A-Z][a-z0-9]*|[a-z0-9]+")


@functools.cache
def botocore_name(service: str) -> str | None:
    """botocore's name for a Step Functions service name, if botocore knows the service."""
    if service in BOTOCORE_NAMES:
        return BOTOCORE_NAMES[service]
    for name in _available():
        if name.replace("-", "") == service:
            return str(name)
    return None


@functools.cache
def _session() -> Any:
    from botocore.session import get_session  # type: ignore[import-untyped]

    return get_session()


@functools.cache
def _available() -> tuple[str, ...]:
    return tuple(_session().get_available_services())


@functools.cache
def _model(service: str) -> object | None:
    name = botocore_name(service)
    return None if name is None else _session().get_service_model(name)


@functools.cache
def sdk_service_name(service: str) -> str:
    """The PascalCase service name of aws-sdk errors: ``dynamodb`` → ``DynamoDb``."""
    model = _model(service)
    service_id = getattr(model, "service_id", None) if model is not None else None
    text = str(service_id) if service_id else service
    return "".join(word[:1].upper() + word[1:].lower() for word in _WORD.findall(text))


@functools.cache
def declared_errors(service: str) -> frozenset[str]:
    """The exception shapes the service's API model declares (for every operation)."""
    model = _model(service)
    if model is None:
        return frozenset()
    names = set()
    for operation in getattr(model, "operation_names", ()):
        for shape in model.operation_model(operation).error_shapes:  # type: ignore[attr-defined]
            names.add(shape.name)
    return frozenset(names)


def with_suffix(name: str) -> str:
    return name if name.endswith("Exception") else name + "Exception"


def sdk_error(service: str, exception: str) -> str:
    """``DynamoDb.TransactionCanceledException``; undeclared → ``DynamoDb.DynamoDbException``."""
    pascal = sdk_service_name(service)
    if exception not in declared_errors(service):
        return f"{pascal}.{pascal}Exception"
    return f"{pascal}.{with_suffix(exception)}"


def sdk_cause(service: str, message: str, status: int, request_id: str) -> str:
    return (
        f"{message} (Service: {sdk_service_name(service)}, Status Code: {status}, "
        f"Request ID: {request_id})"
    )


def optimized_naming(service: str) -> OptimizedNaming:
    naming = OPTIMIZED_NAMING.get(service)
    if naming is not None:
        return naming
    pascal = sdk_service_name(service)
    return OptimizedNaming(pascal, f"Amazon{pascal}", f"Amazon{pascal}Exception")


def optimized_error(service: str, exception: str) -> str:
    """``DynamoDB.ConditionalCheckFailedException``; undeclared → the base exception."""
    naming = optimized_naming(service)
    if exception not in declared_errors(service):
        return f"{naming.prefix}.{naming.base_exception}"
    return f"{naming.prefix}.{with_suffix(exception)}"


def optimized_cause(service: str, message: str, status: int, code: str, request_id: str) -> str:
    return (
        f"{message} (Service: {optimized_naming(service).sdk_v1_service}; Status Code: "
        f"{status}; Error Code: {code}; Request ID: {request_id}; Proxy: null)"
    )
