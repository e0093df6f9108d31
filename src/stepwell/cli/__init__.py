"""The ``stepwell`` command line, a thin front end over the service and the runtime.

``root`` assembles the commands; ``local`` runs and validates definitions in-process;
``server`` starts the API server and workers; ``machines``, ``executions`` and
``callbacks`` call a running server through the Step Functions API, as the AWS CLI
would; ``watch`` and ``progress`` follow an execution live; ``views`` and ``output``
print results for people (rich) or programs (``--json``).
"""

from stepwell.cli.root import main

__all__ = ["main"]
