"""Thumbnails as files, shown by addresses the app's own route serves (viba.web.media).

A thumbnail shown with `st.image(bytes)` lives in Streamlit's media store only while the session's
latest run refers to it. A run that is cut short by the next one (a component's value arriving,
a click) drops the references the cut run had not drawn again and deletes those files, while
the browser still shows the earlier run's elements: their images load as 404s and stay broken,
since the next run draws the same address. And every run reads the thumbnails from the store.

Here a thumbnail is written once into a folder of the process (named by its image's content
hash), and a page shows it by an address of the media route that belongs to the page's login
(viba.web.addresses): nothing is deleted under a page, a page reads from the store only the
thumbnails it has never shown, and the browser caches them. A deleted image's thumbnail file
is deleted with it; the folder holds at most max_files (oldest go). Where the folder cannot be
written, or a page has no login session, thumbnails are handed back as bytes (the media store).

`refs(store, keys)` is what a page calls: the process's cache for any image store, which it
follows so that an image deleted there loses its file here too, with this run's addresses.

Images at screen size (History's detail, Compare, "Full size") are the same idea in a second
folder: `screen_ref(store, key)` hands the page an address at once, and the route makes the
image when the browser first asks (a 4K photo is ~0.2 CPU-s to decode and shrink; made in
every run, a History detail's five images cost each click there 1.8 CPU-s), two at a time.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st

from viba.core.config import Settings, get_settings
from viba.store.image_store import ImageStore, StorageError, check_key
from viba.web import addresses
from viba.web.browser_session import session

log = logging.getLogger(__name__)

# Under the app's data folder (VIBA_DATA_DIR), not static/ (nothing of it is served but
# through the media route, login checked) nor the shared temporary folder (where another
# account could make the folder first and plant files the route would serve).
THUMB_FOLDER_NAME = "thumbs"
Address = Callable[[str], str]  # an image key -> its thumbnail's address for this login


Maker = Callable[[ImageStore, list[str]], dict[str, bytes]]  # image keys -> what is kept


def stored_thumbnails(store: ImageStore, keys: list[str]) -> dict[str, bytes]:
    """The thumbnails the store made when it saved the images (one read for all)."""
    return store.thumbnails(keys)


_making_screens = threading.BoundedSemaphore(2)  # decodes at once: ~12 MB each for a 4K JPEG


def screen_images(store: ImageStore, keys: list[str]) -> dict[str, bytes]:
    """Images at screen size (ImageStore.screen_image), two made at once in the process at
    most; one that is gone or cannot be read is left out."""
    made = {}
    for key in keys:
        try:
            with _making_screens:
                made[key] = store.screen_image(key)[0]
        except StorageError:
            continue
    return made


class ThumbCache:
    """Small images made from stored ones, kept as files: thumbnails by default, or with
    `make=screen_images` the images at screen size."""

    def __init__(
        self, root: Path, max_files: int = 20_000, make: Maker = stored_thumbnails
    ) -> None:
        self.root = root
        self.max_files = max_files
        self._make = make
        self._lock = threading.Lock()
        self._writes = 0
        self.writable = True
        self._followed: weakref.WeakSet[ImageStore] = weakref.WeakSet()
        self._follow_lock = threading.Lock()  # not _lock: a prune holds that over the folder
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("thumbnails served from memory: cannot create %s (%s)", root, exc)
            self.writable = False

    @staticmethod
    def name(key: str) -> str:
        """The file name of an image's thumbnail: its content hash (the key is checked, so a
        name is never a path)."""
        return check_key(key).split("/", 1)[1].rsplit(".", 1)[0] + ".webp"

    def has(self, key: str) -> bool:
        return self.writable and (self.root / self.name(key)).is_file()

    def put(self, key: str, data: bytes) -> bool:
        """Write a thumbnail (atomically: a reader never sees half a file). False when the
        folder cannot be written."""
        if not self.writable:
            return False
        target = self.root / self.name(key)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except OSError as exc:
            log.warning("thumbnail cache not written (%s); serving from memory", exc)
            self.writable = False
            return False
        with self._lock:
            self._writes += 1
            due = self._writes % 500 == 0
        if due:
            self.prune()
        return True

    def forget(self, key: str) -> None:
        try:
            (self.root / self.name(key)).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("thumbnail of a deleted image not removed: %s", exc)

    def prune(self) -> int:
        """Keep at most max_files: delete the oldest beyond it. Returns how many went."""
        with self._lock:
            try:
                files = [(p.stat().st_mtime, p) for p in self.root.glob("*.webp")]
            except OSError:
                return 0
            extra = len(files) - self.max_files
            if extra <= 0:
                return 0
            for _, path in sorted(files)[:extra]:
                path.unlink(missing_ok=True)
            return extra

    def follow(self, store: ImageStore) -> None:
        """Forget an image's thumbnail file when the store deletes the image."""
        with self._follow_lock:
            if store not in self._followed:
                self._followed.add(store)
                store.on_delete.append(self.forget)

    def refs(
        self, store: ImageStore, keys: list[str], address: Address | None = None
    ) -> dict[str, str | bytes]:
        """What a page shows for each image's thumbnail (st.image takes either): its address,
        reading from the store (in one go) only the ones never shown before; the bytes where
        the folder cannot be written or there is no address. A missing thumbnail is left
        out."""
        self.follow(store)
        if not self.writable or address is None:
            return dict(self._make(store, keys))
        found: dict[str, str | bytes] = {k: address(k) for k in keys if self.has(k)}
        missing = [k for k in keys if k not in found]
        for key, data in self._make(store, missing).items() if missing else ():
            found[key] = address(key) if self.put(key, data) else data
        return found

    def file_for(self, store: ImageStore, key: str) -> Path | bytes | None:
        """An image's thumbnail for the media route: its file (made now if it was never shown),
        or its bytes where the folder cannot be written; None when the image is gone."""
        self.follow(store)
        if self.has(key):
            return self.root / self.name(key)
        data = self._make(store, [key]).get(key)
        if data is None:
            return None
        return self.root / self.name(key) if self.put(key, data) else data


