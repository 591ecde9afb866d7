"""History in viba.studio.history against the real database: keyset pages, filters, favourites,
zip downloads, deletes, and that nobody reaches another user's generations by id."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from viba.accounts import auth
from viba.store import audit
from viba.store.image_store import ImageStore, make_backend
from viba.store.models import AuditEntry, GenerationHistory, ImageRef
from viba.studio import history, metadata

from fake_gemini import png_bytes
from helpers import PASSWORD, T0, add


@pytest.fixture()
def store(db, tmp_path):
    return ImageStore(make_backend("local", db, tmp_path))


@pytest.fixture()
def owner(db, admin, email):
    return auth.register(db, email, "Olga Owner", PASSWORD)


@pytest.fixture()
def other(db, admin):
    return auth.register(db, f"other-{uuid.uuid4().hex[:8]}@example.com", "Otto Other", PASSWORD)


def all_pages(db, user, filters=history.HistoryFilter(), limit=3):
    seen, cursor, pages = [], None, 0
    while True:
        result = history.page(db, user.id, filters, after=cursor, limit=limit)
        seen += [item.id for item in result.items]
        pages += 1
        cursor = result.next_cursor
        if cursor is None:
            return seen, pages


def test_pages_are_newest_first_and_keyset_walks_every_row_once_even_with_equal_times(
    db, owner, other
):
    # Three rows share one timestamp: the id breaks the tie, so none is skipped or repeated.
    ids = [add(db, owner, at=T0 + timedelta(minutes=i)) for i in range(5)]
    ids += [add(db, owner, at=T0 + timedelta(minutes=10)) for _ in range(3)]
    add(db, other, at=T0 + timedelta(minutes=99))  # someone else's: never listed
    seen, pages = all_pages(db, owner, limit=3)
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen)) == 8
    assert pages == 3
    with db.session() as s:
        order = (
            s.execute(
                select(GenerationHistory.id)
                .where(GenerationHistory.user_id == owner.id)
                .order_by(GenerationHistory.created_at.desc(), GenerationHistory.id.desc())
            )
            .scalars()
            .all()
        )
    assert seen == order


def test_a_page_lists_thumbnail_key_and_names_not_the_details(db, owner):
    gid = add(
        db,
        owner,
        inputs=["img/in.png"],
        outputs=["img/out1.png", "img/out2.png"],
        names=("cat.png",),
        description="a cat",
    )
    item = history.page(db, owner.id).items[0]
    assert item.id == gid and item.thumb_key == "img/out1.png" and item.output_count == 2
    assert item.input_names == ["cat.png"]
    failed = add(db, owner, status="failed", inputs=["img/in.png"], at=T0 + timedelta(hours=1))
    item = history.page(db, owner.id).items[0]
    assert item.id == failed and item.thumb_key == "img/in.png"
    assert item.error_message == "Gemini said no."


def test_filters_by_type_status_model_dates_text_and_favourites(db, owner):
    a = add(
        db,
        owner,
        type="derivation",
        description="A RED bicycle by the sea",
        model="gemini-2.5-flash",
        at=T0,
    )
    b = add(
        db,
        owner,
        type="try_on",
        status="failed",
        names=("jacket_100%.png",),
        at=T0 + timedelta(days=1),
    )
    c = add(
        db,
        owner,
        type="swap",
        favorite=True,
        model="gemini-3-pro-image-preview",
        at=T0 + timedelta(days=2),
    )

    def ids(**kw):
        return set(all_pages(db, owner, history.HistoryFilter(**kw))[0])

    assert ids() == {a, b, c}
    assert ids(types=("derivation", "swap")) == {a, c}
    assert ids(statuses=("failed",)) == {b}
    assert ids(model="gemini-3-pro-image-preview") == {c}
    assert ids(model="gemini-2.5-flash") == {a}  # a derivation's text or image model
    assert ids(since=T0 + timedelta(hours=1)) == {b, c}
    assert ids(until=T0 + timedelta(days=2)) == {a, b}
    assert ids(text="red bicycle") == {a}  # the description, any case
    assert ids(text="100%") == {b}  # the file names; % is a literal, not a wildcard
    assert ids(text="swap picture") == {c}  # the prompt
    assert ids(text="nothing like this") == set()
    assert ids(favorites=True) == {c}
    history.set_favorite(db, owner.id, a, True)
    assert ids(favorites=True) == {a, c} and history.is_favorite(db, owner.id, a)


def test_cursor_round_trips_and_refuses_junk():
    c = history.Cursor(T0, uuid.uuid4())
    assert history.Cursor.decode(c.encode()) == c
    for junk in ("", "abc", "bm90IGEgY3Vyc29y", c.encode()[:-3] + "!!"):
        with pytest.raises(ValueError):
            history.Cursor.decode(junk)


def test_another_user_cannot_read_download_favourite_or_delete_by_id(db, store, owner, other):
    key = store.save(png_bytes("secret"), "image/png").key
    gid = add(db, owner, outputs=[key])
    for attempt in (
        lambda: history.get_generation(db, other.id, gid),
        lambda: history.user_zip(db, store, other.id, gid),
        lambda: history.set_favorite(db, other.id, gid, True),
        lambda: history.is_favorite(db, other.id, gid),
        lambda: history.delete_generation(db, store, other.id, gid),
    ):
        with pytest.raises(history.NotFound):
            attempt()
    # Nothing changed: the row, its favourite flag and its image are all still there.
    view = history.get_generation(db, owner.id, gid)
    assert view.output_keys == [key] and not history.is_favorite(db, owner.id, gid)
    assert store.exists(key)
    assert gid not in all_pages(db, other)[0]


def test_delete_removes_the_row_and_only_images_no_other_generation_uses(db, store, owner):
    shared = store.save(png_bytes("shared input"), "image/png").key
    own_out = store.save(png_bytes("only mine"), "image/png").key
    keep = add(db, owner, inputs=[shared], outputs=[store.save(png_bytes("x"), "image/png").key])
    gone = add(db, owner, inputs=[shared], outputs=[own_out])
    assert history.delete_generation(db, store, owner.id, gone) == 1
    assert store.exists(shared) and not store.exists(own_out)
    with pytest.raises(history.NotFound):
        history.get_generation(db, owner.id, gone)
    with db.session() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(ImageRef).where(ImageRef.generation_id == gone)
            )
            == 0
        )
        entry = s.scalars(select(AuditEntry).where(AuditEntry.generation_id == gone)).one()
    assert entry.action == audit.GENERATION_DELETED and entry.actor_id == owner.id
    assert entry.actor_email == owner.email and entry.details["type"] == "avatar"
    assert history.get_generation(db, owner.id, keep).input_keys == [shared]


def test_zip_holds_outputs_inputs_description_and_the_parameters(db, store, owner):
    ins = [store.save(png_bytes("in"), "image/png").key]
    outs = [store.save(png_bytes(f"out{i}"), "image/png").key for i in range(2)]
    gid = add(db, owner, type="derivation", inputs=ins, outputs=outs, description="a fox")
    data = history.user_zip(db, store, owner.id, gid)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = sorted(zf.namelist())
        assert names == sorted(
            [
                f"viba-derivation-{gid.hex[:8]}-1.png",
                f"viba-derivation-{gid.hex[:8]}-2.png",
                f"inputs/viba-derivation-{gid.hex[:8]}-input-1.png",
                "description.txt",
                "generation.json",
            ]
        )
        second = zf.read(f"viba-derivation-{gid.hex[:8]}-2.png")
        # The image as stored, with its settings inside (viba.studio.metadata), pixels untouched.
        assert metadata.read(second)["generation_id"] == str(gid)
        with Image.open(io.BytesIO(second)) as a, Image.open(io.BytesIO(store.load(outs[1]))) as b:
            assert a.tobytes() == b.tobytes()
        assert zf.read("description.txt") == b"a fox"
        meta = json.loads(zf.read("generation.json"))
    assert meta["id"] == str(gid) and meta["type"] == "derivation"
    assert meta["models"]["derivation_image"] == "gemini-3-pro-image"
