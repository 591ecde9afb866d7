"""The same contract for every VIBA_STORAGE backend: db (the test database), local (a temp
folder) and s3 (moto's S3-compatible server on loopback, driven through boto3)."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from viba.store import image_store
from viba.store.image_store import BlobMissing, ImageStore, StorageError, make_backend

from fake_gemini import png_bytes


@pytest.fixture(params=["db", "local", "s3"])
def backend(request, db, tmp_path):
    if request.param == "s3":
        request.getfixturevalue("s3_env")
        return make_backend("s3://viba-test/some/prefix", db, tmp_path)
    if request.param == "local":
        return make_backend(f"local:{tmp_path / 'images'}", db, tmp_path)
    return make_backend("db", db, tmp_path)


def test_put_get_exists_delete(backend):
    key = "img/" + "a" * 64 + ".png"
    assert not backend.exists(key)
    backend.put(key, b"\x89PNG data", "image/png")
    assert backend.exists(key)
    assert backend.get(key) == b"\x89PNG data"
    backend.put(key, b"\x89PNG data", "image/png")  # idempotent
    backend.delete(key)
    assert not backend.exists(key)
    with pytest.raises(BlobMissing):
        backend.get(key)
    backend.delete(key)  # deleting twice is fine


def test_every_byte_value_comes_back_as_it_went_in(backend):
    """On PostgreSQL the database backend reads in binary, not as hex text: every byte
    value, one key or several at once, a missing key left out."""
    data = bytes(range(256)) * 40 + os.urandom(5000)
    keys = ["img/" + c * 64 + ".png" for c in "ef"]
    backend.put(keys[0], data, "image/png")
    backend.put(keys[1], data[::-1], "image/png")
    assert backend.get(keys[0]) == data
    many = getattr(backend, "get_many", None)
    if many is not None:
        missing = "img/" + "9" * 64 + ".png"
        assert many([*keys, missing]) == {keys[0]: data, keys[1]: data[::-1]}
        assert many([]) == {}
    existing = getattr(backend, "existing", None)
    if existing is not None:  # which are stored, in one query
        assert existing([*keys, "img/" + "9" * 64 + ".png"]) == set(keys)
    for key in keys:
        backend.delete(key)


def test_content_addressed_with_thumbnail(backend):
    store = ImageStore(backend)
    data = png_bytes("contract", size=(1200, 900))
    first = store.save(data, "image/png")
    again = store.save(data, "image/png")
    assert first == again  # the same bytes are stored once, under one key
    assert first.key.startswith("img/") and first.key.endswith(".png")
    assert store.load(first.key) == data
    with Image.open(io.BytesIO(store.thumbnail(first.key))) as thumb:
        assert thumb.format == "WEBP"
        assert max(thumb.size) == image_store.THUMB_SIDE
        assert thumb.size == (384, 288)
    other = store.save(png_bytes("another"), "image/png")
    assert other.key != first.key
    store.delete(first.key)
    assert not store.exists(first.key)
    assert not backend.exists(first.thumb_key)
    assert store.exists(other.key)


def test_keys_that_are_not_ours_are_refused(backend):
    for bad in ("../etc/passwd", "img/../../x.png", "img/" + "a" * 63 + ".png", "img/x.exe"):
        with pytest.raises(StorageError):
            ImageStore(backend).load(bad)


def test_unknown_storage_setting_is_a_clear_error(db, tmp_path):
    with pytest.raises(StorageError, match="not understood"):
        make_backend("ftp://nope", db, tmp_path)
    with pytest.raises(StorageError, match="bucket"):
        make_backend("s3://", db, tmp_path)


def test_local_default_folder_is_under_the_data_dir(db, tmp_path):
    backend = make_backend("local", db, tmp_path / "data")
    assert backend.root == tmp_path / "data" / "images"


def test_only_png_jpeg_webp_are_stored(db, tmp_path):
    with pytest.raises(StorageError, match="png, jpeg or webp"):
        ImageStore(make_backend("db", db, tmp_path)).save(b"GIF89a", "image/gif")


def test_thumbnails_of_several_images_in_one_read(backend):
    store = ImageStore(backend)
    keys = [store.save(png_bytes(f"many-{i}"), "image/png").key for i in range(3)]
    missing = "img/" + "0" * 64 + ".png"
    thumbs = store.thumbnails([*keys, missing])
    assert set(thumbs) == set(keys)
    assert all(thumbs[k] == store.thumbnail(k) and thumbs[k][8:12] == b"WEBP" for k in keys)


def test_s3_uploads_carry_no_checksums_that_compatible_stores_reject(s3_env, db, tmp_path):
    """boto3 >= 1.36 adds a CRC32 checksum (and trailer) to every upload by default, which
    Supabase Storage and other S3-compatible stores refuse: only where an operation needs one."""
    backend = make_backend("s3://viba-test/checksums", db, tmp_path)
    sent: list = []
    backend.client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(dict(request.headers))
    )
    backend.put("img/" + "c" * 64 + ".png", b"\x89PNG data", "image/png")
    assert len(sent) == 1
    names = {name.lower() for name in sent[0]}
    assert not {n for n in names if n.startswith("x-amz-checksum")}, names
    assert "x-amz-trailer" not in names and "x-amz-sdk-checksum-algorithm" not in names


def test_screen_size_is_made_on_demand_with_the_full_size_beside_it(backend):
    from fake_gemini import jpeg_bytes

    store = ImageStore(backend)
    key = store.save(jpeg_bytes("4k", (3584, 4800)), "image/jpeg").key
    shown, size = store.screen_image(key)
    assert size == (3584, 4800)
    with Image.open(io.BytesIO(shown)) as screen:
        assert screen.format == "WEBP" and screen.size == (1090, image_store.SCREEN_SIDE)
    with pytest.raises(StorageError):
        store.screen_image("img/" + "0" * 64 + ".png")  # not stored


def test_a_connection_that_moved_a_photo_is_closed_when_returned(db, tmp_path):
    """libpq keeps its buffers at the size of the largest message for a connection's life
    (~25 MB for a 4.5 MB photo sent and read): on PostgreSQL a pooled connection that moved a
    value of LARGE_VALUE or more is closed when it goes back, one that moved less is kept."""
    if not db.is_postgres:
        pytest.skip("SQLite keeps no such buffers, and its pool is files")
    from sqlalchemy import text

    from viba.store.db import LARGE_VALUE, Database

    one = Database(db.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    backend = make_backend("db", one, tmp_path)

    def backend_pid() -> int:  # of the pool's one connection
        with one.engine.connect() as c:
            return c.execute(text("select pg_backend_pid()")).scalar_one()

    small, large = b"\x89PNG" + b"s" * 1000, b"\x89PNG" + bytes(LARGE_VALUE)
    keys = ["img/" + c * 64 + ".png" for c in "cd"]
    first = backend_pid()
    backend.put(keys[0], small, "image/png")
    assert backend.get(keys[0]) == small and backend_pid() == first
    backend.put(keys[1], large, "image/png")
    after_put = backend_pid()
    assert after_put != first
    assert backend.get(keys[1]) == large
    assert backend_pid() != after_put
    for key in keys:
        backend.delete(key)
    one.dispose()
