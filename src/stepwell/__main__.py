"""``python -m stepwell`` is the ``stepwell`` command."""

from stepwell.cli import main

raise SystemExit(main())
