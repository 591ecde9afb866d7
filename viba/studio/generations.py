"""The generations store: the generation_history row, its view, the queries and writes on it,
its image references and the locks that keep images and references consistent.

The job runner (viba.jobs.runner) only schedules and runs pipelines and writes through here; History
and Admin read through here and never touch the scheduler.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from viba.core.errors import UserError
from viba.engine.gemini import ImageResult, Usage
from viba.engine.images import PreparedImage, holding
from viba.store.db import Database, DatabaseUnavailable, sqlite_write_lock
from viba.store.image_store import ImageStore, StorageError, StoredImage, is_upload, mime_for
from viba.store.models import GenerationHistory, ImageRef, ModelUsage, PresetImage, utcnow
from viba.studio import features

log = logging.getLogger(__name__)

UNFINISHED = ("pending", "processing")
INTERRUPTED_MESSAGE = (
    "Interrupted: the server restarted (or lost its database for too long) while this was "
    "running. Use “Run again”."
)
NOT_RESUMABLE = (
    "Interrupted by a server restart, and it could not be picked up again ({reason}). "
    "Use “Run again”."
)


class TakenOver(RuntimeError):
    """Another worker runs this generation now (its worker was taken for dead, and the queue
    retried the job elsewhere): this one writes nothing more to it and stops."""


def _check_owner(row: GenerationHistory, owner: str | None) -> None:
    if owner is not None and row.worker_id != owner:
        raise TakenOver(str(row.id))


@dataclass(frozen=True)
class GenerationView:
    """A generation row as pages and the runner read it."""

    id: uuid.UUID
    user_id: uuid.UUID
    type: str
    status: str
    input_params: dict[str, Any]
    input_keys: list[str]
    output_keys: list[str]
    details: dict[str, Any]
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    favorite: bool = False
    parent_id: uuid.UUID | None = None  # a refinement's parent (viba.studio.refine)

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED

    @property
    def version(self) -> str:
        return live_version(self.status, self.updated_at)

    @property
    def refinement(self) -> dict[str, Any] | None:
        """What a refinement refines (parent, output, instruction); None for a first round."""
        found = self.input_params.get("refine")
        return found if isinstance(found, dict) else None

    @property
    def region(self) -> dict[str, Any] | None:
        """What a region edit changes (parent, output, box, crop, instruction); else None."""
        found = self.input_params.get("region")
        return found if isinstance(found, dict) else None

    @property
    def expected_outputs(self) -> int:
        """How many images it makes: its feature's number, one for a refinement or a region
        edit."""
        return 1 if self.refinement or self.region else features.get(self.type).outputs

    @property
    def input_names(self) -> list[str]:
        return list(
            self.input_params.get("input_names")
            or [f"input {i + 1}" for i in range(len(self.input_keys))]
        )


def output_slots(view: GenerationView, outputs: int) -> list[str | None]:
    """The output keys in their places: variant n in slot n (None while it is on its way, or
    where it failed), whatever order they finished in."""
    if outputs <= 1:
        return list(view.output_keys)
    slots: list[str | None] = [None] * outputs
    meta = view.details.get("outputs") or {}
    extra = []
    for key in view.output_keys:
        variant = (meta.get(key) or {}).get("variant")
        if isinstance(variant, int) and 1 <= variant <= outputs and slots[variant - 1] is None:
            slots[variant - 1] = key
        else:
            extra.append(key)
    return slots + extra


def view_of(row: GenerationHistory) -> GenerationView:
    return GenerationView(
        row.id,
        row.user_id,
        row.type,
        row.status,
        dict(row.input_params or {}),
        list(row.input_keys or []),
        list(row.output_keys or []),
        dict(row.details or {}),
        row.error_message,
        row.created_at,
        row.updated_at,
        bool(row.favorite),
        row.parent_id,
    )


# --- reading ---------------------------------------------------------------------------------


def find(db: Database, user_id: uuid.UUID, generation_id: uuid.UUID) -> GenerationView | None:
    """A generation of this user (None for anyone else's or a missing one)."""
    with db.session() as s:
        row = s.scalar(
            select(GenerationHistory).where(
                GenerationHistory.id == generation_id, GenerationHistory.user_id == user_id
            )
        )
        return view_of(row) if row else None


def recent(
    db: Database, user_id: uuid.UUID, feature: str | None = None, limit: int = 5
) -> list[GenerationView]:
    query = select(GenerationHistory).where(GenerationHistory.user_id == user_id)
    if feature:
        query = query.where(GenerationHistory.type == feature)
    query = query.order_by(GenerationHistory.created_at.desc()).limit(limit)
    with db.session() as s:
        return [view_of(r) for r in s.scalars(query)]


class LiveRow(NamedTuple):
    """A generation as a page watching its owner's jobs sees it."""

    id: uuid.UUID
    user_id: uuid.UUID
    kind: str  # its feature
    status: str
    version: str  # live_version: changes with anything a page shows of it


def live_version(status: str, updated_at: datetime) -> str:
    """A generation's version as a page draws it: every write to its row (an output, its
    description, a failure, its end) moves updated_at (the column's onupdate)."""
    return f"{status}@{updated_at.isoformat()}"


RUNNING_WATCHED = 50  # a user's unfinished generations a page watches at most (the newest)


def newest_running(states: Iterable[tuple[uuid.UUID, str]]) -> list[uuid.UUID]:
    """Of (id, status) pairs, newest first: the ids of the RUNNING_WATCHED newest unfinished
    ones (the page that draws them and the route that tells it of a change count alike)."""
    return [job for job, status in states if status in UNFINISHED][:RUNNING_WATCHED]


def live_rows(
    db: Database, user_ids: Iterable[uuid.UUID], ids: Iterable[uuid.UUID], limit: int = 5000
) -> list[LiveRow]:
    """The rows pages are waiting on, for one or several users in one query, newest first:
    the generations in `ids` and every unfinished one of `user_ids` (whose each is, is the
    caller's to check)."""
    g = GenerationHistory
    users, wanted = list(user_ids), list(ids)
    running = g.user_id.in_(users) & g.status.in_(UNFINISHED)
    which = or_(running, g.id.in_(wanted)) if wanted else running
    query = (
        select(g.id, g.user_id, g.type, g.status, g.updated_at)
        .where(which)
        .order_by(g.created_at.desc())
        .limit(limit)
    )
    with db.session() as s:
        return [
            LiveRow(r.id, r.user_id, r.type, r.status, live_version(r.status, r.updated_at))
            for r in s.execute(query)
        ]


def statuses(
    db: Database,
    user_id: uuid.UUID,
    also: Iterable[uuid.UUID] = (),
    limit: int = RUNNING_WATCHED,
) -> dict[uuid.UUID, LiveRow]:
    """id -> row of this user's unfinished generations, and of the ones in `also` whatever
    their status, newest first (what a page watching its owner's jobs needs)."""
    wanted = list(also)
    rows = live_rows(db, [user_id], wanted, limit + len(wanted))
    return {r.id: r for r in rows if r.user_id == user_id}


def children(db: Database, user_id: uuid.UUID, generation_id: uuid.UUID) -> list[GenerationView]:
    """The refinements made of a generation's outputs, oldest first."""
    with db.session() as s:
        rows = s.scalars(
            select(GenerationHistory)
            .where(
                GenerationHistory.parent_id == generation_id, GenerationHistory.user_id == user_id
            )
            .order_by(GenerationHistory.created_at)
            .limit(50)
        )
        return [view_of(r) for r in rows]


def stored_image(store: ImageStore, key: str, name: str) -> PreparedImage:
    """A stored image as an input: prepared, or an upload kept as it came (checked from its
    header) that a worker prepares before the first call."""
    return PreparedImage(store.load(key), mime_for(key), 0, 0, name, normalised=not is_upload(key))


def _save(store: ImageStore, image: PreparedImage) -> StoredImage:
    if image.normalised:
        return store.save(image.data, image.mime_type)
    return store.save_upload(image.data, image.mime_type)


Prepare = Callable[[bytes, str], PreparedImage]  # an upload's bytes and name -> prepared


def prepare_inputs(
    db: Database, store: ImageStore, view: GenerationView, prepare: Prepare
) -> GenerationView | None:
    """In the worker, before the first call: each input still kept as uploaded is decoded and
    stored prepared (viba.engine.images.prepare_image), the row refers to that instead, and the
    upload is deleted once nothing else refers to it. An upload that cannot be decoded raises
    ImageInputError (its sentence ends the job). The view with the new keys (None: the row
    was deleted meanwhile)."""
    raw = {key: name for key, name in zip(view.input_keys, view.input_names) if is_upload(key)}
    if not raw:
        return view
    made: dict[str, tuple[StoredImage, bytes]] = {}
    for key, name in raw.items():
        with holding():  # the upload in memory only while it is being prepared
            image = prepare(store.load(key), name)
        made[key] = (store.save(image.data, image.mime_type), image.data)
    keys = [made[k][0].key if k in made else k for k in view.input_keys]
    names = [image_lock(k) for k in made] + [image_lock(x.key) for x, _ in made.values()]
    with db.locked_session(*names) as s:
        sqlite_write_lock(s)
        row = s.get(GenerationHistory, view.id, with_for_update=True)
        if row is None:  # deleted meanwhile: what was stored for it goes too
            keys = []
        else:
            _restore(store, list(made.values()))
            row.input_keys = keys
            s.execute(
                delete(ImageRef).where(
                    ImageRef.generation_id == view.id,
                    ImageRef.role == "input",
                    ImageRef.key.in_(list(made)),
                )
            )
            have = set(
                s.scalars(
                    select(ImageRef.key).where(
                        ImageRef.generation_id == view.id, ImageRef.role == "input"
                    )
                )
            )
            for key in dict.fromkeys(x.key for x, _ in made.values()):
                if key not in have:
                    s.add(ImageRef(generation_id=view.id, key=key, role="input"))
    gone = list(made) + ([] if keys else [x.key for x, _ in made.values() if x.created])
    try:
        forget_unreferenced(db, store, gone)
    except StorageError:  # left for History's clean-up: the job goes on
        log.exception("the uploads of generation %s could not be deleted", view.id)
    return replace(view, input_keys=keys) if keys else None


def load_inputs(store: ImageStore, view: GenerationView) -> list[PreparedImage]:
    return [stored_image(store, key, name) for key, name in zip(view.input_keys, view.input_names)]


# --- images and their references ---------------------------------------------------------


def image_lock(key: str) -> str:
    """The lock name (Database.locked_session) under which an image's references are added
    and under which an unreferenced image is deleted, so the two never interleave."""
    return f"viba-image:{key}"


def _restore(store: ImageStore, images: Sequence[tuple[StoredImage, bytes]]) -> None:
    """Under the images' locks, before their references are written: put back any image that
    a concurrent delete removed after it was saved (it had no reference then)."""
    for stored, data in images:
        if not store.exists(stored.key):
            if is_upload(stored.key):
                store.save_upload(data, stored.mime)
            else:
                store.save(data, stored.mime)


# --- writing ---------------------------------------------------------------------------------


def create(
    db: Database,
    store: ImageStore,
    user_id: uuid.UUID,
    feature: str,
    images: Sequence[PreparedImage],
    params: dict[str, Any],
    worker_id: str,
    guard: Callable[[Session], None] | None = None,
    parent_id: uuid.UUID | None = None,
    then: Callable[[Session, GenerationHistory], None] | None = None,
) -> uuid.UUID:
    """Store the inputs and add the pending row with their references. Raises StorageError.

    guard (a limit check) runs in the row's transaction, one at a time per user, before the
    row is added: a UserError from it refuses the job, and the images this call stored for
    it are deleted again. then(session, row) runs in the same transaction once the row has
    its id (the job queue defers its job there: the row and its job commit together)."""
    stored = []
    for img in images:
        # A write to the database store holds about twice the image while the driver sends
        # it (psycopg 3, binary; psycopg2's hex took eight times): a few at a time, so 20
        # people submitting 12 MP photos at once do not add it up twenty times.
        with holding():
            stored.append(_save(store, img))
    row = GenerationHistory(
        user_id=user_id,
        type=feature,
        status="pending",
        input_params=params,
        input_keys=[x.key for x in stored],
        output_keys=[],
        details={},
        worker_id=worker_id,
        parent_id=parent_id,
    )
    names = [image_lock(x.key) for x in stored] + ([f"limits:{user_id}"] if guard else [])
    try:
        with db.locked_session(*names) as s:
            if guard is not None:
                guard(s)
            _restore(store, [(x, img.data) for x, img in zip(stored, images)])
            s.add(row)
            s.flush()
            for key in dict.fromkeys(x.key for x in stored):
                s.add(ImageRef(generation_id=row.id, key=key, role="input"))
            if then is not None:
                then(s, row)
            return row.id
    except UserError:
        try:
            forget_unreferenced(db, store, [x.key for x in stored if x.created])
        except StorageError:
            log.exception("the inputs of a refused job could not be deleted")
        raise


def forget_unreferenced(db: Database, store: ImageStore, keys: Iterable[str]) -> int:
    """Delete the images nothing refers to, each under its lock: a job adding a reference to
    one waits, or has finished and is seen here (see image_lock). How many were deleted."""
    deleted = 0
    for key in sorted(set(keys)):
        with db.locked_session(image_lock(key)) as s:
            used = s.scalar(select(ImageRef.key).where(ImageRef.key == key).limit(1))
            kept = s.scalar(select(PresetImage.key).where(PresetImage.key == key).limit(1))
            if used is None and kept is None:  # no generation uses it, no preset keeps it
                store.delete(key)
                deleted += 1
    return deleted


def claim(
    db: Database, generation_id: uuid.UUID, worker_id: str, resumes: int = 2
) -> GenerationView | None:
    """The row, taken by this worker (processing); None when it is gone or has ended. A row
    whose run began before (its worker stopped or died) is taken again: the outputs it had
    stay, the failures of the run that stopped are forgotten, and past `resumes` such runs it
    is marked failed with a sentence instead."""
    with db.session() as s:
        sqlite_write_lock(s)
        row = s.get(GenerationHistory, generation_id, with_for_update=True)
        if row is None or row.status not in UNFINISHED:
            return None
        details = dict(row.details or {})
        runs = int(details.get("runs") or 0) + 1
        row.updated_at = utcnow()
        if runs - 1 > resumes:
            row.status = "failed"
            row.error_message = INTERRUPTED_MESSAGE
            return None
        details["runs"] = runs
        if runs > 1:
            details.update(resumed=runs - 1, failures=[])
        row.details = details
        row.status = "processing"
        row.worker_id = worker_id
        return view_of(row)


def fall_back(
    db: Database,
    generation_id: uuid.UUID,
    step: str,
    model: str,
    swap: dict[str, Any],
    options: dict[str, Any] | None = None,
    owner: str | None = None,
) -> GenerationView | None:
    """A running job's step uses another model from now on (its own could not be called): the
    row's models say the one used, details["model_fallbacks"] what was asked and why; the
    failures of the model that went are dropped. The fresh view (None: the row is gone)."""
    with db.session() as s:
        sqlite_write_lock(s)
        row = s.get(GenerationHistory, generation_id, with_for_update=True)
        if row is None:
            return None
        _check_owner(row, owner)
        params = dict(row.input_params or {})
        params["models"] = {**(params.get("models") or {}), step: model}
        if options is not None:  # the size and ratio the new model makes, if it had to change
            params["options"] = options
        row.input_params = params
        details = dict(row.details or {})
        details["model_fallbacks"] = [*(details.get("model_fallbacks") or []), swap]
        details["failures"] = []
        row.details = details
        row.updated_at = utcnow()
        return view_of(row)


def requeue(db: Database, generation_id: uuid.UUID, owner: str | None = None) -> None:
    """processing → pending: its worker (owner, when given: only if it still runs it) stopped
    before the end and the queue retries it."""
    where = [GenerationHistory.id == generation_id, GenerationHistory.status == "processing"]
    if owner is not None:
        where.append(GenerationHistory.worker_id == owner)
    with db.session() as s:
        s.execute(
            update(GenerationHistory).where(*where).values(status="pending", updated_at=utcnow())
        )


def unfinished(db: Database) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(id, user id) of every pending or processing generation, oldest first."""
    with db.session() as s:
        return [
            (row.id, row.user_id)
            for row in s.execute(
                select(GenerationHistory.id, GenerationHistory.user_id)
                .where(GenerationHistory.status.in_(UNFINISHED))
                .order_by(GenerationHistory.created_at)
            )
        ]


def running_count(s: Session, user_id: uuid.UUID) -> int:
    """How many generations of this user are pending or processing (in the caller's session)."""
    return int(
        s.scalar(
            select(func.count())
            .select_from(GenerationHistory)
            .where(GenerationHistory.user_id == user_id, GenerationHistory.status.in_(UNFINISHED))
        )
        or 0
    )


def usage_row(
    view: GenerationView, step: str, model: str, usage: Usage, images: int = 0
) -> ModelUsage:
    """One successful call's usage: its tokens and its estimated cost (the catalog's price for
    the model; None without one), and whether the user's own key paid for it."""

    info = features.catalog().get(model)
    cost = info.cost(usage) if info is not None else None
    return ModelUsage(
        user_id=view.user_id,
        generation_id=view.id,
        feature=view.type,
        step=step,
        model=model,
        tokens=int(usage.total_tokens or 0),
        images=images,
        created_at=utcnow(),
        cost_usd=round(cost, 6) if cost is not None else None,
        own_key=bool(view.input_params.get("own_key")),
    )


THOUGHTS_KEPT = 4000  # characters of a model's thought summary kept with its output


def add_output(
    db: Database,
    store: ImageStore,
    view: GenerationView,
    step: str,
    result: ImageResult,
    variant: int | None,
    retry_s: float = 0.0,
    owner: str | None = None,
) -> None:
    """Store an output image and add it to the row, with its usage and reference. The row is
    written again and again through a database outage of up to retry_s; if it still cannot
    be written, an image this call stored is deleted again (never left unreferenced). owner:
    the worker running the job; raises TakenOver (nothing kept) when another one runs it now."""
    # The store may be the database too (VIBA_STORAGE=db): saving waits out an outage as well.
    stored = db.retrying(lambda: store.save(result.data, result.mime_type), retry_s)
    try:
        db.retrying(
            lambda: _record_output(db, store, view, step, result, stored, variant, owner), retry_s
        )
    except TakenOver:
        if stored.created:
            forget_unreferenced(db, store, [stored.key])
        raise
    except DatabaseUnavailable as exc:
        if stored.created:
            try:
                store.delete(stored.key)
            except StorageError:
                log.exception("an unsaved output could not be deleted: %s", stored.key)
        raise DatabaseUnavailable(
            f"The database could not be reached for {retry_s:g} seconds while this result was "
            "being saved, so it was not kept."
        ) from exc


def _record_output(
    db: Database,
    store: ImageStore,
    view: GenerationView,
    step: str,
    result: ImageResult,
    stored: StoredImage,
    variant: int | None,
    owner: str | None = None,
) -> None:
    with db.locked_session(image_lock(stored.key)) as s:
        sqlite_write_lock(s)  # the row's details are read, then written
        row = s.scalars(
            select(GenerationHistory).where(GenerationHistory.id == view.id).with_for_update()
        ).one()
        _check_owner(row, owner)
        _restore(store, [(stored, result.data)])
        s.add(usage_row(view, step, result.model, result.usage, images=1))
        details = dict(row.details or {})
        meta = dict(details.get("outputs") or {})
        meta[stored.key] = {
            "signature": result.signature,  # the next turn of a conversation needs it
            "model": result.model,
            "seconds": round(result.seconds, 3),
            "tokens": result.usage.total_tokens,
            "image_tokens": result.usage.image_tokens,
            "variant": variant,
        }
        if result.thoughts:  # the model's thought summary (Gemini 3), kept short
            meta[stored.key]["thoughts"] = result.thoughts[:THOUGHTS_KEPT]
        details["outputs"] = meta
        row.output_keys = [*(row.output_keys or []), stored.key]
        row.details = details
        row.updated_at = utcnow()
        if s.get(ImageRef, (view.id, stored.key, "output")) is None:
            s.add(ImageRef(generation_id=view.id, key=stored.key, role="output"))


def merge_details(
    db: Database,
    generation_id: uuid.UUID,
    usage: ModelUsage | None = None,
    owner: str | None = None,
    **values: Any,
) -> None:
    """Add values to a row's details (and a usage row); raises TakenOver, writing nothing,
    when owner is given and another worker runs the job now."""
    with db.session() as s:
        sqlite_write_lock(s)
        row = s.scalars(
            select(GenerationHistory).where(GenerationHistory.id == generation_id).with_for_update()
        ).one()
        _check_owner(row, owner)
        if usage is not None:
            s.add(usage)
        row.details = {**(row.details or {}), **values}
        row.updated_at = utcnow()


def _end(
    db: Database,
    generation_id: uuid.UUID,
    status: str,
    details: dict[str, Any],
    error_message: str | None = None,
    owner: str | None = None,
) -> None:
    with db.session() as s:
        sqlite_write_lock(s)
        row = s.get(GenerationHistory, generation_id, with_for_update=True)
        if row is None:  # deleted meanwhile
            return
        _check_owner(row, owner)
        # What its calls cost, from their usage rows (a resumed job's earlier calls too).
        spent = s.execute(
            select(
                func.sum(ModelUsage.cost_usd), func.count(), func.count(ModelUsage.cost_usd)
            ).where(ModelUsage.generation_id == generation_id)
        ).one()
        if spent[1]:
            details = {**details, "cost_usd": round(float(spent[0] or 0.0), 6)}
            if spent[2] < spent[1]:
                details["cost_unpriced_calls"] = spent[1] - spent[2]
        if row.status == "cancelled":  # cancelled while it ran: it stays so, with its figures
            status, error_message = "cancelled", None
        row.status = status
        row.error_message = error_message
        row.details = {**(row.details or {}), **details}
        row.updated_at = utcnow()


def cancel(db: Database, user_id: uuid.UUID, generation_id: uuid.UUID) -> int | bool:
    """Cancel a queued or running generation of this user: a queued one never runs, a running
    one starts no more Gemini calls (what it made is kept). False when it had already ended
    (or is not this user's); else its queue job's id (True when it has none), to abort. The
    row is locked: a job ending at the same moment ends first or finds it cancelled, never
    both."""
    with db.session() as s:
        sqlite_write_lock(s)
        row = s.scalar(
            select(GenerationHistory)
            .where(GenerationHistory.id == generation_id, GenerationHistory.user_id == user_id)
            .with_for_update()
        )
        if row is None or row.status not in UNFINISHED:
            return False
        row.status = "cancelled"
        row.details = {**(row.details or {}), "cancelled_at": utcnow().isoformat()}
        row.updated_at = utcnow()
        job = (row.details or {}).get("queue_job")
        return int(job) if isinstance(job, int) and job > 0 else True


def is_cancelled(db: Database, generation_id: uuid.UUID) -> bool:
    with db.session() as s:
        status = s.scalar(
            select(GenerationHistory.status).where(GenerationHistory.id == generation_id)
        )
    return status == "cancelled"


def finish(
    db: Database, generation_id: uuid.UUID, tokens: int, seconds: float, owner: str | None = None
) -> None:
    details = {"total_tokens": tokens, "seconds": round(seconds, 3)}
    _end(db, generation_id, "completed", details, owner=owner)


def fail(
    db: Database,
    generation_id: uuid.UUID,
    message: str,
    extra: dict[str, Any] | None = None,
    owner: str | None = None,
) -> None:
    _end(db, generation_id, "failed", extra or {}, message, owner)


def stop_reason(db: Database, generation_id: uuid.UUID, owner: str) -> str | None:
    """Why a running job must start no more calls: "cancelled" by its user, "taken" by another
    worker (this one was taken for dead), or None to go on."""
    with db.session() as s:
        found = s.execute(
            select(GenerationHistory.status, GenerationHistory.worker_id).where(
                GenerationHistory.id == generation_id
            )
        ).one_or_none()
    if found is None or found.status == "cancelled":
        return "cancelled"
    return "taken" if found.worker_id != owner else None


def image_visible(user_id: uuid.UUID, is_admin: bool, key: str) -> Select[Any]:
    """The rows that let this user see a stored image: one of their own generations uses it
    (as input or output), or they are an admin and any generation does."""
    query = select(ImageRef.key).where(ImageRef.key == key)
    if not is_admin:
        query = query.join(GenerationHistory, GenerationHistory.id == ImageRef.generation_id).where(
            GenerationHistory.user_id == user_id
        )
    return query


def may_see_image(db: Database, user_id: uuid.UUID, is_admin: bool, key: str) -> bool:
    with db.session() as s:
        return s.scalar(image_visible(user_id, is_admin, key).limit(1)) is not None
