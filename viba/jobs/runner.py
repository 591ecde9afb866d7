"""Generation jobs: submitting them to the queue (viba.jobs.queue) and the body a worker runs.

A page submits a job (inputs already checked) and returns at once: the row (pending) and its
queue job commit together. A worker (in this process, or `python -m viba.worker` elsewhere)
runs the feature's pipeline (viba.studio.features) and writes progress through the generations
store (viba.studio.generations): pending → processing → completed | failed | cancelled. Pages
only read the row, so a job survives page switches, reloads and web deploys.

A job whose worker died (kill -9, a lost machine) is retried by another worker once the dead
one has missed 3 heartbeats; a worker stopped past its grace (a deploy) hands its jobs back
the same way. A retried job keeps the outputs it had: only the missing steps run. A job
interrupted more than `resumes` times is marked failed with a sentence.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from viba.core import logs
from viba.core.errors import UserError
from viba.engine import availability, gemini, pipelines
from viba.engine.catalog import ModelInfo
from viba.engine.gemini import GeminiConfig, GenerationError, ImageResult, TextResult, Usage
from viba.engine.images import ImageInputError, PreparedImage, prepare_image
from viba.engine.pipelines import Run
from viba.engine.prompts import PromptTemplate
from viba.engine.region import Brush
from viba.jobs.queue import QUEUE, Call, Chore, Deferrer, Interrupted, QueueWorker
from viba.store.db import Database, DatabaseUnavailable
from viba.store.image_store import ImageStore, StorageError
from viba.store.models import GenerationHistory
from viba.studio import (
    budget,
    features,
    generations,
    model_admin,
    model_rights,
    output,
    prompt_store,
    refine,
    region_edit,
)
from viba.studio.generations import GenerationView

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
RUNNERS: weakref.WeakSet[JobRunner] = weakref.WeakSet()  # the live runners of this process
T = TypeVar("T")
UNEXPECTED_MESSAGE = "Something went wrong on our side while generating. Try again."
STOPPED_MESSAGE = "The server is restarting for an update: try again in a minute."
# (user id, made with their own key?, that key sealed for the queue or None) -> configuration
ConfigFor = Callable[[uuid.UUID, bool, str | None], GeminiConfig]
Seal = Callable[[str], str]  # a user's own key -> a token only the app's processes can open
StopCheck = Callable[[], bool]
NOT_LISTED = "is not offered to this API key"  # why a step's model was swapped (on its card)
ANSWERED_404 = "answered 404 NOT_FOUND (renamed or shut down)"


class JobError(UserError, ValueError):
    """The job cannot be submitted; the message is for the user."""


@dataclass
class _Job:
    id: uuid.UUID
    user_id: uuid.UUID
    config: GeminiConfig = field(repr=False)
    templates: dict[str, PromptTemplate]


class JobRunner:
    """Submits generation jobs, and (work=True) runs a worker for them in this process.

    workers: jobs a worker runs at once; per_user: at once per user (the rest wait in order,
    and other users' jobs go first meanwhile). config_for gives a job its Gemini configuration
    in the worker (the submitting process hands its own along when it runs the job itself);
    seal encrypts a user's own key for the queue. grace_s: how long a stopping worker lets
    its jobs run before handing them back. queue: the queue's name (tests use one each).
    prepare decodes an upload kept as it came, in the worker, before the job's first call."""

    def __init__(
        self,
        db: Database,
        store: ImageStore,
        workers: int = 4,
        per_user: int = 2,
        heartbeat_s: float = 10.0,
        db_retry_s: float = 60.0,
        config_for: ConfigFor | None = None,
        grace_s: float = 0.0,
        chores: Sequence[Chore] = (),
        queue: str = QUEUE,
        work: bool = True,
        queue_url: str | None = None,
        seal: Seal | None = None,
        resumes: int = 2,
        name: str = "web",
        prepare: generations.Prepare = prepare_image,
    ) -> None:
        self.db = db
        self.store = store
        self.per_user = max(1, per_user)
        self.db_retry_s = db_retry_s
        self.config_for = config_for
        self.seal = seal
        self.queue = queue
        self.resumes = resumes
        self.prepare = prepare
        # Who runs a job, on its row: each runner its own (several may share a process), so
        # that a worker taken for dead and retried elsewhere can tell it no longer owns it.
        self.owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._configs: dict[uuid.UUID, GeminiConfig] = {}  # jobs submitted here, until they run
        self._lock = threading.Lock()
        self._running: dict[uuid.UUID, int] = {}  # job bodies running in this process
        self._local_jobs: dict[uuid.UUID, int] = {}  # SQLite: generation -> in-memory job
        self._ended = threading.Condition(self._lock)
        self._stopped = False
        self.worker: QueueWorker | None = None
        if work:
            self.worker = QueueWorker(
                db,
                self.execute,
                queue=queue,
                concurrency=workers,
                heartbeat_s=heartbeat_s,
                grace_s=grace_s,
                queue_url=queue_url,
                name=f"{name}:{self.owner}",
                chores=chores,
                resumes=resumes,
            ).start()
        self.deferrer = Deferrer(db, self.worker)
        RUNNERS.add(self)
        again = self._defer_unfinished() if self.deferrer.in_memory else 0
        log.info(
            "job runner started: worker %s, %s jobs at once (%s per user), %s picked up",
            self.owner if work else "none (the queue's workers run them)",
            workers,
            self.per_user,
            again,
        )
        if work and grace_s > 0:
            # An orderly exit (Render's SIGTERM before a deploy) stops the worker first: its
            # jobs get grace_s, then go back to the queue. Runs before the interpreter's
            # thread pools stop taking work (their hooks are older; these run newest first).
            register = getattr(threading, "_register_atexit", None)
            if register is not None:
                register(self.shutdown)
        if work:
            # The SDK's import, a moment after start: not in the way of the first page, and
            # done before the first Generate needs it.
            warm = threading.Timer(2.0, _warm_up)
            warm.daemon = True
            warm.start()

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
        group: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Store the inputs, create the pending row and queue the job. `models` maps step →
        model id; `prompts_in_use` maps step → (PromptTemplate, version); `group`: the jobs
        of one input across several image models share it (compared side by side)."""
        self._refuse_when_stopped()
        try:
            spec = features.get(feature)
            spec.check_inputs(len(images))
            images = self._stored_form(images)
            image_model = models[spec.image_step]
            chosen = output.choose(
                spec, options, features.catalog().get(image_model), image_model, images
            )
            options = {**spec.check_options(options), **chosen}
        except (features.InputError, output.OutputError, ImageInputError) as exc:
            raise JobError(str(exc)) from None
        steps = spec.step_ids
        estimate = budget.estimate(spec, models, options, len(images))
        params = {
            "options": options,
            "models": {step: models[step] for step in steps},
            "prompt_versions": {step: prompts_in_use[step][1] for step in steps},
            "input_names": [img.name for img in images],
            "own_key": config.own_key,
            "prompt": spec.first_prompt(
                {step: prompts_in_use[step][0] for step in steps},
                len(images),
                chosen[output.RATIO_OPTION],
            ),
            "estimate_usd": estimate,
        }
        if group is not None:
            params["compare_group"] = str(group)
        return self._queue(user_id, feature, images, params, config)

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
        self._refuse_when_stopped()
        try:
            parent, image, params = refine.plan(
                self.db, self.store, user_id, parent_id, output_key, instruction
            )
        except UserError as exc:
            raise JobError(str(exc)) from None
        params["own_key"] = config.own_key
        return self._queue(user_id, parent.type, [image], params, config, parent.id)

    def region_edit(
        self,
        user_id: uuid.UUID,
        parent_id: uuid.UUID,
        output_key: str,
        mark: tuple[float, float, float, float] | Brush,
        instruction: str,
        config: GeminiConfig,
    ) -> uuid.UUID:
        """A new generation that changes one part of an output of this user's (a box: shares
        of its width and height, left, top, right, bottom; or brush strokes) as the words say,
        nothing outside it (viba.studio.region_edit)."""
        self._refuse_when_stopped()
        parent = generations.find(self.db, user_id, parent_id)
        try:
            crop, params = region_edit.plan(self.store, parent, output_key, mark, instruction)
        except (UserError, StorageError) as exc:
            raise JobError(str(exc)) from None
        assert parent is not None  # plan refuses a generation that is not the user's
        params["own_key"] = config.own_key
        return self._queue(user_id, parent.type, [crop], params, config)

    def _stored_form(self, images: Sequence[PreparedImage]) -> list[PreparedImage]:
        """Uploads checked from their headers, as they are to be stored. A process with its
        own worker prepares them now (its worker would do it anyway, after a round trip of
        the whole upload through the store), and a file that cannot be decoded is refused
        before any row exists; without one (VIBA_WORKER=off) they go as they came and the
        queue's worker prepares them."""
        if self.worker is None:
            return list(images)
        return [
            image if image.normalised else self.prepare(image.data, image.name) for image in images
        ]

    def _refuse_when_stopped(self) -> None:
        if self._stopped:
            raise JobError(STOPPED_MESSAGE)

    def _queue(
        self,
        user_id: uuid.UUID,
        feature: str,
        images: Sequence[PreparedImage],
        params: dict[str, Any],
        config: GeminiConfig,
        parent_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Check the user's limits (team key), store the inputs, add the row and its queue job
        in one transaction."""
        try:  # only models an admin lets this person pick (viba.studio.model_rights)
            model_rights.check(self.db, user_id, dict(params.get("models") or {}))
        except model_rights.RightsError as exc:
            raise JobError(str(exc)) from None
        guard: Callable[[Session], None] | None = None
        if not config.own_key:  # the team's key: its limits apply
            guard = functools.partial(
                budget.check, user_id=user_id, estimate_usd=params["estimate_usd"]
            )
        sealed = self._sealed(config)
        then = functools.partial(self._defer, config=config, sealed=sealed)
        try:
            if guard is not None:  # refused at once, before any image is stored
                with self.db.session() as s:
                    guard(s)
            job_id = generations.create(
                self.db,
                self.store,
                user_id,
                feature,
                images,
                params,
                WORKER_ID,
                guard,
                parent_id,
                then=then,
            )
        except budget.LimitReached as exc:
            raise JobError(str(exc)) from None
        except StorageError as exc:
            raise JobError(str(exc)) from exc
        if self.deferrer.in_memory:  # SQLite: the queue is this process's, after the commit
            self._defer_local(job_id, user_id, sealed)
        return job_id

    def _sealed(self, config: GeminiConfig) -> str | None:
        if config.own_key and self.seal is not None and config.api_key:
            return self.seal(config.api_key)
        return None

    def _lock_for(self, s: Session, user_id: uuid.UUID) -> str:
        """The queue lock of a user's next job: per_user slots, taken in turn, so at most
        per_user jobs of one user run at once and the others' jobs pass the rest."""
        return f"user:{user_id}:{generations.running_count(s, user_id) % self.per_user}"

    def _defer(
        self, s: Session, row: GenerationHistory, config: GeminiConfig, sealed: str | None
    ) -> None:
        """In the row's transaction: a worker of this process may start it the moment it
        commits, with the submitter's configuration (kept only where a worker of this process
        can take it: a web without one would keep it forever)."""
        if self.worker is not None:
            with self._lock:
                self._configs[row.id] = config
        if self.deferrer.in_memory:
            return  # deferred once the row is committed (_defer_local)
        lock = self._lock_for(s, row.user_id)
        job = self.deferrer.defer(
            self.queue, lock, _job_args(row.id, sealed), connection=s.connection()
        )
        row.details = {**(row.details or {}), "queue_job": job}

    def _defer_local(self, job_id: uuid.UUID, user_id: uuid.UUID, sealed: str | None) -> None:
        with self.db.session() as s:
            lock = self._lock_for(s, user_id)
        # Kept here, not on the row: the in-memory queue is this process's alone, and a write
        # to the row now would race the worker that may already be running it.
        with self._lock:
            self._local_jobs[job_id] = self.deferrer.defer(
                self.queue, lock, _job_args(job_id, sealed)
            )

    def _defer_unfinished(self) -> int:
        """SQLite: the queue was in the memory of a process that is gone; its unfinished rows
        go back in it (each resumes where it was)."""
        rows = generations.unfinished(self.db)
        for job_id, user_id in rows:
            self._defer_local(job_id, user_id, None)
        return len(rows)

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

    def cancel(self, user_id: uuid.UUID, job_id: uuid.UUID) -> bool:
        """Cancel a queued or running generation of this user (see generations.cancel): its
        queue job is cancelled, or aborted where it runs. False when it had already ended."""
        ended = generations.cancel(self.db, user_id, job_id)
        if ended is False:
            return False
        if ended is True:  # no queue job on the row: the in-memory queue's, if any
            with self._lock:
                ended = self._local_jobs.get(job_id, True)
        with self._lock:  # a queued job cancelled never runs here: forget what it needed
            self._configs.pop(job_id, None)
        if not isinstance(ended, bool):
            with self._lock:
                self._local_jobs.pop(job_id, None)
            try:
                self.deferrer.abort(ended)
            except Exception:  # the row says cancelled: the job stops at its next call anyway
                log.exception("could not abort the queue job of generation %s", job_id)
        return True

    # --- running (in a worker) ---------------------------------------------------------

    def execute(self, call: Call) -> None:
        """The body of one queue job: claim the row, run the pipeline, end the row. Raises
        Interrupted when the worker stops first (the queue retries it)."""
        job_id = uuid.UUID(call.generation_id)
        with self._lock:
            self._running[job_id] = self._running.get(job_id, 0) + 1
        try:
            with logs.context(job_id=str(job_id)):
                self._execute(job_id, call)
        finally:
            with self._lock:
                self._running[job_id] -= 1
                if not self._running[job_id]:
                    del self._running[job_id]
                    self._local_jobs.pop(job_id, None)
                self._ended.notify_all()

    def _execute(self, job_id: uuid.UUID, call: Call) -> None:
        try:
            model_admin.refresh(self.db)  # the admins' catalog changes (at most every 5 s)
            view = self._write(lambda: generations.claim(self.db, job_id, self.owner, self.resumes))
            if view is None:
                return  # deleted, cancelled or ended meanwhile (or interrupted too often)
            with logs.context(user_id=str(view.user_id)):
                try:
                    job = self._job_for(view, call.sealed_key)
                except UserError as exc:
                    reason = str(exc).rstrip(".")
                    self._fail_quietly(job_id, generations.NOT_RESUMABLE.format(reason=reason))
                    return
                if view.details.get("resumed"):
                    log.warning("picking up interrupted job %s again", job_id)
                prepared = generations.prepare_inputs(self.db, self.store, view, self.prepare)
                if prepared is None:
                    return  # deleted meanwhile
                view = prepared
                images = generations.load_inputs(self.store, view)
                self._run_with_callable_models(job, view, images, call.should_stop)
        except pipelines.Cancelled as exc:
            why = generations.stop_reason(self.db, job_id, self.owner)
            if why == "cancelled":
                self._fail_quietly(job_id, str(exc))  # ends as cancelled, with its figures
            elif why == "taken":
                log.warning("job %s: another worker runs it now; this one stops", job_id)
            else:  # its worker is stopping: back in the queue, to go on elsewhere
                self._write(lambda: generations.requeue(self.db, job_id, self.owner))
                raise Interrupted(str(job_id)) from None
        except generations.TakenOver:
            # This worker was taken for dead (cut off from the database past 3 heartbeats)
            # and the queue retried the job elsewhere: that run owns the row now.
            log.warning("job %s: another worker runs it now; this one stops", job_id)
        except GenerationError as exc:
            extra = {"error_kind": exc.kind, "error_model": exc.model}
            self._fail_quietly(job_id, str(exc), extra)
        except (StorageError, DatabaseUnavailable, refine.RefineError, ImageInputError) as exc:
            log.warning("job %s: %s", job_id, exc)
            self._fail_quietly(job_id, str(exc))
        except Exception:  # a bug must end as a failed job, not a job stuck processing
            log.exception("job %s failed unexpectedly", job_id)
            self._fail_quietly(job_id, UNEXPECTED_MESSAGE)
        finally:
            with self._lock:
                self._configs.pop(job_id, None)

    def _job_for(self, view: GenerationView, sealed: str | None) -> _Job:
        """The job's configuration (the submitter's own, when it was this process; else from
        config_for) and its prompts."""
        with self._lock:
            config = self._configs.get(view.id)
        if config is None:
            if self.config_for is None:
                raise UserError("this process cannot read the key it was made with")
            config = self.config_for(view.user_id, bool(view.input_params.get("own_key")), sealed)
        versions = view.input_params.get("prompt_versions") or {}
        templates = prompt_store.templates_for(self.db, versions)
        if view.refinement:
            step = features.get(view.type).image_step
            templates = {step: templates[step]}
        return _Job(view.id, view.user_id, config, templates)

    def _write(self, work: Callable[[], T]) -> T:
        """A write of a running job: retried through a database outage of up to db_retry_s."""
        return self.db.retrying(work, self.db_retry_s)

    def _fail_quietly(
        self, job_id: uuid.UUID, message: str, extra: dict[str, Any] | None = None
    ) -> None:
        try:
            self._write(lambda: generations.fail(self.db, job_id, message, extra, self.owner))
        except DatabaseUnavailable:
            log.exception("job %s: could not record its failure", job_id)
        except generations.TakenOver:
            log.warning("job %s: another worker runs it now; its failure is not recorded", job_id)

    def _run_with_callable_models(
        self, job: _Job, view: GenerationView, images: list[PreparedImage], stop: StopCheck
    ) -> None:
        """The pipeline with models the key can call: a step whose model the key's list lacks,
        or that answers 404 NOT_FOUND (renamed, shut down), uses the step's default if that
        can be called, else the best listed model of its capability; the row says so (its
        card shows it) and keeps what was made. A job fails for a model only when no model
        of the step's capability can be called."""
        spec = features.get(view.type)
        catalog = features.catalog()
        known = availability.for_config(job.config)
        permitted = model_rights.allowed(self.db, view.user_id)

        def usable(model: str) -> bool:  # callable, and one its owner may use
            return known.can_call(model) and model_rights.may_use(permitted, model)

        models = dict(view.input_params["models"])
        for step, model in list(models.items()):
            if not known.can_call(model):
                view = self._fall_back(view, models, step, model, usable, NOT_LISTED)
        while True:
            try:
                self._run_pipeline(job, view, images, stop, models)
                return
            except gemini.ModelNotFound as exc:
                step = next((s for s in spec.step_ids if models.get(s) == exc.model), None)
                known = availability.mark_missing(job.config, str(exc.model))
                if step is None or catalog.fallback(step, models[step], usable) is None:
                    raise
                view = self._fall_back(view, models, step, models[step], usable, ANSWERED_404)

    def _fall_back(
        self,
        view: GenerationView,
        models: dict[str, str],
        step: str,
        model: str,
        usable: Callable[[str], bool],
        reason: str,
    ) -> GenerationView:
        """Swap a step's model for its fallback (in `models` and on the row); the fresh view
        (what was made so far is kept, the failures of the model that went are dropped)."""
        catalog = features.catalog()
        options = dict(view.input_params.get("options") or {})
        size, ratio = options.get(output.SIZE_OPTION), options.get(output.RATIO_OPTION)

        def fits(info: ModelInfo) -> bool:  # can make what the job asks for
            if info.capability != "image":
                return True
            return (not size or size in info.sizes) and (not ratio or ratio in info.aspect_ratios)

        other = catalog.fallback(step, model, usable, fits)
        if other is None:
            return view  # nothing else to try: the call says what is wrong
        log.warning("job %s: %s %s; step %s uses %s", view.id, model, reason, step, other)
        models[step] = other
        swap: dict[str, Any] = {"step": step, "asked": model, "used": other, "reason": reason}
        info = catalog.get(other)
        if info is not None and not fits(info):  # none that fits: the nearest it makes
            options |= output.nearest_output(info, size, ratio)
            swap["options"] = {k: options.get(k) for k in (output.SIZE_OPTION, output.RATIO_OPTION)}
        fresh = self._write(
            lambda: generations.fall_back(self.db, view.id, step, other, swap, options, self.owner)
        )
        return fresh or view

    def _run_pipeline(
        self,
        job: _Job,
        view: GenerationView,
        images: list[PreparedImage],
        stop: StopCheck,
        models: dict[str, str],
    ) -> None:
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
                    owner=self.owner,
                    description=text.text,
                    description_model=text.model,
                    description_tokens=text.usage.total_tokens,
                    description_seconds=round(text.seconds, 3),
                )
            )

        def on_image(index: int, image: ImageResult) -> None:
            nonlocal tokens
            tokens += image.usage.total_tokens
            if view.region:  # the answer goes back inside the box of the output it edits
                image = region_edit.pasted_result(self.store, view, image)
            generations.add_output(
                self.db,
                self.store,
                view,
                spec.image_step,
                image,
                index if view.expected_outputs > 1 else None,
                retry_s=self.db_retry_s,
                owner=self.owner,
            )

        def on_failure(index: int, exc: GenerationError) -> None:
            failures.append({"variant": index, "error": str(exc), "kind": exc.kind})
            ordered = sorted(failures, key=lambda f: f["variant"])
            self._write(
                lambda: generations.merge_details(
                    self.db, job.id, owner=self.owner, failures=ordered
                )
            )

        pipeline = spec.pipeline
        conversation: list[Any] = []
        if view.refinement:  # one image from the conversation so far and the new words
            pipeline = pipelines.refine
            conversation = refine.conversation(self.db, self.store, view)
        elif view.region:  # one image from the crop and the words
            pipeline = pipelines.region_edit
        pipeline(
            Run(
                config=job.config,
                images=images,
                options=view.input_params.get("options") or {},
                models=models,
                prompts=job.templates,
                steps=spec.step_ids,
                outputs=view.expected_outputs,
                on_text=on_text,
                on_image=on_image,
                on_failure=on_failure,
                done=done,
                description=description,
                cancelled=lambda: (
                    stop() or generations.stop_reason(self.db, job.id, self.owner) is not None
                ),
                conversation=conversation,
                instruction=str((view.refinement or view.region or {}).get("instruction") or ""),
            )
        )
        seconds = time.perf_counter() - started
        self._write(lambda: generations.finish(self.db, job.id, tokens, seconds, self.owner))

    # --- reading, waiting, stopping --------------------------------------------------

    def get(self, job_id: uuid.UUID, user_id: uuid.UUID) -> GenerationView | None:
        """A generation of this user (None for anyone else's)."""
        return generations.find(self.db, user_id, job_id)

    def wait(self, job_id: uuid.UUID, timeout: float = 30.0) -> None:
        """Block until the generation has ended, whoever runs it, and this process's worker (if
        it ran it) is done with it (tests and scripts)."""
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            with self.db.session() as s:
                row = s.get(GenerationHistory, job_id)
                status = row.status if row is not None else None
            if status not in generations.UNFINISHED:
                with self._lock:
                    left = deadline - time.monotonic()
                    if self._ended.wait_for(lambda: job_id not in self._running, max(0, left)):
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {status} after {timeout}s")
            time.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    def health(self) -> str:
        """ "ok", or what is wrong with the queue (for /health)."""
        if self._stopped:
            return "stopping"
        if self.worker is not None and not self.worker.alive:
            return "worker stopped"
        return "ok" if self.deferrer.reachable() else "unreachable"

    def shutdown(self, wait: bool = True) -> None:
        """Take no new job; the worker (if any) lets running ones go on for its grace, then
        hands them back to the queue."""
        if self._stopped:
            return
        self._stopped = True
        if self.worker is not None:
            with self._lock:
                held = len(self._running)
            grace = self.worker.grace_s
            started = time.monotonic()
            if held:
                log.warning("stopping: waiting up to %ss for %s job(s)", round(grace), held)
            self.worker.stop(timeout=None if wait else 5.0)
            with self._lock:
                left = len(self._running)
            seconds = round(time.monotonic() - started, 1)
            if left:
                log.warning("stopped after %ss with %s job(s) still running", seconds, left)
            elif held:
                log.warning("stopping: all %s job(s) finished in %ss", held, seconds)
        self.deferrer.close()


def _job_args(generation_id: uuid.UUID, sealed: str | None) -> dict[str, Any]:
    """A generation job's arguments (the queue keeps them as JSON until the job ends)."""
    return {"generation_id": str(generation_id), **({"key": sealed} if sealed else {})}


def _warm_up() -> None:
    try:
        gemini.warm_up()
    except Exception:  # the first job imports it again and says what is wrong
        log.exception("the Gemini SDK could not be imported ahead of the first job")
