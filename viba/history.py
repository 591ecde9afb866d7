"""A user's generations: reading and deleting, always scoped to the user (authorization is here,
not only in the pages)."""

from __future__ import annotations

import io
import uuid
import zipfile

from sqlalchemy import delete, select

from viba.db import Database
from viba.jobs import JobView, find_generation
from viba.models import GenerationHistory, ImageRef
from viba.storage import EXTENSIONS, ImageStore, mime_for


class NotFound(LookupError):
    """No such generation for this user (also what another user's id gives)."""


def get_generation(db: Database, user_id: uuid.UUID, generation_id: uuid.UUID) -> JobView:
    view = find_generation(db, user_id, generation_id)
    if view is None:
        raise NotFound("That generation does not exist, or it is not yours.")
    return view


def delete_generation(db: Database, store: ImageStore, user_id: uuid.UUID,
                      generation_id: uuid.UUID) -> int:
    """Delete the row, then every image it used that no other row refers to. Returns how many
    images were deleted. The row goes first, so a failure half-way leaves at worst an orphan
    blob, never a row pointing at a missing image."""
    with db.session() as s:
        row = s.scalar(select(GenerationHistory).where(
            GenerationHistory.id == generation_id, GenerationHistory.user_id == user_id)
            .with_for_update())
        if row is None:
            raise NotFound("That generation does not exist, or it is not yours.")
        keys = set(row.input_keys or []) | set(row.output_keys or [])
        s.execute(delete(ImageRef).where(ImageRef.generation_id == generation_id))
        s.delete(row)
    deleted = 0
    for key in sorted(keys):
        with db.session() as s:
            still_used = s.scalar(select(ImageRef.key).where(ImageRef.key == key).limit(1))
        if still_used is None:
            store.delete(key)
            deleted += 1
    return deleted


def file_name(view: JobView, key: str, index: int) -> str:
    ext = EXTENSIONS[mime_for(key)]
    return f"viba-{view.type}-{view.id.hex[:8]}-{index}.{ext}"


def outputs_zip(store: ImageStore, view: JobView) -> bytes:
    """The generation's output images in one zip (a derivation's set)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:  # images are compressed
        for i, key in enumerate(view.output_keys, start=1):
            zf.writestr(file_name(view, key, i), store.load(key))
        description = view.details.get("description")
        if description:
            zf.writestr("description.txt", description)
    return buffer.getvalue()
