"""Generation jobs: a process-wide worker pool, with the job's state in generation_history.

A page submits a job (inputs already checked and stored) and returns at once; a worker thread
runs the pipeline and writes progress to the row (pending → processing → completed | failed),
so the job survives page switches and reloads and pages only poll the row.

Each app process has its own pool and an id (WORKER_ID); while it holds jobs it touches their
updated_at every heartbeat. A job whose process died stops being touched: the sweep (at start
and then every heartbeat, in every process) marks it failed as interrupted.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from viba import pipelines, prompts
from viba.db import Database, DatabaseUnavailable
from viba.gemini import GeminiConfig, GenerationError, ImageResult, TextResult
from viba.images import PreparedImage
from viba.models import GENERATION_TYPES, GenerationHistory, ImageRef, ModelUsage, utcnow
from viba.prompts import PromptTemplate
from viba.storage import ImageStore, StorageError, StoredImage, mime_for

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
INTERRUPTED_MESSAGE = ("Interrupted: the server restarted while this was running. "
                       "Use “Run again”.")
UNEXPECTED_MESSAGE = "Something went wrong on our side while generating. Try again."
UNFINISHED = ("pending", "processing")

# Which prompt (viba.prompts step) and model step each feature uses.
FEATURE_STEPS: dict[str, tuple[str, ...]] = {
    "derivation": ("derivation_text", "derivation_image"),
    "avatar": ("avatar",),
    "try_on": ("try_on",),
    "swap": ("swap",),
}
INPUT_COUNTS = {"derivation": (1, 1), "avatar": (1, pipelines.MAX_AVATAR_PHOTOS),
                "try_on": (2, 2), "swap": (2, 2)}


class JobError(ValueError):
    """The job cannot be submitted; the message is for the user."""


@dataclass
class _Job:
    id: uuid.UUID
    user_id: uuid.UUID
    config: GeminiConfig = field(repr=False)
    templates: dict[str, PromptTemplate]


@dataclass(frozen=True)
class JobView:
    """A generation row as pages show it."""

    id: uuid.UUID
    user_id: uuid.UUID
    type: str
    status: str
    input_params: dict[str, Any]
    input_keys: list[str]
    output_keys: list[str]
    details: dict[str, Any]
    error_message: str | None
    created_at: Any
    updated_at: Any
    favorite: bool = False

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED


def view_of(row: GenerationHistory) -> JobView:
    return JobView(row.id, row.user_id, row.type, row.status, dict(row.input_params or {}),
                   list(row.input_keys or []), list(row.output_keys or []),
                   dict(row.details or {}), row.error_message, row.created_at, row.updated_at,
                   bool(row.favorite))


def find_generation(db: Database, user_id: uuid.UUID, job_id: uuid.UUID) -> JobView | None:
    """A generation of this user (None for anyone else's or a missing one)."""
    with db.session() as s:
        row = s.scalar(select(GenerationHistory).where(GenerationHistory.id == job_id,
                                                       GenerationHistory.user_id == user_id))
        return view_of(row) if row else None


def check_options(feature: str, options: dict[str, Any]) -> dict[str, Any]:
    if feature == "derivation":
        creativity = options.get("creativity", 5)
        skin_tone = options.get("skin_tone") or None
        pipelines.check_derivation_options(creativity, skin_tone)
        return {"creativity": creativity, "skin_tone": skin_tone}
    return {}


class JobRunner:
    """The process-wide pool. `workers` jobs run at once in all; `per_user` at once per user
    (the rest wait in order)."""

    def __init__(self, db: Database, store: ImageStore, workers: int = 4, per_user: int = 2,
                 heartbeat_s: float = 10.0, stale_after_s: float | None = None) -> None:
        self.db = db
        self.store = store
        self.per_user = max(1, per_user)
        self.heartbeat_s = heartbeat_s
        self.stale_after = timedelta(seconds=stale_after_s or 3 * heartbeat_s)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers),
                                        thread_name_prefix="viba-job")
        self._lock = threading.Lock()
        self._waiting: dict[uuid.UUID, deque[_Job]] = defaultdict(deque)
        self._running: dict[uuid.UUID, int] = defaultdict(int)
        self._held: set[uuid.UUID] = set()  # jobs of this process, pending or running
        self._done = threading.Condition(self._lock)
        self._stop = threading.Event()
        self.fail_interrupted()
        self._beat = threading.Thread(target=self._heartbeat_loop, name="viba-job-heartbeat",
                                      daemon=True)
        self._beat.start()

    # --- submitting --------------------------------------------------------------------

    def submit(
        self, user_id: uuid.UUID, feature: str, images: Sequence[PreparedImage],
        options: dict[str, Any], models: dict[str, str], prompts_in_use: dict[str, Any],
        config: GeminiConfig,
    ) -> uuid.UUID:
        """Store the inputs, create the pending row and queue the job. `models` maps step →
        model id; `prompts_in_use` maps step → (PromptTemplate, version)."""
        if feature not in GENERATION_TYPES:
            raise JobError(f"Unknown feature {feature!r}.")
        low, high = INPUT_COUNTS[feature]
        if not low <= len(images) <= high:
            raise JobError(f"This needs {low} to {high} images." if low != high
                           else f"This needs {low} image{'s' if low > 1 else ''}.")
        steps = FEATURE_STEPS[feature]
        options = check_options(feature, options)
        try:
            stored = [self.store.save(img.data, img.mime_type) for img in images]
        except StorageError as exc:
            raise JobError(str(exc)) from exc
        params = {
            "options": options,
            "models": {step: models[step] for step in steps},
            "prompt_versions": {step: prompts_in_use[step][1] for step in steps},
            "input_names": [img.name for img in images],
            "prompt": _prompt_text(feature, prompts_in_use[steps[0]][0], len(images)),
        }
        row = GenerationHistory(
            user_id=user_id, type=feature, status="pending", input_params=params,
            input_keys=[s.key for s in stored], output_keys=[], details={},
            worker_id=WORKER_ID,
        )
        with self.db.locked_session(*(image_lock(x.key) for x in stored)) as s:
            try:
                _restore(self.store, [(x, img.data) for x, img in zip(stored, images)])
            except StorageError as exc:
                raise JobError(str(exc)) from exc
            s.add(row)
            s.flush()
            job_id = row.id
            for key in dict.fromkeys(x.key for x in stored):
                s.add(ImageRef(generation_id=job_id, key=key, role="input"))
        job = _Job(job_id, user_id, config,
                   {step: prompts_in_use[step][0] for step in steps})
        self._enqueue(job)
        return job_id

    def run_again(self, job_id: uuid.UUID, user_id: uuid.UUID, prompts_in_use: dict[str, Any],
                  config: GeminiConfig, models: dict[str, str] | None = None) -> uuid.UUID:
        """The same inputs and options as an earlier generation of this user (models: the
        user's current choice when given, else the ones used then)."""
        old = self.get(job_id, user_id)
        if old is None:
            raise JobError("That generation does not exist (or is not yours).")
        try:
            images = self._load_inputs(old)
        except StorageError as exc:
            raise JobError(f"The inputs of that generation are gone: {exc}") from exc
        used = dict(old.input_params.get("models") or {})
        return self.submit(user_id, old.type, images, old.input_params.get("options") or {},
                           {**used, **(models or {})}, prompts_in_use, config)

    def _load_inputs(self, view: JobView) -> list[PreparedImage]:
        names = (view.input_params.get("input_names")
                 or [f"input {i + 1}" for i in range(len(view.input_keys))])
        return [stored_image(self.store, key, name) for key, name in zip(view.input_keys, names)]

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

    def _update(self, job_id: uuid.UUID, **values: Any) -> None:
        with self.db.session() as s:
            s.execute(update(GenerationHistory).where(GenerationHistory.id == job_id)
                      .values(updated_at=utcnow(), **values))

    def _run(self, job: _Job) -> None:
        try:
            with self.db.session() as s:
                claimed = s.execute(
                    update(GenerationHistory)
                    .where(GenerationHistory.id == job.id, GenerationHistory.status == "pending")
                    .values(status="processing", worker_id=WORKER_ID, updated_at=utcnow())
                ).rowcount
                row = s.get(GenerationHistory, job.id) if claimed else None
                if row is None:
                    return  # deleted, or failed by a sweep meanwhile
                view = view_of(row)
            images = self._load_inputs(view)
            if view.type == "derivation":
                self._derive(job, view, images)
            else:
                self._single(job, view, images)
        except GenerationError as exc:
            self._fail(job.id, str(exc), {"error_kind": exc.kind, "error_model": exc.model})
        except (StorageError, DatabaseUnavailable) as exc:
            log.warning("job %s: %s", job.id, exc)
            self._fail(job.id, str(exc))
        except Exception:  # a bug must end as a failed job, not a job stuck processing
            log.exception("job %s failed unexpectedly", job.id)
            self._fail(job.id, UNEXPECTED_MESSAGE)

    def _fail(self, job_id: uuid.UUID, message: str, extra: dict[str, Any] | None = None) -> None:
        try:
            with self.db.session() as s:
                row = s.get(GenerationHistory, job_id)
                if row is None:
                    return
                row.status = "failed"
                row.error_message = message
                row.details = {**(row.details or {}), **(extra or {})}
                row.updated_at = utcnow()
        except DatabaseUnavailable:
            log.exception("job %s: could not record its failure", job_id)

    def _add_output(self, job: _Job, view: JobView, result: ImageResult,
                    index: int | None) -> None:
        job_id = job.id
        stored = self.store.save(result.data, result.mime_type)
        with self.db.locked_session(image_lock(stored.key)) as s:
            _restore(self.store, [(stored, result.data)])
            s.add(_usage(job, view, IMAGE_STEP[view.type], result.model,
                         result.usage.total_tokens, images=1))
            row = s.scalars(select(GenerationHistory).where(GenerationHistory.id == job_id)
                            .with_for_update()).one()
            outputs = list(row.output_keys or [])
            details = dict(row.details or {})
            meta = dict(details.get("outputs") or {})
            outputs.append(stored.key)
            meta[stored.key] = {"model": result.model, "seconds": round(result.seconds, 3),
                                "tokens": result.usage.total_tokens, "variant": index}
            details["outputs"] = meta
            row.output_keys = outputs
            row.output_url = outputs[0]
            row.details = details
            row.updated_at = utcnow()
            if s.get(ImageRef, (job_id, stored.key, "output")) is None:
                s.add(ImageRef(generation_id=job_id, key=stored.key, role="output"))

    def _merge_details(self, job_id: uuid.UUID, usage: ModelUsage | None = None,
                       **values: Any) -> None:
        with self.db.session() as s:
            if usage is not None:
                s.add(usage)
            row = s.scalars(select(GenerationHistory).where(GenerationHistory.id == job_id)
                            .with_for_update()).one()
            row.details = {**(row.details or {}), **values}
            row.updated_at = utcnow()

    def _derive(self, job: _Job, view: JobView, images: list[PreparedImage]) -> None:
        models = view.input_params["models"]
        options = view.input_params["options"]
        failures: list[dict[str, Any]] = []

        def on_description(text: TextResult) -> None:
            self._merge_details(job.id, _usage(job, view, "derivation_text", text.model,
                                               text.usage.total_tokens),
                                description=text.text, description_model=text.model,
                                description_tokens=text.usage.total_tokens,
                                description_seconds=round(text.seconds, 3))

        def on_failure(index: int, exc: GenerationError) -> None:
            failures.append({"variant": index + 1, "error": str(exc), "kind": exc.kind})
            self._merge_details(job.id, failures=sorted(failures, key=lambda f: f["variant"]))

        result = pipelines.run_derivation(
            job.config, images[0], models["derivation_text"], models["derivation_image"],
            creativity=options.get("creativity", 5), skin_tone=options.get("skin_tone"),
            on_description=on_description,
            on_variant=lambda i, img: self._add_output(job, view, img, i + 1),
            on_failure=on_failure,
            text_prompt=job.templates["derivation_text"],
            image_prompt=job.templates["derivation_image"],
        )
        self._finish(job.id, result.usage.total_tokens, result.seconds)

    def _single(self, job: _Job, view: JobView, images: list[PreparedImage]) -> None:
        step = FEATURE_STEPS[view.type][0]
        model = view.input_params["models"][step]
        template = job.templates[step]
        if view.type == "avatar":
            result = pipelines.run_avatar(job.config, images, model, template)
        elif view.type == "try_on":
            result = pipelines.run_try_on(job.config, images[0], images[1], model, template)
        else:
            result = pipelines.run_swap(job.config, images[0], images[1], model, template)
        self._add_output(job, view, result, None)
        self._finish(job.id, result.usage.total_tokens, result.seconds)

    def _finish(self, job_id: uuid.UUID, tokens: int, seconds: float) -> None:
        with self.db.session() as s:
            row = s.get(GenerationHistory, job_id)
            if row is None:
                return
            row.status = "completed"
            row.details = {**(row.details or {}), "total_tokens": tokens,
                           "seconds": round(seconds, 3)}
            row.updated_at = utcnow()

    # --- reading -----------------------------------------------------------------------

    def get(self, job_id: uuid.UUID, user_id: uuid.UUID) -> JobView | None:
        """A generation of this user (None for anyone else's)."""
        return find_generation(self.db, user_id, job_id)

    def recent(self, user_id: uuid.UUID, feature: str | None = None,
               limit: int = 5) -> list[JobView]:
        query = select(GenerationHistory).where(GenerationHistory.user_id == user_id)
        if feature:
            query = query.where(GenerationHistory.type == feature)
        query = query.order_by(GenerationHistory.created_at.desc()).limit(limit)
        with self.db.session() as s:
            return [view_of(r) for r in s.scalars(query)]

    def wait(self, job_id: uuid.UUID, timeout: float = 30.0) -> None:
        """Block until this process has finished the job (tests and scripts)."""
        with self._lock:
            if not self._done.wait_for(lambda: job_id not in self._held, timeout):
                raise TimeoutError(f"job {job_id} still running after {timeout}s")

    # --- liveness ----------------------------------------------------------------------

    def fail_interrupted(self) -> int:
        """Mark failed the unfinished jobs nobody has touched for stale_after (their process
        died). Returns how many."""
        cutoff = utcnow() - self.stale_after
        with self._lock:
            mine = list(self._held)
        query = (update(GenerationHistory)
                 .where(GenerationHistory.status.in_(UNFINISHED),
                        GenerationHistory.updated_at < cutoff)
                 .values(status="failed", error_message=INTERRUPTED_MESSAGE, updated_at=utcnow()))
        if mine:
            query = query.where(GenerationHistory.id.not_in(mine))
        try:
            with self.db.session() as s:
                count = s.execute(query).rowcount
        except DatabaseUnavailable:
            log.warning("job sweep skipped: database unavailable")
            return 0
        if count:
            log.warning("marked %s interrupted job(s) failed", count)
        return count

    def _touch_held(self) -> None:
        with self._lock:
            mine = list(self._held)
        if not mine:
            return
        with self.db.session() as s:
            s.execute(update(GenerationHistory)
                      .where(GenerationHistory.id.in_(mine),
                             GenerationHistory.status.in_(UNFINISHED))
                      .values(updated_at=utcnow()))

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self._touch_held()
                self.fail_interrupted()
            except Exception:  # the heartbeat must outlive a bad moment of the database
                log.exception("job heartbeat failed")

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)


