"""Picked files wait on disk (viba.web.uploads), with Streamlit's upload manager's behaviour."""

from __future__ import annotations

import contextlib
import os
import threading

import pytest
from starlette.exceptions import HTTPException
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from viba import i18n
from viba.core.errors import UserError
from viba.web import uploads

from helpers import at_once, wait_until


@pytest.fixture()
def manager(tmp_path):
    return uploads.spool_to_disk(MemoryUploadedFileManager("/_stcore/upload_file"), tmp_path)


def rec(file_id: str, data: bytes, name: str = "photo.jpg") -> UploadedFileRec:
    return UploadedFileRec(file_id=file_id, name=name, type="image/jpeg", data=data)


def on_disk(manager) -> list[bytes]:
    return sorted(p.read_bytes() for p in manager.folder.iterdir())


def test_a_picked_file_is_kept_in_a_file_and_read_back_when_asked_for(manager):
    manager.add_file("Session-1", rec("File-1", b"first photo"))
    manager.add_file("Session-1", rec("File-2", b"second"))
    assert on_disk(manager) == [b"first photo", b"second"]
    assert manager.held() == (2, len(b"first photo") + len(b"second"))
    # Streamlit gets the records without the bytes (it copies what it gets, and keeps it
    # until the session's next full run); the page reads them from the file.
    found = manager.get_files("Session-1", ["File-2", "File-1", "nope"])
    assert [(f.file_id, f.name, f.type, f.data) for f in found] == [
        ("File-2", "photo.jpg", "image/jpeg", b""),
        ("File-1", "photo.jpg", "image/jpeg", b""),
    ]
    assert manager.path_of("Session-1", "File-1").read_bytes() == b"first photo"
    assert manager.path_of("Session-1", "nope") is None
    assert manager.path_of("Session-2", "File-1") is None
    assert manager.get_files("another session", ["File-1"]) == []
    # Only this user may read the files; their names are the manager's own, not the ids
    # (the ids here hold capitals and a dash, which a random temporary name never does).
    assert {p.stat().st_mode & 0o777 for p in manager.folder.iterdir()} == {0o600}
    names = [p.name for p in manager.folder.iterdir()]
    assert not any(i in n for n in names for i in ("File-1", "File-2", "Session-1"))


def test_letting_go_of_files_removes_them_from_disk(manager):
    manager.add_file("s1", rec("f1", b"a"))
    manager.add_file("s1", rec("f2", b"bb"))
    manager.add_file("s2", rec("f3", b"ccc"))
    manager.remove_file("s1", "f1")
    manager.remove_file("s1", "f1")  # twice, or an unknown one: nothing happens
    manager.remove_file("nobody", "f1")
    assert on_disk(manager) == [b"bb", b"ccc"] and manager.held() == (2, 5)
    manager.remove_session_files("s1")
    assert on_disk(manager) == [b"ccc"] and manager.held() == (1, 3)
    assert manager.get_files("s1", ["f2"]) == []
    # The same file sent again replaces the first copy.
    manager.add_file("s2", rec("f3", b"dddd"))
    assert on_disk(manager) == [b"dddd"] and manager.held() == (1, 4)
    manager.remove_session_files("s2")
    assert os.listdir(manager.folder) == [] and manager.held() == (0, 0)
    assert manager.get_stats() == {}


def test_the_metrics_count_the_bytes_waiting(manager):
    manager.add_file("s1", rec("f1", b"x" * 1000))
    stats = [s for family in manager.get_stats().values() for s in family]
    assert [(s.category_name, s.byte_length) for s in stats] == [("UploadedFileManager", 1000)]


def test_uploads_at_once_cannot_pass_a_sessions_limit_together(manager, monkeypatch):
    monkeypatch.setattr(uploads, "SESSION_BYTES", 3000)
    calls = [lambda i=i: manager.add_file("s1", rec(f"f{i}", bytes([i]) * 1000)) for i in range(8)]
    taken, refused = at_once(calls, HTTPException)
    assert len(taken) == 3 and len(refused) == 5
    assert all(s.startswith("413") for s in refused)
    assert manager.held() == (3, 3000) and len(on_disk(manager)) == 3  # refused ones removed
    # Another session has its own room.
    manager.add_file("s2", rec("g", b"y" * 3000))


def test_a_file_that_cannot_be_written_is_refused_with_a_sentence(manager):
    manager.folder.rmdir()
    with pytest.raises(HTTPException) as refused:
        manager.add_file("s1", rec("f1", b"data"))
    assert refused.value.status_code == 503 and manager.held() == (0, 0)


def test_only_an_unused_memory_manager_is_spooled(tmp_path):
    used = MemoryUploadedFileManager("/x")
    used.add_file("s1", rec("f1", b"data"))
    with pytest.raises(TypeError):
        uploads.spool_to_disk(used, tmp_path)


def test_only_a_few_submits_hold_their_files_in_memory_at_once(monkeypatch):
    monkeypatch.setattr(uploads, "_held", threading.BoundedSemaphore(uploads.HELD_AT_ONCE))
    lock, full, go = threading.Lock(), threading.Event(), threading.Event()
    inside, most, arrived = [0], [0], [0]

    def submit() -> bool:
        with lock:
            arrived[0] += 1
        with uploads.in_turn():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                if inside[0] == uploads.HELD_AT_ONCE:
                    full.set()
            go.wait(30)  # the first ones hold their turn until the test lets them go
            with lock:
                inside[0] -= 1
        return True

    done: list = []
    runner = threading.Thread(target=lambda: done.append(at_once([submit] * 12, UserError)))
    runner.start()
    assert full.wait(30)
    assert wait_until(lambda: arrived[0] == 12)  # all of them asked for their turn
    go.set()
    runner.join(30)
    taken, refused = done[0]
    assert len(taken) == 12 and not refused  # every one had its turn
    assert most[0] == uploads.HELD_AT_ONCE


def test_a_submit_that_waits_too_long_for_its_turn_is_refused_with_a_sentence(monkeypatch):
    monkeypatch.setattr(uploads, "_held", threading.BoundedSemaphore(uploads.HELD_AT_ONCE))
    monkeypatch.setattr(uploads, "HELD_WAIT_SECONDS", 0.05)
    with contextlib.ExitStack() as turns:
        for _ in range(uploads.HELD_AT_ONCE):
            turns.enter_context(uploads.in_turn())
        with pytest.raises(UserError) as refused, uploads.in_turn():
            pass
    assert str(refused.value) == uploads.BUSY
    assert "生成" in i18n.t(uploads.BUSY, "zh")  # said in the page's language
    with uploads.in_turn():  # the turns given back: the next one goes at once
        pass
