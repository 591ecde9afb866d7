"""Generation jobs: a process-wide worker pool that schedules and runs feature pipelines.

A page submits a job (inputs already checked) and returns at once; a worker thread runs the
feature's pipeline (viba.studio.features) and writes progress through the generations store
(viba.studio.generations): pending → processing → completed | failed. So the job survives page
switches and reloads, and pages only read the row.

Each app process has its own pool and an id (WORKER_ID); while it holds jobs it touches their
updated_at every heartbeat. A job whose process died (kill -9, a crash, a deploy that did not
wait) stops being touched: the sweep (at start and then every heartbeat, in every process)
picks it up again from its stored inputs, once, keeping the outputs it already had; a job
interrupted a second time is marked failed.

On an orderly exit (Render's SIGTERM before a deploy: Streamlit stops serving, the interpreter
exits) the runner refuses new jobs and lets the ones it holds finish, for up to grace_s.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from viba.core import logs
from viba.core.errors import UserError
from viba.engine import gemini, pipelines
from viba.engine.gemini import GeminiConfig, GenerationError, ImageResult, TextResult, Usage
from viba.engine.images import PreparedImage
from viba.engine.pipelines import Run
from viba.engine.prompts import PromptTemplate
from viba.store.db import Database, DatabaseUnavailable
from viba.store.image_store import ImageStore, StorageError
from viba.studio import budget, features, generations, output, prompt_store, refine
from viba.studio.generations import GenerationView

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
RUNNERS: weakref.WeakSet[JobRunner] = weakref.WeakSet()  # the live runners of this process
T = TypeVar("T")
UNEXPECTED_MESSAGE = "Something went wrong on our side while generating. Try again."
DRAINING_MESSAGE = "The server is restarting for an update: try again in a minute."
ConfigFor = Callable[[uuid.UUID, bool], GeminiConfig]  # (user id, own key?) -> configuration


class JobError(UserError, ValueError):
    """The job cannot be submitted; the message is for the user."""


@dataclass
class _Job:
    id: uuid.UUID
    user_id: uuid.UUID
    config: GeminiConfig = field(repr=False)
    templates: dict[str, PromptTemplate]
    # A new job's prepared inputs, as stored (a resumed one reads them from the store)
    images: list[PreparedImage] | None = field(default=None, repr=False)


class JobRunner:
    """The process-wide pool. `workers` jobs run at once in all; `per_user` at once per user
    (the rest wait in order).

    config_for gives the Gemini configuration for picking up an interrupted job of a user
    (own key or the server's); without it interrupted jobs are marked failed. grace_s: how
    long an exiting process waits for its jobs (0: not at all)."""

    def __init__(
        self,
        db: Database,
        store: ImageStore,
        workers: int = 4,
        per_user: int = 2,
        heartbeat_s: float = 10.0,
        stale_after_s: float | None = None,
        db_retry_s: float = 60.0,
        config_for: ConfigFor | None = None,
        grace_s: float = 0.0,
        chores: Sequence[Callable[[], object]] = (),
        chore_every_s: float = 3600.0,
    ) -> None:
        self.db = db
        self.store = store
        self.per_user = max(1, per_user)
        self.heartbeat_s = heartbeat_s
        self.db_retry_s = db_retry_s
        self.stale_after = timedelta(seconds=stale_after_s or 3 * heartbeat_s)
        self.config_for = config_for
        self.grace_s = grace_s
        self.chores = list(chores)
        self.chore_every_s = chore_every_s
        self._chores_due = 0.0  # monotonic time; at once
        self._draining = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="viba-job")
        self._lock = threading.Lock()
        self._waiting: dict[uuid.UUID, deque[_Job]] = defaultdict(deque)
        self._running: dict[uuid.UUID, int] = defaultdict(int)
        self._held: set[uuid.UUID] = set()  # jobs of this process, pending or running
        self._done = threading.Condition(self._lock)
        self._stop = threading.Event()
        RUNNERS.add(self)
        picked_up = self.sweep_interrupted()
        log.info(
            "job runner started: worker %s, %s jobs at once (%s per user), %s picked up",
            WORKER_ID,
            workers,
            self.per_user,
            picked_up,
        )
        self._beat = threading.Thread(
            target=self._heartbeat_loop, name="viba-job-heartbeat", daemon=True
        )
        self._beat.start()
        # The SDK's import, a moment after start: not in the way of the first page, and done
        # before the first Generate needs it.
        warm = threading.Timer(2.0, _warm_up)
        warm.daemon = True
        warm.start()
        if grace_s > 0:
            # Runs when the interpreter exits, before the thread pools stop taking work (the
            # pools register their own hook at import, and these hooks run newest first).
            register = getattr(threading, "_register_atexit", None)
            if register is not None:
                register(self.drain)

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
        if self._draining.is_set() or self._stop.is_set():
            raise JobError(DRAINING_MESSAGE)
        try:
            spec = features.get(feature)
            spec.check_inputs(len(images))
            image_model = models[spec.image_step]
            chosen = output.choose(
                spec, options, features.catalog().get(image_model), image_model, images
            )
            options = {**spec.check_options(options), **chosen}
        except (features.InputError, output.OutputError) as exc:
            raise JobError(str(exc)) from None
        steps = spec.step_ids
        templates = {step: prompts_in_use[step][0] for step in steps}
        estimate = budget.estimate(spec, models, options, len(images))
        params = {
            "options": options,
            "models": {step: models[step] for step in steps},
            "prompt_versions": {step: prompts_in_use[step][1] for step in steps},
            "input_names": [img.name for img in images],
            "own_key": config.own_key,
            "prompt": spec.first_prompt(templates, len(images), chosen[output.RATIO_OPTION]),
            "estimate_usd": estimate,
        }
        return self._queue(user_id, feature, images, params, config, templates)

    def refine(
        self,
        user_id: uuid.UUID,
        parent_id: uuid.UUID,
        output_key: str,
        instruction: str,
        config: GeminiConfig,
    ) -> uuid.UUID:
        """A new generation from one output of an earlier one of this user and a few words
        ("darker background"): the image model gets the whole conversation so far
        (viba.studio.refine) and makes one image at the parent's size and ratio, with the
        parent's image model."""
        if self._draining.is_set() or self._stop.is_set():
            raise JobError(DRAINING_MESSAGE)
        try:
            parent, image, params = refine.plan(
                self.db, self.store, user_id, parent_id, output_key, instruction
            )
        except UserError as exc:
            raise JobError(str(exc)) from None
        params["own_key"] = config.own_key
        step = features.get(parent.type).image_step
        templates = prompt_store.templates_for(self.db, params["prompt_versions"])
        return self._queue(
            user_id, parent.type, [image], params, config, {step: templates[step]}, parent.id
        )

    def _queue(
        self,
        user_id: uuid.UUID,
        feature: str,
        images: Sequence[PreparedImage],
        params: dict[str, Any],
        config: GeminiConfig,
        templates: dict[str, PromptTemplate],
        parent_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Check the user's limits (team key), store the inputs, add the row, queue the job."""
        guard: Callable[[Session], None] | None = None
        if not config.own_key:  # the team's key: its limits apply
            guard = functools.partial(
                budget.check, user_id=user_id, estimate_usd=params["estimate_usd"]
            )
        try:
            if guard is not None:  # refused at once, before any image is stored
                with self.db.session() as s:
                    guard(s)
            job_id = generations.create(
                self.db, self.store, user_id, feature, images, params, WORKER_ID, guard, parent_id
            )
        except budget.LimitReached as exc:
            raise JobError(str(exc)) from None
        except StorageError as exc:
            raise JobError(str(exc)) from exc
        self._enqueue(_Job(job_id, user_id, config, templates, list(images)))
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
                # A waiting job reads its inputs from the store when it starts: a user who
                # queues many does not keep their bytes in memory meanwhile.
                job.images = None
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
        with logs.context(job_id=str(job.id), user_id=str(job.user_id)):
            self._run_logged(job)

    def _run_logged(self, job: _Job) -> None:
        try:
            view = self._write(lambda: generations.claim(self.db, job.id, WORKER_ID))
            if view is None:
                return  # deleted, or failed by a sweep meanwhile
            images = job.images or generations.load_inputs(self.store, view)
            job.images = None  # the pipeline holds them while it needs them
            self._run_pipeline(job, view, images)
        except GenerationError as exc:
            extra = {"error_kind": exc.kind, "error_model": exc.model}
            self._fail_quietly(job.id, str(exc), extra)
        except (StorageError, DatabaseUnavailable, refine.RefineError) as exc:
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
        kept = view.details.get("outputs") or {}
        done = frozenset(
            (meta.get("variant") or 1) for meta in kept.values() if isinstance(meta, dict)
        )
        description = None
        if view.details.get("description") is not None:  # a resumed job: step 1 was answered
            description = TextResult(
                str(view.details["description"]),
                str(view.details.get("description_model") or ""),
                Usage(),
                0.0,
            )
        tokens = int(view.details.get("description_tokens") or 0) if description else 0
        tokens += sum(int(m.get("tokens") or 0) for m in kept.values() if isinstance(m, dict))
        failures: list[dict[str, Any]] = []
        started = time.perf_counter()

        def on_text(step: str, text: TextResult) -> None:
            nonlocal tokens
            tokens += text.usage.total_tokens
            self._write(
                lambda: generations.merge_details(
                    self.db,
                    job.id,
                    generations.usage_row(view, step, text.model, text.usage),
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
                index if view.expected_outputs > 1 else None,
                retry_s=self.db_retry_s,
            )

        def on_failure(index: int, exc: GenerationError) -> None:
            failures.append({"variant": index, "error": str(exc), "kind": exc.kind})
            ordered = sorted(failures, key=lambda f: f["variant"])
            self._write(lambda: generations.merge_details(self.db, job.id, failures=ordered))

        pipeline = spec.pipeline
        conversation: list[Any] = []
        if view.refinement:  # one image from the conversation so far and the new words
            pipeline = pipelines.refine
            conversation = refine.conversation(self.db, self.store, view)
        pipeline(
            Run(
                config=job.config,
                images=images,
                options=view.input_params.get("options") or {},
                models=view.input_params["models"],
                prompts=job.templates,
                steps=spec.step_ids,
                outputs=view.expected_outputs,
                on_text=on_text,
                on_image=on_image,
                on_failure=on_failure,
                done=done,
                description=description,
                cancelled=lambda: generations.is_cancelled(self.db, job.id),
                conversation=conversation,
                instruction=str((view.refinement or {}).get("instruction") or ""),
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

    def sweep_interrupted(self) -> int:
        """Pick up the unfinished jobs nobody has touched for stale_after (their process died)
        again, or mark them failed when they were picked up once before or cannot be (no
        config_for, no key any more). Returns how many were picked up."""
        if self._stop.is_set() or self._draining.is_set():
            return 0
        with self._lock:
            mine = list(self._held)
        try:
            taken, failed = generations.take_interrupted(
                self.db, self.stale_after, mine, WORKER_ID, 1 if self.config_for else 0
            )
        except DatabaseUnavailable:
            log.warning("job sweep skipped: database unavailable")
            return 0
        if failed:
            log.warning("marked %s interrupted job(s) failed", failed)
        resumed = 0
        for view in taken:
            with logs.context(job_id=str(view.id), user_id=str(view.user_id)):
                try:
                    job = self._job_for(view)
                except UserError as exc:
                    reason = str(exc).rstrip(".")
                    self._fail_quietly(view.id, generations.NOT_RESUMABLE.format(reason=reason))
                    continue
                log.warning("picking up interrupted job %s again", view.id)
                self._enqueue(job)
                resumed += 1
        return resumed

    def _job_for(self, view: GenerationView) -> _Job:
        """A job for a row taken back from a dead process: its prompts and its key."""
        assert self.config_for is not None
        config = self.config_for(view.user_id, bool(view.input_params.get("own_key")))
        versions = view.input_params.get("prompt_versions") or {}
        return _Job(view.id, view.user_id, config, prompt_store.templates_for(self.db, versions))

    def _heartbeat_loop(self) -> None:
        self._do_chores()
        while not self._stop.wait(self.heartbeat_s):
            try:
                with self._lock:
                    mine = list(self._held)
                generations.touch(self.db, mine)
                self.sweep_interrupted()
            except Exception:  # the heartbeat must outlive a bad moment of the database
                log.exception("job heartbeat failed")
            self._do_chores()

    def _do_chores(self) -> None:
        """The process's housekeeping (the audit log's pruning), at start and then every
        chore_every_s, on the heartbeat's thread."""
        if time.monotonic() < self._chores_due:
            return
        self._chores_due = time.monotonic() + self.chore_every_s
        for chore in self.chores:
            try:
                chore()
            except Exception:
                log.exception("a housekeeping task failed")

    def drain(self, timeout: float | None = None) -> bool:
        """Take no new jobs and wait (up to timeout, default grace_s) until the jobs this
        process holds are finished. True when none is left; the ones left are picked up again
        by the next process once they go stale."""
        if self._stop.is_set():
            return True
        self._draining.set()
        timeout = self.grace_s if timeout is None else timeout
        started = time.monotonic()
        with self._lock:
            held = len(self._held)
            if held:
                log.warning("stopping: waiting up to %ss for %s job(s)", round(timeout), held)
            finished = self._done.wait_for(lambda: not self._held, timeout)
            left = len(self._held)
        seconds = round(time.monotonic() - started, 1)
        if left:
            log.warning(
                "stopping after %ss with %s job(s) unfinished (resumed later)", seconds, left
            )
        elif held:
            log.warning("stopping: all %s job(s) finished in %ss", held, seconds)
        return finished

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        with contextlib.suppress(RuntimeError):  # already closed by the interpreter's exit
            self._pool.shutdown(wait=wait, cancel_futures=True)


# --- what the app process gives its runner ---------------------------------------------------


def _warm_up() -> None:
    try:
        gemini.warm_up()
    except Exception:  # the first job imports it again and says what is wrong
        log.exception("the Gemini SDK could not be imported ahead of the first job")
