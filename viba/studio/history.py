"""A user's generations: browsing, reading, favourites, downloads and deletes, always scoped to
the user (authorization is here, not only in the pages).

Browsing is keyset-paginated newest first on (created_at, id), so page 500 costs what page 1
does, and it reads only the columns a list needs (no description or details JSON).
"""

from __future__ import annotations

import base64
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, tuple_, update

from viba.core.errors import UserError
from viba.core.text import search_text
from viba.store import audit
from viba.store.db import Database, rowcount
from viba.store.image_store import EXTENSIONS, ImageStore, is_upload, mime_for
from viba.store.models import GenerationHistory, ImageRef, User
from viba.studio import features, generations, metadata
from viba.studio.generations import GenerationView
from viba.studio.metadata import Piece

PAGE_SIZE = 24


class NotFound(UserError, LookupError):
    """No such generation for this user (also what another user's id gives)."""


NOT_YOURS = "That generation does not exist, or it is not yours."


@dataclass(frozen=True)
class HistoryFilter:
    """What the History page's filter bar asks for; empty means no filter."""

    types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    model: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    text: str = ""  # in the description, the prompt or the input file names
    favorites: bool = False

    def __post_init__(self) -> None:
        search_text(self.text)
        search_text(self.model)

    def apply(self, query: Select) -> Select:
        g = GenerationHistory
        if self.types:
            query = query.where(g.type.in_(self.types))
        if self.statuses:
            query = query.where(g.status.in_(self.statuses))
        if self.model:
            query = query.where(
                or_(
                    *[
                        g.input_params["models"][step].as_string() == self.model
                        for step in features.steps()
                    ]
                )
            )
        if self.since is not None:
            query = query.where(g.created_at >= self.since)
        if self.until is not None:
            query = query.where(g.created_at < self.until)
        if self.favorites:
            query = query.where(g.favorite.is_(True))
        text = self.text.strip().lower()
        if text:
            query = query.where(
                or_(
                    *[
                        func.lower(column).contains(text, autoescape=True)
                        for column in (
                            g.details["description"].as_string(),
                            g.input_params["prompt"].as_string(),
                            g.input_params["input_names"].as_string(),
                        )
                    ]
                )
            )
        return query


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after this (created_at, id)."""

    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Raises ValueError for anything that is not a cursor this module made."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            when, ident = raw.split("|")
            created_at = datetime.fromisoformat(when)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError("not a history cursor") from exc
        if created_at.tzinfo is None:
            raise ValueError("not a history cursor")
        return cls(created_at, uuid.UUID(ident))


@dataclass(frozen=True)
class HistoryItem:
    """A generation as the list shows it."""

    id: uuid.UUID
    type: str
    status: str
    created_at: datetime
    favorite: bool
    thumb_key: str | None  # the first output, else the first input
    output_count: int
    input_names: list[str]
    error_message: str | None
    cost_usd: float | None = None  # its calls' estimated cost, once it ended
    version: str = ""  # generations.live_version: what the list drew of it


@dataclass(frozen=True)
class HistoryPage:
    items: list[HistoryItem]
    next_cursor: Cursor | None = None  # None: this is the last page


def page(
    db: Database,
    user_id: uuid.UUID,
    filters: HistoryFilter = HistoryFilter(),
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> HistoryPage:
    """One page of the user's generations, newest first, starting after `after`."""
    g = GenerationHistory
    query = select(
        g.id,
        g.type,
        g.status,
        g.created_at,
        g.favorite,
        g.input_keys,
        g.output_keys,
        g.input_params["input_names"].label("names"),
        g.error_message,
        g.details["cost_usd"].as_float().label("cost"),
        g.updated_at,
    ).where(g.user_id == user_id)
    query = filters.apply(query)
    if after is not None:
        # A row-value comparison, which both databases answer from the index directly.
        query = query.where(tuple_(g.created_at, g.id) < tuple_(after.created_at, after.id))
    query = query.order_by(g.created_at.desc(), g.id.desc()).limit(limit + 1)
    with db.session() as s:
        rows = s.execute(query).all()
    items = [
        HistoryItem(
            r.id,
            r.type,
            r.status,
            r.created_at,
            bool(r.favorite),
            _shown_key(r.output_keys or r.input_keys or []),
            len(r.output_keys or []),
            list(r.names or []),
            r.error_message,
            float(r.cost) if r.cost is not None else None,
            generations.live_version(r.status, r.updated_at),
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return HistoryPage(items, Cursor(items[-1].created_at, items[-1].id) if more else None)


def get_generation(db: Database, user_id: uuid.UUID, generation_id: uuid.UUID) -> GenerationView:
    view = generations.find(db, user_id, generation_id)
    if view is None:
        raise NotFound(NOT_YOURS)
    return view


def is_favorite(db: Database, user_id: uuid.UUID, generation_id: uuid.UUID) -> bool:
    with db.session() as s:
        value = s.scalar(
            select(GenerationHistory.favorite).where(
                GenerationHistory.id == generation_id, GenerationHistory.user_id == user_id
            )
        )
    if value is None:
        raise NotFound(NOT_YOURS)
    return bool(value)


def set_favorite(db: Database, user_id: uuid.UUID, generation_id: uuid.UUID, value: bool) -> None:
    with db.session() as s:
        changed = rowcount(
            s.execute(
                update(GenerationHistory)
                .where(GenerationHistory.id == generation_id, GenerationHistory.user_id == user_id)
                .values(favorite=value)
            )
        )
    if not changed:
        raise NotFound(NOT_YOURS)


def delete_generation(
    db: Database, store: ImageStore, user_id: uuid.UUID, generation_id: uuid.UUID
) -> int:
    """Delete the row, then every image it used that no other row refers to. Returns how many
    images were deleted. The row goes first, so a failure half-way leaves at worst an orphan
    blob, never a row pointing at a missing image."""
    with db.session() as s:
        row = s.scalar(
            select(GenerationHistory)
            .where(GenerationHistory.id == generation_id, GenerationHistory.user_id == user_id)
            .with_for_update()
        )
        if row is None:
            raise NotFound(NOT_YOURS)
        keys = set(row.input_keys or []) | set(row.output_keys or [])
        s.execute(delete(ImageRef).where(ImageRef.generation_id == generation_id))
        audit.record(
            s,
            audit.GENERATION_DELETED,
            actor_id=user_id,
            actor_email=s.scalar(select(User.email).where(User.id == user_id)),
            generation_id=generation_id,
            type=row.type,
            status=row.status,
            created_at=row.created_at.isoformat(timespec="seconds"),
        )
        s.delete(row)
    return generations.forget_unreferenced(db, store, keys)


def file_name(view: GenerationView, key: str, index: int, role: str = "") -> str:
    ext = EXTENSIONS[mime_for(key)]
    return f"viba-{view.type}-{view.id.hex[:8]}-{role}{index}.{ext}"


def zip_name(view: GenerationView) -> str:
    """The file name a generation's zip is downloaded as (its outputs, or everything)."""
    return f"viba-{view.type}-{view.id.hex[:8]}.zip"


def output_download(store: ImageStore, view: GenerationView, key: str, index: int) -> bytes:
    """An output as downloaded: the image as made, with its settings inside
    (viba.studio.metadata)."""
    return metadata.embed(store.load(key), metadata.describe(view, index))


def _add_output(
    zf: zipfile.ZipFile, store: ImageStore, view: GenerationView, key: str, index: int
) -> None:
    """output_download into a zip being written, its image's bytes written as they are read
    (not copied once more with its settings put in)."""
    pieces = metadata.embed_pieces(store.load(key), metadata.describe(view, index))
    with zf.open(file_name(view, key, index), "w") as entry:
        for piece in pieces:
            entry.write(piece)


def picked_zip(store: ImageStore, items: list[tuple[GenerationView, str]]) -> bytes:
    """Outputs picked across generations, each with its settings inside, in one zip."""
    return b"".join(picked_zip_parts(store, items))


Turn = Callable[[], AbstractContextManager[object]]  # held around each image of a zip


def picked_zip_parts(
    store: ImageStore, items: Sequence[tuple[GenerationView, str]], each: Turn = nullcontext
) -> Iterator[Piece]:
    """picked_zip in pieces, an output at a time, each read when its piece is asked for: a
    board of 500 outputs at 4K is gigabytes, and only one of them is in memory at once.
    `each()` is held from an image's read until its last piece has been taken (the web
    bounds how many images its zips hold at once with it)."""
    out = _Pieces()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for view, key in items:
            with each():
                _add_output(zf, store, view, key, view.output_keys.index(key) + 1)
                yield from out.take()
    yield from out.take()  # the zip's directory, written when it closes


class _Pieces:
    """Where a zip being written goes: what it was handed since the last take (no seek, so
    zipfile writes each file's sizes after its bytes)."""

    def __init__(self) -> None:
        self._parts: list[Piece] = []
        self._at = 0

    def write(self, data: Piece) -> int:
        # An image's bytes come as they were read, or views of them: kept, not copied (both
        # are never changed); anything else zipfile hands over is small, and copied.
        kept = data if isinstance(data, bytes | memoryview) else bytes(data)
        self._parts.append(kept)
        self._at += len(kept)  # views of bytes: one byte an item
        return len(kept)

    def tell(self) -> int:
        return self._at

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> list[Piece]:
        """What was written since the last take, as written: not joined, which would copy an
        image's bytes once more."""
        taken, self._parts = self._parts, []
        return taken


def outputs_zip(store: ImageStore, view: GenerationView) -> bytes:
    """The generation's output images in one zip (a derivation's set) with its description."""
    return _zip(store, view, everything=False)


def generation_zip(store: ImageStore, view: GenerationView) -> bytes:
    """Everything of one generation: outputs, inputs (inputs/), description and a
    generation.json with its parameters, models, prompt versions, tokens and timing."""
    return _zip(store, view, everything=True)


def _zip(store: ImageStore, view: GenerationView, everything: bool) -> bytes:
    return b"".join(generation_zip_parts(store, view, everything))


def generation_zip_parts(
    store: ImageStore, view: GenerationView, everything: bool, each: Turn = nullcontext
) -> Iterator[Piece]:
    """outputs_zip (everything=False) or generation_zip in pieces, an image at a time, each
    read when its piece is asked for: four outputs at 4K and three 25 MB inputs are a
    hundred megabytes or more, and only one of them is in memory at once. `each` as in
    picked_zip_parts."""
    out = _Pieces()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:  # images are compressed
        for i, key in enumerate(view.output_keys, start=1):
            with each():
                _add_output(zf, store, view, key, i)
                yield from out.take()
        if everything:
            for i, key in enumerate(view.input_keys, start=1):
                with each():
                    zf.writestr(f"inputs/{file_name(view, key, i, 'input-')}", store.load(key))
                    yield from out.take()
        description = view.details.get("description")
        if description:
            zf.writestr("description.txt", description)
        if everything:
            zf.writestr("generation.json", json.dumps(summary(view), indent=2, default=str))
    yield from out.take()


def user_zip(
    db: Database, store: ImageStore, user_id: uuid.UUID, generation_id: uuid.UUID
) -> bytes:
    """generation_zip for the owner only."""
    return generation_zip(store, get_generation(db, user_id, generation_id))


def summary(view: GenerationView) -> dict[str, Any]:
    """What a generation was made with and what it cost, for people to read."""
    details = view.details
    params = view.input_params
    return {
        "id": str(view.id),
        "type": view.type,
        "status": view.status,
        "created (UTC)": f"{view.created_at:%Y-%m-%d %H:%M:%S}",
        "options": params.get("options") or {},
        "models": params.get("models") or {},
        "prompt versions": params.get("prompt_versions") or {},
        "inputs": params.get("input_names") or [],
        "tokens": details.get("total_tokens"),
        "cost": details.get("cost_usd"),
        "seconds": details.get("seconds"),
        "description tokens": details.get("description_tokens"),
        "per output": details.get("outputs") or {},
        "failed variants": details.get("failures") or [],
        "error": view.error_message,
    }


def _shown_key(keys: list[str]) -> str | None:
    """The image a generation's History tile shows: its first output, else its first input
    (none for an upload not prepared yet: it has no thumbnail)."""
    return keys[0] if keys and not is_upload(keys[0]) else None
