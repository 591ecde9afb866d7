"""The job queue: procrastinate on PostgreSQL, or procrastinate's in-memory connector on SQLite.

- `Deferrer`: what submits. On PostgreSQL it writes procrastinate's job row on the caller's own
  connection, so a generation's row and its job commit together (or neither does).
- `QueueWorker`: a procrastinate worker on an event loop of its own thread. It runs in the web
  process (VIBA_WORKER=in-process) or in `python -m viba.worker` processes. Each job's body
  runs on a thread pool of the worker's size: the pipelines wait on Gemini through the engine's
  event loop, so a thread a job is what a job costs.
- A worker silent for 3 heartbeats (killed, its machine gone) is stalled: every worker retries
  the jobs of stalled workers (`retry_stalled`), so another one finishes them.

On SQLite (a laptop, one process) the queue lives in memory beside the worker: a restart loses
the queue, not the rows, and the app defers its unfinished rows again when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import procrastinate
from procrastinate import exceptions as pexc
from procrastinate.job_context import AbortReason, JobContext
from procrastinate.testing import InMemoryConnector
from sqlalchemy.engine import URL, Connection, Engine, make_url

from viba.store.db import Database

log = logging.getLogger(__name__)

GENERATE = "viba.generate"
PRUNE_AUDIT = "viba.prune_audit"
QUEUE = "generations"
T = TypeVar("T")


class Interrupted(Exception):
    """The worker stopped before the job ended (a deploy past its grace): another worker
    retries it, and only the missing steps run."""


@dataclass(frozen=True)
class Call:
    """One run of a generation job, as its body sees it."""

    generation_id: str
    sealed_key: str | None  # the user's own key for one session, encrypted (or None)
    attempt: int  # 0 the first time; a retry after a stalled worker or a stop counts up
    should_stop: Callable[[], bool]  # asked before each Gemini call: aborted or stopping


Body = Callable[[Call], None]
Chore = tuple[str, str, Callable[[], object]]  # a periodic task: (name, cron, what it does)


def libpq_url(url: str | URL) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as libpq (psycopg 3) takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class _LocalConnector(InMemoryConnector):
    """procrastinate's in-memory connector for a long-running process: it keeps no log of its
    queries, nor the events of a job that is gone (both grow without end otherwise)."""

    async def generic_execute(self, query: str, suffix: Any, **arguments: Any) -> Any:
        name = self.reverse_queries[query]
        return await getattr(self, f"{name}_{suffix}")(**arguments)

    async def finish_job_run(self, job_id: int, status: str, delete_job: bool) -> None:
        await super().finish_job_run(job_id, status, delete_job)
        if delete_job:
            self.events.pop(job_id, None)


class _EnginePool:
    """What procrastinate's psycopg 3 connector asks of its pool (`connection()`, committed on
    success), served by the app's SQLAlchemy engine: the web opens no pool of its own for the
    queue. (procrastinate's SQLAlchemy connector takes psycopg2 only.)"""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        with self.engine.begin() as connection:
            yield driver_connection(connection)


def driver_connection(connection: Connection | None) -> Any:
    """The psycopg connection under a SQLAlchemy one (None for None): a job deferred on it
    joins the caller's transaction."""
    return connection.connection.driver_connection if connection is not None else None


class Deferrer:
    """Submits jobs. On PostgreSQL `defer` takes the caller's SQLAlchemy connection (the job
    commits with the caller's transaction); on SQLite it hands the job to the in-process
    worker's in-memory queue (call it after the row committed)."""

    def __init__(self, db: Database, local: QueueWorker | None = None) -> None:
        self.in_memory = not db.is_postgres
        self._local = local
        self._app: procrastinate.App | None = None
        if not self.in_memory:
            self._app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector())
            self._app.open(_EnginePool(db.engine))
        elif local is None:
            raise ValueError("on SQLite the jobs run in this process: a worker is needed")

    def defer(
        self,
        queue: str,
        lock: str,
        kwargs: dict[str, Any],
        connection: Any = None,
    ) -> int:
        """The new job's id. connection: the caller's SQLAlchemy connection (PostgreSQL)."""
        if self._app is not None:
            deferrer = self._app.configure_task(
                GENERATE, queue=queue, lock=lock, connection=driver_connection(connection)
            )
            return deferrer.defer(**kwargs)
        assert self._local is not None
        app = self._local.app
        return self._local.call(
            app.configure_task(GENERATE, queue=queue, lock=lock).defer_async(**kwargs)
        )

    def abort(self, job_id: int, connection: Any = None) -> bool:
        """Cancel a queued job, or ask the worker running it to abort it."""
        try:
            if self._app is not None:
                return self._app.job_manager.cancel_job_by_id(
                    job_id, abort=True, connection=driver_connection(connection)
                )
            assert self._local is not None
            manager = self._local.app.job_manager
            return self._local.call(manager.cancel_job_by_id_async(job_id, abort=True))
        except (KeyError, pexc.ConnectorException):  # gone already (deleted when it ended)
            return False

    def reachable(self) -> bool:
        """Whether the queue's tables answer (PostgreSQL); the in-memory queue always does."""
        if self._app is None:
            return True
        try:
            return bool(self._app.check_connection())
        except Exception:
            return False

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


