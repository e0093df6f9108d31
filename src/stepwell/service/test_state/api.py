"""``stepwell.test_state``: TestState as a Python call, with no server.

It takes the request members of the AWS API under their Python names and returns the
response AWS would (``status``, ``output``, ``inspectionData`` …), answered by the same
engine as the API. Members AWS takes as JSON text (``input``, ``variables``,
``context``, a mock's ``result``) may be given as Python values; ``functions`` serve as
the Lambda functions an unmocked Task calls. A request AWS refuses raises the service
error it would answer with (``ValidationException``, ``InvalidDefinition`` …).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from stepwell.integrations.registry import Integrations
from stepwell.runtime.clock import SystemClock
from stepwell.service.arns import Arns
from stepwell.service.core import Response
from stepwell.service.test_state.run import StateTester

_TEXT = object()


def test_state(
    definition: str | Mapping[str, Any],
    input: Any = _TEXT,  # the API member's name
    *,
    role_arn: str | None = None,
    inspection_level: str | None = None,
    reveal_secrets: bool | None = None,
    variables: Any = None,
    state_name: str | None = None,
    mock: Mapping[str, Any] | None = None,
    context: Any = None,
    state_configuration: Mapping[str, Any] | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Response:
    """Run one state as TestState does; see the module docstring."""
    request: dict[str, Any] = {"definition": _text(definition)}
    members = {
        "input": None if input is _TEXT else _text(input),
        "roleArn": role_arn,
        "inspectionLevel": inspection_level,
        "revealSecrets": reveal_secrets,
        "variables": None if variables is None else _text(variables),
        "stateName": state_name,
        "mock": None if mock is None else _mock(mock),
        "context": None if context is None else _text(context),
        "stateConfiguration": None if state_configuration is None else dict(state_configuration),
    }
    request.update((key, value) for key, value in members.items() if value is not None)
    tester = StateTester(Arns(), SystemClock(), Integrations(functions))
    return tester.test_state(request)


test_state.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _mock(mock: Mapping[str, Any]) -> dict[str, Any]:
    answer = dict(mock)
    if "result" in answer:
        answer["result"] = _text(answer["result"])
    return answer
