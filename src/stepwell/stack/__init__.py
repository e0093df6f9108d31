"""Applications: a SAM or CloudFormation template, run as a local stack.

``stepwell up template.yaml`` reads the template (``template.py``), lets AWS's own SAM
translator turn ``AWS::Serverless::*`` resources into CloudFormation (``sam.py``), resolves
parameters, conditions and intrinsic functions (``intrinsics.py``), plans what each
resource becomes in Stepwell (``plan.py``, one small provider per resource type in
``resources.py``) and applies that plan to a running Stepwell (``apply.py``): tables,
queues, topics and subscriptions in the embedded services, functions in worker processes
of their own, state machines, schedules and event source mappings.

This layer is a front end like the CLI: it calls the operations of ``service/`` and the
embedded services' clients, and nothing below imports it.
"""

from stepwell.stack.template import StackError, load_template

__all__ = ["StackError", "load_template"]
