"""Child process for the crash and memory tests: ready itself, wait for "go" on stdin, run one batch,
print its status and its peak memory.

Run as ``python -m tests.ingest.crash_worker JOB`` with the platform's ZHONGTAI_* settings in the environment.
"""

from __future__ import annotations

import resource
import sys

from zhongtai.core.database import build_engine, build_sessionmaker
from zhongtai.core.settings import Settings
from zhongtai.ingest.runner import run_job


def main() -> None:
    settings = Settings()
    factory = build_sessionmaker(build_engine(settings.resolved_database_url))
    print("ready", flush=True)
    sys.stdin.readline()
    outcome = run_job(factory, settings, sys.argv[1], trigger="cli", requested_by="crash-test")
    print(outcome.status.value if outcome else "none", flush=True)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)  # peak memory, KiB


if __name__ == "__main__":
    main()
