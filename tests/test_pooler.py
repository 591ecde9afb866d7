"""The app behind a transaction-mode pooler, as behind Supabase's port 6543: Debian's real
pgbouncer with pool_mode=transaction in front of this machine's PostgreSQL, fewer server
connections than threads, so consecutive transactions of one client land on different
server connections (nothing may rely on session state: SET, session advisory locks, prepared
statements by name)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from test_jobs import left_by_a_dead_worker, resuming_runner

from viba.accounts import auth
from viba.engine.images import prepare_image
from viba.jobs.runner import JobRunner
from viba.store.db import Database
from viba.store.image_store import ImageStore, make_backend
from viba.studio import features, generations, prompt_store

from fake_gemini import png_bytes
from helpers import (
    PASSWORD,
    create_pg_database,
    drop_pg_database,
    free_port,
    queue_name,
    wait_until,
)

PGBOUNCER = "/usr/sbin/pgbouncer"
SERVER_CONNECTIONS = 3


@pytest.fixture()
def pooled_url():
    admin_url = os.environ.get("TEST_DATABASE_URL", "")
    if not admin_url.startswith("postgresql"):
        pytest.skip("the pooler runs in front of PostgreSQL (the suite's PostgreSQL run)")
    if not Path(PGBOUNCER).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{PGBOUNCER} is missing: .ci/run installs Debian's pgbouncer package")
        pytest.skip("needs Debian's pgbouncer (apt install pgbouncer)")
    real = create_pg_database(admin_url)
    database = real.rsplit("/", 1)[1].split("?")[0]
    # pgbouncer refuses to run as root; as root it runs as postgres, which must read its files.
    folder = Path(tempfile.mkdtemp(prefix="viba-pgbouncer-", dir="/tmp"))
    folder.chmod(0o777)
    port = free_port()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
viba = host=127.0.0.1 port=5432 dbname={database} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_client_conn = 200
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
"""
    )
    for f in folder.iterdir():
        f.chmod(0o666)
    argv = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(lambda: listening() or proc.poll() is not None, timeout=15)
        log = folder / "pgbouncer.log"
        assert proc.poll() is None, log.read_text() if log.exists() else "pgbouncer exited"
        yield f"postgresql://postgres@127.0.0.1:{port}/viba", real
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)
        drop_pg_database(real)


@pytest.fixture()
def pooled(pooled_url):
    """The app's database through the transaction pooler; `direct` is the session connection
    the queue's workers use (LISTEN/NOTIFY: Supabase's session pooler, VIBA_QUEUE_DATABASE_URL)."""
    url, direct = pooled_url
    database = Database(url, pooler="transaction")
    database.direct = direct
    database.migrate()  # Alembic through the pooler, as a pre-deploy step on 6543 would
    yield database
    database.dispose()


def test_the_app_keeps_no_client_pool_and_the_pooler_few_server_connections(pooled):
    """The premise of the tests below: many sessions, at most SERVER_CONNECTIONS backends."""
    seen = set()
    for _ in range(20):
        with pooled.session() as s:
            seen.add(s.scalar(text("SELECT pg_backend_pid()")))
    assert 1 <= len(seen) <= SERVER_CONNECTIONS
    assert pooled.engine.pool.__class__.__name__ == "NullPool"


def test_a_team_registers_logs_in_and_generates_at_once_through_the_pooler(
    pooled, fake_gemini, gemini_config, tmp_path
):
    store = ImageStore(make_backend("db", pooled, tmp_path))
    runner = JobRunner(
        pooled,
        store,
        workers=16,
        per_user=6,
        heartbeat_s=0.3,
        queue=queue_name(),
        queue_url=pooled.direct,
    )
    models = dict(features.catalog().defaults)
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(pooled))
    people = 12
    start = threading.Barrier(people)
    job_ids: list[uuid.UUID] = []
    errors: list[BaseException] = []

    def one_person(i: int) -> None:
        try:
            start.wait()
            email = f"pool-{i}-{uuid.uuid4().hex[:6]}@example.com"
            account = auth.register(pooled, email, f"Pooled {i}", PASSWORD)
            auth.authenticate(pooled, email, PASSWORD)
            image = prepare_image(png_bytes(f"pooled-{i}"), "me.png")
            job_ids.append(
                runner.submit(account.id, "derivation", [image], {}, models, in_use, gemini_config)
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_person, args=(i,)) for i in range(people)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for job_id in job_ids:
            runner.wait(job_id, timeout=60)
    finally:
        runner.shutdown()
    for job_id in job_ids:
        with pooled.session() as s:
            from viba.store.models import GenerationHistory

            row = s.get(GenerationHistory, job_id)
            assert row.status == "completed", row.error_message
            assert len(row.output_keys) == 4 and row.details["description"]
    with pooled.session() as s:
        admins = s.scalar(text("SELECT count(*) FROM users WHERE is_admin"))
    assert admins == 1  # the first registration's race is decided through the pooler too


def test_a_dead_processs_job_is_picked_up_through_the_pooler(
    pooled, fake_gemini, gemini_config, tmp_path
):
    store = ImageStore(make_backend("db", pooled, tmp_path))
    owner = auth.register(pooled, "owner@example.com", "Own Er", PASSWORD)
    job_id = left_by_a_dead_worker(pooled, store, owner, gemini_config, "avatar", 1)
    runner = resuming_runner(pooled, store, gemini_config, queue_url=pooled.direct)
    try:
        runner.wait(job_id, timeout=30)
    finally:
        runner.shutdown()
    view = generations.find(pooled, owner.id, job_id)
    assert view is not None and view.status == "completed" and view.details["resumed"] == 1
