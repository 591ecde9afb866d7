"""Generation jobs: a process-wide worker pool that schedules and runs feature pipelines.

A page submits a job (inputs already checked) and returns at once; a worker thread runs the
feature's pipeline (viba.features) and writes progress through the generations store
(viba.generations): pending → processing → completed | failed. So the job survives page
switches and reloads, and pages only read the row.

Each app process has its own pool and an id (WORKER_ID); while it holds jobs it touches their
updated_at every heartbeat. A job whose process died stops being touched: the sweep (at start
and then every heartbeat, in every process) marks it failed as interrupted.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from viba import features, generations
from viba.db import Database, DatabaseUnavailable
from viba.errors import UserError
from viba.gemini import GeminiConfig, GenerationError, ImageResult, TextResult
from viba.generations import GenerationView
from viba.images import PreparedImage
from viba.pipelines import Run
from viba.prompts import PromptTemplate
from viba.storage import ImageStore, StorageError

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
T = TypeVar("T")
UNEXPECTED_MESSAGE = "Something went wrong on our side while generating. Try again."


class JobError(UserError, ValueError):
    """The job cannot be submitted; the message is for the user."""


@dataclass
class _Job:
    id: uuid.UUID
    user_id: uuid.UUID
    config: GeminiConfig = field(repr=False)
    templates: dict[str, PromptTemplate]


class JobRunner:
    """The process-wide pool. `workers` jobs run at once in all; `per_user` at once per user
    (the rest wait in order)."""

    def __init__(
        self,
        db: Database,
        store: ImageStore,
        workers: int = 4,
        per_user: int = 2,
        heartbeat_s: float = 10.0,
        stale_after_s: float | None = None,
        db_retry_s: float = 60.0,
    ) -> None:
        self.db = db
        self.store = store
        self.per_user = max(1, per_user)
        self.heartbeat_s = heartbeat_s
        self.db_retry_s = db_retry_s
        self.stale_after = timedelta(seconds=stale_after_s or 3 * heartbeat_s)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="viba-job")
        self._lock = threading.Lock()
        self._waiting: dict[uuid.UUID, deque[_Job]] = defaultdict(deque)
        self._running: dict[uuid.UUID, int] = defaultdict(int)
        self._held: set[uuid.UUID] = set()  # jobs of this process, pending or running
        self._done = threading.Condition(self._lock)
        self._stop = threading.Event()
        self.fail_interrupted()
        self._beat = threading.Thread(
            target=self._heartbeat_loop, name="viba-job-heartbeat", daemon=True
        )
        self._beat.start()

    # --- submitting --------------------------------------------------------------------

    def submit(
        self,
        user_id: uuid.UUID,
        feature: str,
        images: Sequence[PreparedImage],
        options: dict[str, Any],
        models: dict[str, str],
        prompts_in_use: dict[str, Any],
        config: GeminiConfig,
    ) -> uuid.UUID:
        """Store the inputs, create the pending row and queue the job. `models` maps step →
        model id; `prompts_in_use` maps step → (PromptTemplate, version)."""
        try:
            spec = features.get(feature)
            spec.check_inputs(len(images))
            options = spec.check_options(options)
        except features.InputError as exc:
            raise JobError(str(exc)) from None
        steps = spec.step_ids
        templates = {step: prompts_in_use[step][0] for step in steps}
        params = {
            "options": options,
            "models": {step: models[step] for step in steps},
            "prompt_versions": {step: prompts_in_use[step][1] for step in steps},
            "input_names": [img.name for img in images],
            "prompt": spec.first_prompt(templates, len(images)),
        }
        try:
            job_id = generations.create(
                self.db, self.store, user_id, feature, images, params, WORKER_ID
            )
        except StorageError as exc:
            raise JobError(str(exc)) from exc
        self._enqueue(_Job(job_id, user_id, config, templates))
        return job_id

    def run_again(
        self,
        job_id: uuid.UUID,
        user_id: uuid.UUID,
        prompts_in_use: dict[str, Any],
        config: GeminiConfig,
        models: dict[str, str] | None = None,
    ) -> uuid.UUID:
        """The same inputs and options as an earlier generation of this user (models: the
        user's current choice when given, else the ones used then)."""
        old = generations.find(self.db, user_id, job_id)
        if old is None:
            raise JobError("That generation does not exist (or is not yours).")
        try:
            images = generations.load_inputs(self.store, old)
        except StorageError as exc:
            raise JobError(f"The inputs of that generation are gone: {exc}") from exc
        used = dict(old.input_params.get("models") or {})
        return self.submit(
            user_id,
            old.type,
            images,
            old.input_params.get("options") or {},
            {**used, **(models or {})},
            prompts_in_use,
            config,
        )

    def _enqueue(self, job: _Job) -> None:
        with self._lock:
            self._held.add(job.id)
            if self._running[job.user_id] < self.per_user:
                self._start(job)
            else:
                self._waiting[job.user_id].append(job)

    def _start(self, job: _Job) -> None:  # with self._lock
        self._running[job.user_id] += 1
        self._pool.submit(self._run_and_release, job)

    def _run_and_release(self, job: _Job) -> None:
        try:
            self._run(job)
        finally:
            with self._lock:
                self._held.discard(job.id)
                self._running[job.user_id] -= 1
                waiting = self._waiting[job.user_id]
                if waiting and not self._stop.is_set():
                    self._start(waiting.popleft())
                self._done.notify_all()

    # --- running -----------------------------------------------------------------------

    def _run(self, job: _Job) -> None:
        try:
            view = self._write(lambda: generations.claim(self.db, job.id, WORKER_ID))
            if view is None:
                return  # deleted, or failed by a sweep meanwhile
            self._run_pipeline(job, view, generations.load_inputs(self.store, view))
        except GenerationError as exc:
            extra = {"error_kind": exc.kind, "error_model": exc.model}
            self._fail_quietly(job.id, str(exc), extra)
        except (StorageError, DatabaseUnavailable) as exc:
            log.warning("job %s: %s", job.id, exc)
            self._fail_quietly(job.id, str(exc))
        except Exception:  # a bug must end as a failed job, not a job stuck processing
            log.exception("job %s failed unexpectedly", job.id)
            self._fail_quietly(job.id, UNEXPECTED_MESSAGE)

    def _write(self, work: Callable[[], T]) -> T:
        """A write of a running job: retried through a database outage of up to db_retry_s."""
        return self.db.retrying(work, self.db_retry_s)

    def _fail_quietly(
        self, job_id: uuid.UUID, message: str, extra: dict[str, Any] | None = None
    ) -> None:
        try:
            self._write(lambda: generations.fail(self.db, job_id, message, extra))
        except DatabaseUnavailable:
            log.exception("job %s: could not record its failure", job_id)

    def _run_pipeline(self, job: _Job, view: GenerationView, images: list[PreparedImage]) -> None:
        spec = features.get(view.type)
        tokens = 0
        failures: list[dict[str, Any]] = []
        started = time.perf_counter()

        def on_text(step: str, text: TextResult) -> None:
            nonlocal tokens
            tokens += text.usage.total_tokens
            self._write(
                lambda: generations.merge_details(
                    self.db,
                    job.id,
                    generations.usage_row(view, step, text.model, text.usage.total_tokens),
                    description=text.text,
                    description_model=text.model,
                    description_tokens=text.usage.total_tokens,
                    description_seconds=round(text.seconds, 3),
                )
            )

        def on_image(index: int, image: ImageResult) -> None:
            nonlocal tokens
            tokens += image.usage.total_tokens
            generations.add_output(
                self.db,
                self.store,
                view,
                spec.image_step,
                image,
                index if spec.outputs > 1 else None,
                retry_s=self.db_retry_s,
            )

        def on_failure(index: int, exc: GenerationError) -> None:
            failures.append({"variant": index, "error": str(exc), "kind": exc.kind})
            ordered = sorted(failures, key=lambda f: f["variant"])
            self._write(lambda: generations.merge_details(self.db, job.id, failures=ordered))

        spec.pipeline(
            Run(
                config=job.config,
                images=images,
                options=view.input_params.get("options") or {},
                models=view.input_params["models"],
                prompts=job.templates,
                steps=spec.step_ids,
                outputs=spec.outputs,
                on_text=on_text,
                on_image=on_image,
                on_failure=on_failure,
            )
        )
        seconds = time.perf_counter() - started
        self._write(lambda: generations.finish(self.db, job.id, tokens, seconds))

    # --- waiting and liveness ----------------------------------------------------------

    def get(self, job_id: uuid.UUID, user_id: uuid.UUID) -> GenerationView | None:
        """A generation of this user (None for anyone else's)."""
        return generations.find(self.db, user_id, job_id)

    def wait(self, job_id: uuid.UUID, timeout: float = 30.0) -> None:
        """Block until this process has finished the job (tests and scripts)."""
        with self._lock:
            if not self._done.wait_for(lambda: job_id not in self._held, timeout):
                raise TimeoutError(f"job {job_id} still running after {timeout}s")

    def fail_interrupted(self) -> int:
        """Mark failed the unfinished jobs nobody has touched for stale_after (their process
        died). Returns how many."""
        with self._lock:
            mine = list(self._held)
        try:
            count = generations.fail_interrupted(self.db, self.stale_after, mine)
        except DatabaseUnavailable:
            log.warning("job sweep skipped: database unavailable")
            return 0
        if count:
            log.warning("marked %s interrupted job(s) failed", count)
        return count

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                with self._lock:
                    mine = list(self._held)
                generations.touch(self.db, mine)
                self.fail_interrupted()
            except Exception:  # the heartbeat must outlive a bad moment of the database
                log.exception("job heartbeat failed")

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)
