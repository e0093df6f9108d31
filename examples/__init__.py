"""Runnable examples: the four seed workflows of DESIGN.md, each in its own package
(``python -m examples.NAME.run`` from the repository root, or ``make example-NAME``)."""