class QueueWorker:
    """A procrastinate worker on an event loop of its own (a daemon thread), running `body` for
    each generation job of `queue`, `concurrency` at once.

    grace_s: on stop, how long running jobs may go on; past it they stop before their next
    Gemini call and are retried by another worker (Interrupted)."""

    def __init__(
        self,
        db: Database,
        body: Body,
        *,
        queue: str = QUEUE,
        concurrency: int = 32,
        heartbeat_s: float = 10.0,
        grace_s: float = 0.0,
        queue_url: str | None = None,
        name: str = "viba",
        chores: Iterable[Chore] = (),
        resumes: int = 2,
    ) -> None:
        self.queue = queue
        self.concurrency = max(1, concurrency)
        self.heartbeat_s = heartbeat_s
        self.grace_s = grace_s
        self.name = name
        self.resumes = resumes
        self.in_memory = not db.is_postgres
        connector: Any
        if self.in_memory:
            connector = _LocalConnector()
        else:
            from procrastinate import PsycopgConnector

            connector = PsycopgConnector(
                conninfo=libpq_url(queue_url or db.url),
                min_size=1,
                max_size=4,
                kwargs={"application_name": f"viba-worker:{name}"[:60]},
            )
        self.app = procrastinate.App(connector=connector)
        self._body = body
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"viba-job-{name}")
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopping = threading.Event()  # asked to stop: no new job starts
        self._cut = threading.Event()  # past the grace: running jobs stop at their next call
        self._worker: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.aborting: set[str] = set()  # generations told to stop, until their body ends
        self._register(chores)

    # --- tasks ---------------------------------------------------------------------------

    def _register(self, chores: Iterable[Chore]) -> None:
        retry = procrastinate.RetryStrategy(
            max_attempts=self.resumes + 1, retry_exceptions=[Interrupted]
        )

        @self.app.task(name=GENERATE, pass_context=True, retry=retry)
        async def generate(context: JobContext, generation_id: str, key: str | None = None) -> None:
            await self._run(context, generation_id, key)

        for name, cron, chore in chores:
            self._periodic(name, cron, chore)

    def _periodic(self, name: str, cron: str, chore: Callable[[], object]) -> None:
        async def run_chore(timestamp: int) -> None:
            try:
                await asyncio.get_running_loop().run_in_executor(self._pool, chore)
            except Exception:
                log.exception("the periodic task %s failed", name)

        self.app.periodic(cron=cron)(self.app.task(name=name, queue=self.queue)(run_chore))

    async def _run(self, context: JobContext, generation_id: str, key: str | None) -> None:
        aborted = threading.Event()

        def should_stop() -> bool:
            return aborted.is_set() or self._cut.is_set() or bool(context.should_abort())

        call = Call(generation_id, key, int(context.job.attempts or 0), should_stop)
        running = asyncio.get_running_loop().run_in_executor(self._pool, self._body, call)
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            # Aborted by its user (Cancel), or by this worker's stop past its grace: the body
            # starts no new Gemini call, keeps what it made, and ends.
            aborted.set()
            self.aborting.add(generation_id)
            try:
                with contextlib.suppress(Exception):
                    await running
            finally:
                self.aborting.discard(generation_id)
            if context.abort_reason() == AbortReason.SHUTDOWN:
                raise Interrupted(f"generation {generation_id}: its worker stopped") from None
            raise pexc.JobAborted() from None

    # --- the loop ------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> QueueWorker:
        """Start the worker thread; returns once the queue is open (raises if it cannot be)."""
        self._thread = threading.Thread(target=self._main, name=f"viba-queue-{self.name}")
        self._thread.daemon = True
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"the job queue could not start: {self._error}")
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._ready.set()
            self._loop.close()

    async def _serve(self) -> None:
        try:
            await self.app.open_async()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        stalled = asyncio.create_task(self._retry_stalled_loop())
        try:
            while not self._stopping.is_set():
                self._worker = self.app._worker(
                    queues=[self.queue],
                    name=self.name,
                    concurrency=self.concurrency,
                    install_signal_handlers=False,
                    delete_jobs="always",  # a job's arguments hold a sealed key: keep none
                    update_heartbeat_interval=self.heartbeat_s,
                    stalled_worker_timeout=3 * self.heartbeat_s,
                    fetch_job_polling_interval=max(1.0, 2 * self.heartbeat_s),
                    abort_job_polling_interval=max(0.5, self.heartbeat_s),
                    shutdown_graceful_timeout=self.grace_s,
                )
                try:
                    await self._worker.run()
                except Exception:
                    log.exception("the job worker stopped; starting it again")
                if not self._stopping.is_set():
                    # stopped by itself (its listener lost the database): again, after a beat
                    await asyncio.sleep(self.heartbeat_s)
        finally:
            stalled.cancel()
            with contextlib.suppress(BaseException):
                await stalled
            await self.app.close_async()

    async def _retry_stalled_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            if self._stopping.is_set():
                return  # its own jobs, handed back as it stops, are for the other workers
            try:
                await self.retry_stalled()
            except Exception:
                log.exception("could not look for stalled jobs")

    async def retry_stalled(self) -> int:
        """Put back in the queue the jobs of workers silent for 3 heartbeats; how many."""
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(
            queue=self.queue, task_name=GENERATE, seconds_since_heartbeat=3 * self.heartbeat_s
        )
        retried = 0
        for job in stalled:
            try:
                await manager.retry_job(job)
                retried += 1
                log.warning("job %s of a stalled worker queued again", job.id)
            except pexc.ConnectorException:  # another worker retried it first
                continue
        return retried

    def call(self, coro: Coroutine[Any, Any, T] | Awaitable[T], timeout: float = 30.0) -> T:
        """Run a coroutine on the worker's loop from another thread (the in-memory queue is
        only ever touched there)."""

        async def wrapped() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result(timeout)

    def stop(self, timeout: float | None = None) -> bool:
        """Take no new job, let running ones finish for up to grace_s, then stop them before
        their next call (they are retried elsewhere). True when the thread ended in time."""
        self._stopping.set()
        if self._thread is None or not self._thread.is_alive():
            self._pool.shutdown(wait=False)
            return True
        worker = self._worker
        if worker is not None:
            self._loop.call_soon_threadsafe(worker.stop)
        budget = (self.grace_s + 10.0) if timeout is None else timeout
        self._thread.join(budget)
        if self._thread.is_alive():
            self._cut.set()
            self._thread.join(10.0)
        self._pool.shutdown(wait=False)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
