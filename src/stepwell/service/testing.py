"""The TestState operation: the service's front to the TestState engine
(``service/test_state/``), which the CLI and ``stepwell.test_state`` use as well."""

from __future__ import annotations

from stepwell.service.core import Request, Response, ServiceCore
from stepwell.service.test_state.run import StateTester


class TestingOperations(ServiceCore):
    def test_state(self, request: Request) -> Response:
        return StateTester(self.arns, self.clock, self.integrations).test_state(request)