IMAGE_STEP = {feature: steps[-1] for feature, steps in FEATURE_STEPS.items()}


def image_lock(key: str) -> str:
    """The lock name (Database.locked_session) under which an image's references are added
    and under which an unreferenced image is deleted, so the two never interleave."""
    return f"viba-image:{key}"


def _restore(store: ImageStore, images: list[tuple[StoredImage, bytes]]) -> None:
    """Under the images' locks, before their references are written: put back any image that
    a concurrent delete removed after it was saved (it had no reference then)."""
    for stored, data in images:
        if not store.exists(stored.key):
            store.save(data, stored.mime)


def _usage(job: _Job, view: JobView, step: str, model: str, tokens: int,
           images: int = 0) -> ModelUsage:
    return ModelUsage(user_id=job.user_id, generation_id=job.id, feature=view.type, step=step,
                      model=model, tokens=int(tokens or 0), images=images, created_at=utcnow())


def _prompt_text(feature: str, template: PromptTemplate, image_count: int) -> str:
    """The main prompt as sent (a derivation's image prompts add the description to it)."""
    if feature == "avatar":
        return pipelines.avatar_prompt(image_count, template)
    if feature == "derivation":
        return template.render()
    return template.render(aspect_ratio=prompts.ASPECT_RATIO)


def stored_image(store: ImageStore, key: str, name: str) -> PreparedImage:
    """A stored image as pipeline input (it was checked and normalised before it was stored)."""
    return PreparedImage(store.load(key), mime_for(key), 0, 0, name)


def prompts_in_use(active: dict[str, Any]) -> dict[str, tuple[PromptTemplate, Any]]:
    """step → (template, version) from prompt_store.active_prompts()."""
    return {step: (p.template, p.version) for step, p in active.items()}
