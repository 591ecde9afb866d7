"""`python -m viba.worker`: a process that runs generation jobs from the queue, apart from the
web (deploy shape (b) in DEPLOYMENT.md: the web sets VIBA_WORKER=off and does no image work).

It reads the same settings as the app (DATABASE_URL, GEMINI_API_KEY, VIBA_COOKIE_KEY, storage),
connects to the queue (VIBA_QUEUE_DATABASE_URL, else DATABASE_URL: a session connection, for
LISTEN/NOTIFY) and runs VIBA_WORKERS jobs at once. SIGTERM (a deploy, a scale-down): no new
job; running ones get VIBA_SHUTDOWN_GRACE_SECONDS, then go back to the queue for another
worker. Any number of these may run; a killed one's jobs are taken over by the others.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from viba import services
from viba.core.config import ConfigError, get_settings
from viba.core.errors import UserError

log = logging.getLogger("viba.worker")


def main(argv: list[str] | None = None) -> int:
    try:
        settings = get_settings()
        services.configure(settings)
        found = services.services(settings)
        if not found.db.is_postgres:
            print(
                "python -m viba.worker needs PostgreSQL (DATABASE_URL): with SQLite the app "
                "runs its generations itself.",
                file=sys.stderr,
            )
            return 2
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        runner = services.job_runner(settings, found.db, found.store, work=True, name="worker")
    except (ConfigError, UserError) as exc:
        print(exc, file=sys.stderr)
        return 2
    log.info("worker ready: %s jobs at once", settings.workers)
    stop.wait()
    log.info("worker stopping: running jobs get %ss", settings.shutdown_grace_seconds)
    runner.shutdown(wait=True)
    log.info("worker stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
