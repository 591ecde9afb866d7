"""Files picked in an uploader wait on disk, not in the web process's memory.

Streamlit's uploader sends each picked file to the server at once (before Generate, even inside
a form) and its MemoryUploadedFileManager keeps the bytes in memory until the form is submitted
and the files let go of, or the session ends: 20 people with a 12 MP photo picked held ~110 MB
of the web process (bench/shapes.py), the half of Render starter's 512 MB that the rest did not
use. `DiskUploads` keeps the same records with the bytes in a file each, in a folder of this
process's own, and hands Streamlit the records without them: the page reads a file from disk
(`opened`) when it needs it (on Generate).

st.App builds its MemoryUploadedFileManager itself with no way to pass another, and the upload
route, the sessions and the metrics each hold that one object. `spool_this_process` (app.py's
lifespan, before any session or upload exists) gives that object disk storage by making it a
DiskUploads: a subclass that keeps its lock and adds the folder.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, cast

from starlette.exceptions import HTTPException
from streamlit.runtime import Runtime
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.stats import CACHE_MEMORY_FAMILY, CacheStat, group_cache_stats
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from viba.core.errors import UserError

log = logging.getLogger(__name__)

# One session's picked files at most (all its uploaders together): a form takes a few photos;
# past this, an upload is refused (the uploader shows it refused) instead of filling the disk.
SESSION_BYTES = 400 * 1024 * 1024

# Submits of this process that hold their files in memory at once (read, checked, stored).
# Each holds its photos' bytes, and a copy in the database driver's buffer while they
# are stored: 20 people whose Generate arrived in the same instant took the web from 230 to
# 325 MB (bench/shapes.py). The others wait their turn, ~40 ms each; the CPU they share
# would not do them faster side by side.
HELD_AT_ONCE = 4
HELD_WAIT_SECONDS = 60.0  # then the submit is refused with a sentence (BUSY)
BUSY = (
    "The server is busy storing other people's photos: pick yours and press Generate again in "
    "a moment."
)
_held = threading.BoundedSemaphore(HELD_AT_ONCE)


class _Spooled(NamedTuple):
    file_id: str
    name: str
    type: str
    size: int
    path: Path


class DiskUploads(MemoryUploadedFileManager):
    """Streamlit's upload manager with each file's bytes in a file of `folder` (named by a
    random id of its own: the session and file ids come from the request's address)."""

    folder: Path
    _spooled: dict[str, dict[str, _Spooled]]

    def _spool_into(self, folder: Path) -> None:
        self.folder = folder
        self._spooled = {}
        self._total_bytes = 0
        self._file_count = 0

    def add_file(self, session_id: str, file: UploadedFileRec) -> None:
        """Write the file, then take it in: checked against SESSION_BYTES and recorded under
        one hold of the lock, so uploads at once cannot pass the limit together."""
        spooled = _Spooled(file.file_id, file.name, file.type, len(file.data), self._write(file))
        with self._lock:
            files = self._spooled.setdefault(session_id, {})
            replaced = files.get(file.file_id)
            held = sum(f.size for f in files.values()) - (replaced.size if replaced else 0)
            refused = held + spooled.size > SESSION_BYTES
            if not refused:
                files[file.file_id] = spooled
                self._total_bytes += spooled.size - (replaced.size if replaced else 0)
                self._file_count += 0 if replaced else 1
        if refused:
            spooled.path.unlink(missing_ok=True)
            raise HTTPException(status_code=413, detail="Too many files picked at once")
        if replaced is not None:
            replaced.path.unlink(missing_ok=True)

    def _write(self, file: UploadedFileRec) -> Path:
        """The file's bytes in a new file of the folder (readable by this user only)."""
        path = None
        try:
            fd, name = tempfile.mkstemp(dir=self.folder, prefix="up-")
            path = Path(name)
            with os.fdopen(fd, "wb") as fh:
                fh.write(file.data)
            return path
        except OSError as exc:  # the disk is full or the folder gone: the uploader says so
            log.warning("an upload could not be written: %s", exc)
            if path is not None:
                path.unlink(missing_ok=True)
            raise HTTPException(503, "The server cannot take files now") from exc

    def get_files(self, session_id: str, file_ids: Sequence[str]) -> list[UploadedFileRec]:
        """The files' records without their bytes: Streamlit makes an UploadedFile of each on
        every run that reads the uploader, keeps it in the session's widget state until the
        next full run and hands the page a deep copy of it; the page reads the bytes from
        disk itself, when it needs them (`opened`)."""
        with self._lock:
            files = self._spooled.get(session_id, {})
            return [
                UploadedFileRec(file_id=f.file_id, name=f.name, type=f.type, data=b"")
                for f in (files[i] for i in file_ids if i in files)
            ]

    def path_of(self, session_id: str, file_id: str) -> Path | None:
        with self._lock:
            found = self._spooled.get(session_id, {}).get(file_id)
        return found.path if found is not None else None

    def remove_file(self, session_id: str, file_id: str) -> None:
        with self._lock:
            gone = self._spooled.get(session_id, {}).pop(file_id, None)
            if gone is not None:
                self._total_bytes -= gone.size
                self._file_count -= 1
        if gone is not None:
            gone.path.unlink(missing_ok=True)

    def remove_session_files(self, session_id: str) -> None:
        with self._lock:
            gone = list(self._spooled.pop(session_id, {}).values())
            self._total_bytes -= sum(f.size for f in gone)
            self._file_count -= len(gone)
        for f in gone:
            f.path.unlink(missing_ok=True)

    def held(self) -> tuple[int, int]:
        """(files, bytes) waiting on disk now."""
        with self._lock:
            return self._file_count, self._total_bytes

    def get_stats(self, family_names: Sequence[str] | None = None) -> dict[str, list[CacheStat]]:
        """The bytes waiting, under Streamlit's own name for them (/_stcore/metrics)."""
        files, size = self.held()
        if not files:
            return {}
        stat = CacheStat(category_name="UploadedFileManager", cache_name="", byte_length=size)
        return {CACHE_MEMORY_FAMILY: group_cache_stats([stat])}


def opened(upload: Any) -> BinaryIO:
    """An uploaded file's bytes, to read (and close): the file it waits in, or the upload
    itself where its manager keeps the bytes in it (AppTest's). A file let go of meanwhile
    reads as empty, which the image check says in one sentence."""
    run = get_script_run_ctx()
    manager = run.uploaded_file_mgr if run is not None else None
    if isinstance(manager, DiskUploads) and run is not None:
        path = manager.path_of(run.session_id, upload.file_id)
        try:
            return open(path, "rb") if path is not None else io.BytesIO()
        except FileNotFoundError:
            return io.BytesIO()
    return cast(BinaryIO, upload)


@contextmanager
def in_turn() -> Iterator[None]:
    """Around a submit that reads its picked files into memory: at most HELD_AT_ONCE of this
    process at once (see HELD_AT_ONCE). Raises UserError(BUSY) after HELD_WAIT_SECONDS."""
    if not _held.acquire(timeout=HELD_WAIT_SECONDS):
        raise UserError(BUSY)
    try:
        yield
    finally:
        _held.release()


def spool_to_disk(manager: Any, folder: Path) -> DiskUploads:
    """Make Streamlit's upload manager keep its files in `folder` (see the module)."""
    if type(manager) is not MemoryUploadedFileManager or manager.file_storage:
        raise TypeError(f"cannot spool uploads of {type(manager).__name__} to disk")
    manager.__class__ = DiskUploads
    assert isinstance(manager, DiskUploads)
    manager._spool_into(folder)
    return manager


def _process_folder() -> Path:
    """A folder of this process's own for its uploads, removed when the process exits (a
    killed process leaves it to the temporary folder's cleaning; nothing in it outlives a
    session anyway)."""
    folder = Path(tempfile.mkdtemp(prefix="viba-uploads-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def spool_this_process() -> DiskUploads:
    """From app.py's lifespan, before the first session: this process's uploads wait on
    disk, in a folder of its own."""
    return spool_to_disk(Runtime.instance().uploaded_file_mgr, _process_folder())
