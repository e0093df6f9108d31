"""TestState (API Reference, "TestState"; Developer Guide, "Using TestState API to test a
state"): one state run in isolation, mocked or not, and what it did.

``request.py`` reads and checks the request in AWS's order; ``machine.py`` builds the
machine the state runs in; ``run.py`` drives the interpreter; ``inspection.py`` writes
``inspectionData``; ``context.py``, ``fanout.py``, ``mock_schema.py`` and ``verbatim.py``
hold the rules for the context object, Map and Parallel, mocked results and JSON text.
"""
