"""The AWS APIs of the embedded services, one small module each.

Adding an API to Stepwell's endpoint is a module here that builds a ``ServiceApi``
(``protocols.base.service_api``) and one line in ``SERVICE_APIS``; the routing, the
codecs, SigV4 and the error formats come with it.
"""

from typing import Final

from stepwell.api.protocols.base import ServiceApi
from stepwell.api.services import dynamodb, events, lambda_, sns, sqs

SERVICE_APIS: Final[tuple[ServiceApi, ...]] = (
    dynamodb.API,
    sqs.API,
    sns.API,
    events.API,
    lambda_.API,
)

__all__ = ["SERVICE_APIS"]