SCREEN_FOLDER_NAME = "screens"  # beside the thumbnails, made by the route when first asked
# A media route kind -> its cache's folder, most files kept, and how an image is made.
_KINDS: dict[str, tuple[str, int, Maker]] = {
    "thumb": (THUMB_FOLDER_NAME, 20_000, stored_thumbnails),
    "screen": (SCREEN_FOLDER_NAME, 2_000, screen_images),
}
_caches: dict[str, ThumbCache] = {}
_process_lock = threading.Lock()


def process_cache(kind: str = "thumb") -> ThumbCache:
    """The app's cache of thumbnails (kind "thumb") or of images at screen size ("screen"),
    made on first use."""
    with _process_lock:
        if kind not in _caches:
            folder, max_files, make = _KINDS[kind]
            _caches[kind] = ThumbCache(Path(get_settings().data_dir) / folder, max_files, make)
        return _caches[kind]


def refs(store: ImageStore, keys: list[str]) -> dict[str, str | bytes]:
    """ThumbCache.refs on the app's cache, with addresses for this run's login session."""
    here = page_login()
    address: Address | None = None
    if here is not None:
        address = functools.partial(_thumb_address, here[0], get_settings(), here[1])
    return process_cache().refs(store, keys, address)


def page_login() -> tuple[str, uuid.UUID] | None:
    """The page's origin and this run's login session, where the page can be given addresses
    of the app's own routes (viba.web.addresses); None with no login, or where the routes are
    not mounted (`streamlit run Home.py`, AppTest) or the browser has not said its origin."""
    session_id = session().session_id
    origin = page_origin()
    if session_id is None or not addresses.served() or origin is None:
        return None
    return origin, session_id


def page_origin() -> str | None:
    """scheme://host[:port] of the page in the browser (st.image takes a relative address only
    under /app/static/), or None when the browser has not said or says something odd."""
    parts = urlsplit(st.context.url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _thumb_address(origin: str, settings: Settings, session_id: uuid.UUID, key: str) -> str:
    return origin + addresses.address(settings, session_id, key, "thumb")


def screen_ref(store: ImageStore, key: str) -> str | bytes:
    """An image at screen size for st.image: an address of the media route, which makes it
    when the browser first asks and keeps it as a file (the browser then keeps it too), so a
    page run does not decode a 4K image for each image it shows, each run; the bytes, made
    now, where the page has no address. Raises StorageError when the image is gone (or, made
    now, cannot be read), as ImageStore.screen_image does."""
    here = page_login()
    cache = process_cache("screen")
    if here is None or not cache.writable:
        return store.screen_image(key)[0]
    cache.follow(store)
    if not cache.has(key) and not store.exists(key):
        return store.screen_image(key)[0]  # says it is missing as the store words it
    return here[0] + addresses.address(get_settings(), here[1], key, "screen")


_sizes: dict[str, tuple[int, int]] = {}  # an image key -> its width and height (never change)
_SIZES_KEPT = 10_000


def pixel_size(store: ImageStore, key: str) -> tuple[int, int]:
    """A stored image's width and height, read once per process (a key names its content)."""
    size = _sizes.get(key)
    if size is None:
        size = store.pixel_size(key)
        if len(_sizes) >= _SIZES_KEPT:
            _sizes.clear()
        _sizes[key] = size
    return size
