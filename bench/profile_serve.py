"""Run ``stepwell serve`` under cProfile in every thread, measuring CPU time (not wall).

The server's work is spread over the event loop, request threads and worker threads;
``cProfile`` alone sees one thread and counts wall time, so idle threads would dominate.
Here each thread gets its own profiler on ``time.thread_time`` and, when the server
stops (SIGINT or SIGTERM), the profiles are merged into one ``pstats`` file:

    .venv/bin/python bench/profile_serve.py --out serve.prof -- --db /tmp/b.db --port 8083
    .venv/bin/python -c "import pstats; pstats.Stats('serve.prof').print_stats(30)"
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import threading
import time
from typing import Any

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _profiled_run(original: Any) -> Any:
    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        with _lock:
            _profiles.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    return run


def _dump(out: str) -> None:
    stats: pstats.Stats | None = None
    with _lock:
        profiles = list(_profiles)
    for profile in profiles:
        profile.disable()
        path = tempfile.mktemp(suffix=".prof")
        try:
            profile.dump_stats(path)
        except TypeError:  # a profile that recorded nothing
            continue
        if stats is None:
            stats = pstats.Stats(path)
        else:
            stats.add(path)
        os.unlink(path)
    if stats is not None:
        stats.dump_stats(out)
        print(f"profile written to {out}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="serve.prof")
    parser.add_argument("serve_args", nargs="*", help="arguments of `stepwell serve`")
    args = parser.parse_args()
    threading.Thread.run = _profiled_run(threading.Thread.run)  # type: ignore[method-assign]
    main_profile = cProfile.Profile(time.thread_time)
    _profiles.append(main_profile)
    from stepwell.cli import main as cli

    main_profile.enable()
    try:
        cli(["serve", *args.serve_args])  # uvicorn stops on SIGINT or SIGTERM
    finally:
        _dump(args.out)


if __name__ == "__main__":
    main()
