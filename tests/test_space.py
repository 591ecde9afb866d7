"""Admin > Storage: the database's size against its plan's limit (Supabase free: 500 MB), per
table, and the images kept in it; admins are warned from 80% on. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image
from sqlalchemy import func, select

from viba.accounts.account import NotAllowed
from viba.core.config import get_settings
from viba.store.models import User
from viba.studio import space

from helpers import open_page

PAGE = "pages/8_Admin.py"


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: side x side x 3 bytes of noise, about."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


def test_the_report_counts_the_database_its_tables_and_the_images_kept_in_it(db, admin, store):
    before = space.report(db, admin, 500)
    assert before.database_bytes > 0 and before.limit_bytes == 500 * space.MB
    tables = {t.name: t for t in before.tables}
    assert {"users", "generation_history", "blobs"} <= set(tables)
    with db.session() as s:
        assert tables["users"].rows == s.scalar(select(func.count()).select_from(User)) >= 1
    picture = noise_png(400)
    stored = store.save(picture, "image/png")
    after = space.report(db, admin, 500)
    assert after.images == before.images + 2  # the image and its thumbnail
    assert after.image_bytes - before.image_bytes >= len(picture)
    blobs = {t.name: t for t in after.tables}["blobs"]
    assert blobs.rows == before.images + 2
    if blobs.bytes is not None:  # PostgreSQL always; SQLite where dbstat is built in
        assert blobs.bytes >= len(picture)
        assert after.tables[0].name == "blobs"  # largest first
    assert store.load(stored.key) == picture


def test_only_an_admin_sees_it(db, admin, user):
    with pytest.raises(NotAllowed):
        space.report(db, user, 500)
    with pytest.raises(NotAllowed):
        space.used(db, user, 500)


def test_admins_are_warned_from_80_percent_of_the_limit(db, admin, store):
    store.save(noise_png(700), "image/png")  # the database is past 1 MB now
    assert space.database_bytes_of(db) > space.MB
    assert space.used(db, admin, 10_000) is None
    full = space.used(db, admin, 1)
    assert full is not None and full.warn and full.share >= 1


@pytest.fixture()
def limit_mb(monkeypatch, app_environ):
    def set_limit(mb: int) -> None:
        monkeypatch.setenv("VIBA_DATABASE_LIMIT_MB", str(mb))
        get_settings.cache_clear()

    yield set_limit
    get_settings.cache_clear()


def test_the_admin_page_warns_and_the_storage_section_shows_the_tables(db, admin, store, limit_mb):
    store.save(noise_png(700), "image/png")
    limit_mb(10_000)
    at = open_page(PAGE, admin)
    assert not at.exception and not at.warning
    limit_mb(1)
    at = open_page(PAGE, admin)
    assert not at.exception
    (warning,) = at.warning
    assert "The database holds" in warning.value and "of its 1.0 MB" in warning.value
    assert "move images to object storage" in warning.value
    at.radio(key="admin_section").set_value("Storage").run()
    assert not at.exception
    shown = at.dataframe[0].value
    assert {"users", "blobs", "generation_history"} <= set(shown["table"])
    assert list(shown.columns) == ["table", "rows", "MB"]
    kept = space.report(db, admin, 1).images
    assert kept >= 2
    assert any(f"Images kept in the database: {kept:,} (" in c.value for c in at.caption)
