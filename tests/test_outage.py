"""A database outage while a job waits on Gemini: the result is written once the database is
back (within VIBA_DB_RETRY_SECONDS), or the job fails saying so and leaves no image behind."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import uuid

import pytest
from sqlalchemy import event, text

from viba.accounts import auth
from viba.engine.images import prepare_image
from viba.jobs.runner import JobRunner
from viba.store.db import Database
from viba.store.image_store import ImageStore, LocalBackend
from viba.store.models import GenerationHistory
from viba.studio import features, generations, prompt_store

import fake_gemini as fg
from fake_gemini import png_bytes
from helpers import PASSWORD, queue_name, wait_until


@contextlib.contextmanager
def outage(db: Database, url: str):
    """While inside, the database cannot be used: PostgreSQL refuses new connections and its
    open ones are cut; SQLite (no server to stop) fails every statement at the driver."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
        try:
            yield
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
            admin.dispose()
    else:

        def refuse(*_args, **_kwargs):
            raise sqlite3.OperationalError("disk I/O error (test outage)")

        event.listen(db.engine, "before_cursor_execute", refuse)
        try:
            yield
        finally:
            event.remove(db.engine, "before_cursor_execute", refuse)


@pytest.fixture()
def fresh(empty_database_url):
    db = Database(empty_database_url)
    db.migrate()
    yield db, empty_database_url
    db.dispose()


def _submit(runner, db, user, gemini_config):
    image = prepare_image(png_bytes(f"outage-{uuid.uuid4()}"), "me.png")
    return runner.submit(
        user.id,
        "avatar",
        [image],
        {},
        features.catalog().defaults,
        prompt_store.prompts_in_use(prompt_store.active_prompts(db)),
        gemini_config,
    )


def _row(db, job_id):
    with db.session() as s:
        return s.get(GenerationHistory, job_id)


def test_a_short_outage_while_gemini_works_loses_nothing(
    fresh, tmp_path, fake_gemini, gemini_config, caplog
):
    db, url = fresh
    user = auth.register(db, "outage@example.com", "Otto", PASSWORD)
    store = ImageStore(LocalBackend(tmp_path / "images"))
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate))
    runner = JobRunner(db, store, heartbeat_s=30, db_retry_s=60, queue=queue_name())
    try:
        job_id = _submit(runner, db, user, gemini_config)
        wait_until(lambda: _row(db, job_id).status == "processing")
        caplog.set_level(logging.WARNING, logger="viba.store.db")
        with outage(db, url):
            gate.set()  # Gemini answers while the database is away
            wait_until(lambda: "database unavailable" in caplog.text, timeout=20)
        runner.wait(job_id, timeout=60)
        row = _row(db, job_id)
        assert row.status == "completed", row.error_message
        assert len(row.output_keys) == 1 and store.exists(row.output_keys[0])
    finally:
        gate.set()
        runner.shutdown()


def test_a_long_outage_fails_the_job_saying_so_and_leaves_no_image(
    fresh, tmp_path, fake_gemini, gemini_config, monkeypatch
):
    db, url = fresh
    user = auth.register(db, "outage2@example.com", "Olga", PASSWORD)
    store = ImageStore(LocalBackend(tmp_path / "images"))
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate))
    recording_failure = threading.Event()
    real_fail = generations.fail

    def fail(*args, **kwargs):
        recording_failure.set()  # the output was given up on; now the job's failure
        return real_fail(*args, **kwargs)

    monkeypatch.setattr(generations, "fail", fail)
    runner = JobRunner(db, store, heartbeat_s=30, db_retry_s=2, queue=queue_name())
    try:
        job_id = _submit(runner, db, user, gemini_config)
        wait_until(lambda: _row(db, job_id).status == "processing")
        inputs = set((tmp_path / "images" / "img").iterdir())
        with outage(db, url):
            gate.set()
            assert recording_failure.wait(30)
        runner.wait(job_id, timeout=60)
        row = _row(db, job_id)
        assert row.status == "failed" and row.output_keys == []
        assert "could not be reached for 2 seconds" in row.error_message
        assert set((tmp_path / "images" / "img").iterdir()) == inputs  # no orphan image
    finally:
        gate.set()
        runner.shutdown()
