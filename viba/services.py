"""The composition root: the one place where Settings become the process's parts.

The web app (viba.web.context), the commands (viba.commands) and the tests all build their
database, image store and job runner here, so each is made one way. Below this module nothing
reads the environment or `get_settings()`: what the layers below need of the settings is
handed to them, by `configure` (process-wide knobs) or as arguments.

- `configure(settings)`: logging, the bcrypt cost, how many uploads are decoded at once.
- `database(settings, url)`: the process-wide Database of a URL, its pool sized by settings.
- `services(settings)`: the process's Services for those settings: database (migrated), image
  store, and the job runner, started on first use.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from viba.accounts import auth
from viba.core import logs
from viba.core.config import ConfigError, Settings
from viba.engine import images
from viba.jobs import wiring
from viba.jobs.runner import JobRunner
from viba.store.db import Database
from viba.store.image_store import ImageStore, make_backend

log = logging.getLogger(__name__)

_lock = threading.Lock()
_databases: dict[str, Database] = {}
_services: dict[tuple[str, str, str], Services] = {}
_configured: tuple[object, ...] | None = None


def configure(settings: Settings) -> None:
    """The process-wide knobs, from these settings (again only when they changed): the log
    format and level, the bcrypt cost of new hashes, how many uploads are decoded at once."""
    global _configured
    knobs = (settings.log_format, settings.log_level, settings.bcrypt_rounds)
    with _lock:
        if knobs + (settings.decodes_at_once,) == _configured:
            return
        logs.setup(settings.log_format, getattr(logging, settings.log_level.upper()))
        auth.set_bcrypt_rounds(settings.bcrypt_rounds)
        images.set_decodes_at_once(settings.decodes_at_once)
        _configured = knobs + (settings.decodes_at_once,)


def database(settings: Settings, url: str | None = None) -> Database:
    """The process-wide Database of a URL (default: the settings' DATABASE_URL), its pool sized
    by the settings (VIBA_DB_POOL_SIZE, VIBA_DB_MAX_OVERFLOW, VIBA_DB_POOLER). Not migrated:
    `services()` and the commands that need it migrate."""
    url = url or settings.effective_database_url
    with _lock:
        db = _databases.get(url)
        if db is None:
            db = _databases[url] = Database(
                url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pooler=settings.db_pooler,
            )
        return db


def image_store(settings: Settings, db: Database) -> ImageStore:
    """The image store VIBA_STORAGE names (db, local:<folder> or s3://bucket/prefix)."""
    return ImageStore(make_backend(settings.storage, db, Path(settings.data_dir)))


def job_runner(
    settings: Settings, db: Database, store: ImageStore, work: bool | None = None, name: str = "web"
) -> JobRunner:
    """A started job runner. work: whether this process runs a queue worker too (default: the
    web's VIBA_WORKER; `python -m viba.worker` always does). On SQLite the jobs always run in
    the app's process (the queue is in its memory), so VIBA_WORKER=off needs PostgreSQL."""
    if work is None:
        work = settings.worker_mode == "in-process"
    if not work and not db.is_postgres:
        raise ConfigError(
            "VIBA_WORKER=off hands generations to `python -m viba.worker` processes through "
            "PostgreSQL's job queue; with SQLite they run in the app: unset VIBA_WORKER."
        )
    return JobRunner(
        db,
        store,
        workers=settings.workers,
        per_user=settings.user_concurrency,
        heartbeat_s=settings.job_heartbeat_seconds,
        db_retry_s=settings.db_retry_seconds,
        config_for=wiring.resume_config(settings, db),
        grace_s=settings.shutdown_grace_seconds,
        chores=wiring.chores(settings, db),
        work=work,
        queue=settings.queue_name,
        queue_url=settings.queue_database_url,
        seal=wiring.sealer(settings),
        name=name,
        prepare=functools.partial(
            images.prepare_image,
            max_side=settings.max_image_side,
            max_pixels=settings.max_input_pixels,
        ),
    )


@dataclass
class Services:
    """What one process works with for one set of settings."""

    settings: Settings
    db: Database
    store: ImageStore
    _runner: JobRunner | None = field(default=None, repr=False)
    _runner_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def runner(self) -> JobRunner:
        """The job runner (started by the first caller)."""
        return self.start_runner()

    def start_runner(self) -> JobRunner:
        """The job runner, started by the first caller (the others wait for it). A start that
        fails raises to that caller and is tried again by the next one."""
        with self._runner_lock:
            if self._runner is None:
                self._runner = job_runner(self.settings, self.db, self.store)
            return self._runner

    def queue_health(self) -> str:
        """The job queue's state for /health: "ok", or what is wrong (starting it if this
        process has not yet)."""
        try:
            return self.start_runner().health()
        except Exception as exc:
            log.warning("the job queue cannot start: %s", exc)
            return "unreachable"

    def stop_runner(self) -> None:
        """Stop this process's job runner, if it started (its worker's jobs get the grace)."""
        with self._runner_lock:
            runner = self._runner
        if runner is not None:
            runner.shutdown(wait=True)

    def forget_runner(self) -> None:
        """The next `runner` starts a new one (tests; the old one keeps running)."""
        with self._runner_lock:
            self._runner = None


def services(settings: Settings) -> Services:
    """The process's Services for these settings: configured, with a migrated database. A
    failure (a database that cannot be reached or migrated) raises and is tried again by the
    next call."""
    configure(settings)
    key = (settings.effective_database_url, settings.storage, str(settings.data_dir))
    with _lock:
        found = _services.get(key)
    if found is not None:
        return found
    db = database(settings)
    db.migrate()
    made = Services(settings, db, image_store(settings, db))
    with _lock:
        return _services.setdefault(key, made)
