"""Thumbnails as files that the browser fetches by a stable address.

A thumbnail shown with `st.image(bytes)` lives in Streamlit's media store only while the session's
latest run refers to it. A run that is cut short by the next one (a component's value arriving,
a click) drops the references the cut run had not drawn again and deletes those files, while
the browser still shows the earlier run's elements: their images load as 404s and stay broken,
since the next run draws the same address. And every run reads the thumbnails from the store.

Here a thumbnail is written once under the app's static folder (Streamlit's static serving,
`server.enableStaticServing`), named by its image's content hash, and shown by its address:
nothing is deleted under a page, a page reads from the store only thumbnails it has never
shown, and the browser caches them. Like Streamlit's media addresses, these are not tied to a
login: the name is the SHA-256 of the image, unguessable without the image itself. A deleted
image's thumbnail file is deleted with it; the folder holds at most max_files (oldest go).
Where the folder cannot be written, thumbnails are handed back as bytes (the media store).

`refs(store, keys)` is what a page calls: the process's cache (the app's static folder) for any
image store, which it follows so that an image deleted there loses its file here too.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import weakref
from pathlib import Path

from viba.core.config import PROJECT_ROOT
from viba.store.image_store import ImageStore, check_key

log = logging.getLogger(__name__)

# Streamlit serves <main script folder>/static/ at app/static/ (server.enableStaticServing).
THUMB_FOLDER = PROJECT_ROOT / "static" / "t"
THUMB_URL = "/app/static/t"


class ThumbCache:
    def __init__(self, root: Path, url_prefix: str, max_files: int = 20_000) -> None:
        self.root = root
        self.url_prefix = url_prefix.rstrip("/") + "/"
        self.max_files = max_files
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

    def url(self, key: str) -> str:
        return self.url_prefix + self.name(key)

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

    def refs(self, store: ImageStore, keys: list[str]) -> dict[str, str | bytes]:
        """What a page shows for each image's thumbnail (st.image takes either): the cached
        file's address, reading from the store (in one go) only the ones never shown before;
        the bytes where the folder cannot be written. A missing thumbnail is left out."""
        self.follow(store)
        if not self.writable:
            return dict(store.thumbnails(keys))
        found: dict[str, str | bytes] = {k: self.url(k) for k in keys if self.has(k)}
        missing = [k for k in keys if k not in found]
        for key, data in store.thumbnails(missing).items() if missing else ():
            found[key] = self.url(key) if self.put(key, data) else data
        return found


_process_cache: ThumbCache | None = None
_process_lock = threading.Lock()


def process_cache() -> ThumbCache:
    """The app's thumbnail cache (its static folder), made on first use."""
    global _process_cache
    with _process_lock:
        if _process_cache is None:
            _process_cache = ThumbCache(THUMB_FOLDER, THUMB_URL)
        return _process_cache


def refs(store: ImageStore, keys: list[str]) -> dict[str, str | bytes]:
    """ThumbCache.refs on the app's cache."""
    return process_cache().refs(store, keys)
