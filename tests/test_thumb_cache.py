"""Thumbnails as files (viba.web.thumbnails) in front of an ImageStore, shown by the addresses a
page is handed and served from the file by the media route."""

from __future__ import annotations

import os

import pytest

from viba.store.image_store import ImageStore, StorageError, make_backend
from viba.web.thumbnails import ThumbCache

from fake_gemini import png_bytes


class CountingBackend:
    """The db backend, counting reads of thumbnails."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.reads = inner, inner.name, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def get_many(self, keys):
        self.reads += len(keys)
        return self.inner.get_many(keys)


@pytest.fixture()
def parts(db, tmp_path):
    backend = CountingBackend(make_backend("db", db, tmp_path))
    cache = ThumbCache(tmp_path / "t", max_files=3)
    return ImageStore(backend), backend, cache


def address(key):
    return f"/images/thumb/{key}?s=x"


def test_a_thumbnail_is_read_once_then_shown_by_its_address(parts, tmp_path):
    store, backend, cache = parts
    keys = [store.save(png_bytes(f"thumb-{tmp_path.name}-{i}"), "image/png").key for i in range(2)]
    first = cache.refs(store, keys, address)
    assert backend.reads == 2
    assert first == {k: address(k) for k in keys}
    assert cache.refs(store, keys, address) == first and backend.reads == 2  # read once
    assert cache.file_for(store, keys[0]) == tmp_path / "t" / f"{keys[0][4:68]}.webp"
    assert backend.reads == 2  # the route serves the file made for the page
    on_disk = (tmp_path / "t" / f"{keys[0][4:68]}.webp").read_bytes()
    assert on_disk == store.thumbnail(keys[0]) and on_disk[:4] == b"RIFF"


def test_deleting_an_image_deletes_its_thumbnail_file(parts, tmp_path):
    store, _, cache = parts
    key = store.save(png_bytes(f"gone-{tmp_path.name}"), "image/png").key
    cache.refs(store, [key], address)
    assert cache.has(key)
    store.delete(key)
    assert not cache.has(key)
    assert cache.refs(store, [key], address) == {}  # gone everywhere: nothing to show
    assert cache.file_for(store, key) is None  # and the route has nothing to serve


def test_the_folder_keeps_at_most_max_files(parts, tmp_path):
    store, _, cache = parts
    keys = [store.save(png_bytes(f"many-{tmp_path.name}-{i}"), "image/png").key for i in range(5)]
    cache.refs(store, keys, address)
    assert cache.prune() == 2
    assert len(list((tmp_path / "t").glob("*.webp"))) == 3


def test_a_folder_that_cannot_be_written_hands_back_bytes(db, tmp_path):
    if os.geteuid() == 0:
        blocked = tmp_path / "file-not-folder"
        blocked.write_text("x")
        cache = ThumbCache(blocked / "t")  # cannot be a folder
    else:
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o500)
        cache = ThumbCache(folder / "t")
    store = ImageStore(make_backend("db", db, tmp_path))
    key = store.save(png_bytes(f"ro-{tmp_path.name}"), "image/png").key
    refs = cache.refs(store, [key], address)
    assert refs[key] == store.thumbnail(key)
    assert cache.file_for(store, key) == store.thumbnail(key)


def test_a_name_is_never_a_path():
    with pytest.raises(StorageError):
        ThumbCache.name("img/../../etc/passwd")


def test_pages_showing_one_store_at_once_follow_its_deletes_once(parts, tmp_path):
    import threading

    store, _, cache = parts
    key = store.save(png_bytes(f"at-once-{tmp_path.name}"), "image/png").key
    start = threading.Barrier(8)

    def show():
        start.wait()
        cache.refs(store, [key], address)

    threads = [threading.Thread(target=show) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.on_delete == [cache.forget]  # one hook, however many pages asked at once
    store.delete(key)
    assert not cache.has(key)


def test_screen_images_are_made_when_first_asked_two_at_once_at_most(db, tmp_path):
    import threading

    from PIL import Image

    from viba.store.image_store import SCREEN_SIDE
    from viba.web.thumbnails import screen_images

    from helpers import wait_until

    store = ImageStore(make_backend("db", db, tmp_path))
    cache = ThumbCache(tmp_path / "s", make=screen_images)
    keys = [
        store.save(png_bytes(f"big-{tmp_path.name}-{i}", size=(3000, 2000)), "image/png").key
        for i in range(6)
    ]
    made, asked, inside, most = threading.Lock(), [0], [0], [0]
    release = threading.Event()
    screen_image = store.screen_image

    def counted(key):
        with made:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        release.wait(timeout=30)
        try:
            return screen_image(key)
        finally:
            with made:
                inside[0] -= 1

    store.screen_image = counted
    files = {}

    def serve(key):
        with made:
            asked[0] += 1
        files[key] = cache.file_for(store, key)

    threads = [threading.Thread(target=serve, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    wait_until(lambda: asked[0] == 6 and inside[0] == 2)
    release.set()
    for t in threads:
        t.join(timeout=60)
    assert most[0] == 2  # the six asked at once; two decoded at a time
    for key in keys:
        assert files[key] == tmp_path / "s" / ThumbCache.name(key)
        with Image.open(files[key]) as shown:
            assert shown.format == "WEBP" and max(shown.size) == SCREEN_SIDE
    store.screen_image = screen_image
    assert cache.refs(store, keys, address) == {k: address(k) for k in keys}  # made once


def test_a_screen_image_that_cannot_be_read_is_not_served(db, tmp_path):
    from viba.web.thumbnails import screen_images

    store = ImageStore(make_backend("db", db, tmp_path))
    cache = ThumbCache(tmp_path / "s", make=screen_images)
    key = store.save(png_bytes(f"torn-{tmp_path.name}"), "image/png").key
    store.backend.delete(key)  # damaged in the store since
    store.backend.put(key, b"\x89PNG torn", "image/png")
    assert cache.file_for(store, key) is None and not cache.has(key)
