"""Shared fixtures: a real database (SQLite file, or PostgreSQL when TEST_DATABASE_URL points
at one) made fresh for the test session, and the app's settings pointed at it.

TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test runs the whole suite on
PostgreSQL: a new database is created on that server for the run and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The cheapest bcrypt cost for every account the tests make (12 in use: 0.3 s a hash). Set
# before the app's settings are first read; the app servers get it through app_env.
os.environ.setdefault("VIBA_BCRYPT_ROUNDS", "4")

from viba import services
from viba.accounts import auth
from viba.core.config import get_settings
from viba.jobs.runner import RUNNERS, JobRunner
from viba.store.db import Database

from helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    ROOT,
    StreamlitServer,
    create_pg_database,
    drop_pg_database,
    free_port,
    queue_name,
    s3_settings,
)

# What viba.services.configure does for the app: the bcrypt cost of the accounts made here.
auth.set_bcrypt_rounds(int(os.environ["VIBA_BCRYPT_ROUNDS"]))


def _backend() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    return "postgresql" if url.startswith(("postgres://", "postgresql")) else "sqlite"


@pytest.fixture(scope="session")
def backend() -> str:
    return _backend()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One fresh database for the whole run. At its end the job runners the pages started in
    this process stop first: their heartbeats would go on sweeping a database that is gone."""

    if _backend() == "postgresql":
        url = create_pg_database(os.environ["TEST_DATABASE_URL"])
        yield url
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'viba.db'}"
        yield url
    for runner in list(RUNNERS):
        runner.shutdown(wait=False)
    if _backend() == "postgresql":
        drop_pg_database(url)


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Database]:
    """The run's database, built by the composition root as the app builds its own: the pages
    that AppTest runs in this process share it (one pool)."""
    database = services.database(get_settings(), database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture()
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, for migration tests."""
    if _backend() == "postgresql":
        url = create_pg_database(os.environ["TEST_DATABASE_URL"])
        yield url
        drop_pg_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture()
def email() -> str:
    """A fresh address per test, so tests share the session database without colliding."""
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture(scope="session")
def app_env(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, fake_gemini_server
) -> dict[str, str]:
    """Environment for running the app (AppTest in-process, or `streamlit run`): the real SDK
    pointed at the loopback fake Gemini."""
    data_dir = tmp_path_factory.mktemp("data")
    return {
        "GEMINI_API_KEY": "server-test-key-0123456789",
        "GEMINI_BASE_URL": fake_gemini_server.base_url,
        "GEMINI_API_VERSION": "v1beta",
        "GEMINI_TIMEOUT_SECONDS": "10",
        "GEMINI_RETRY_INITIAL_DELAY": "0.01",
        "VIBA_JOB_HEARTBEAT_SECONDS": "0.5",
        # How long an exiting test process (or a test server) waits for a job it holds.
        "VIBA_SHUTDOWN_GRACE_SECONDS": "10",
        "VIBA_LOG_LEVEL": "debug",  # a line per page run: tests count them
        "VIBA_BCRYPT_ROUNDS": os.environ["VIBA_BCRYPT_ROUNDS"],
        "VIBA_STORAGE": "db",  # the browser tests check rows in the blobs table
        "DATABASE_URL": database_url,
        "VIBA_DATA_DIR": str(data_dir),
        "VIBA_COOKIE_KEY": "test-cookie-key-" + "x" * 40,
        "VIBA_ENV": "development",
        "VIBA_ADMIN_EMAILS": "",
        "VIBA_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
    }


@pytest.fixture(scope="session")
def admin(db: Database):
    """An admin exists from the start, so accounts made by tests are ordinary users."""

    return auth.register(db, f"admin-{uuid.uuid4().hex[:8]}@example.com", "Ada Admin", PASSWORD)


@pytest.fixture()
def user(db: Database, admin, email: str):

    return auth.register(db, email, "Uma User", PASSWORD)


@pytest.fixture()
def store(db, tmp_path):
    """Images in the database (a test module may define its own, on another backend)."""
    from viba.store.image_store import ImageStore, make_backend

    return ImageStore(make_backend("db", db, tmp_path))


@pytest.fixture()
def app_store(db, app_env):
    """The app's own image store (its settings' backend and folder): what a test puts here,
    the `streamlit run` server and the in-process pages (AppTest) read."""
    from viba.core.config import load_settings
    from viba.store.image_store import ImageStore, make_backend

    settings = load_settings(
        storage=app_env.get("VIBA_STORAGE", "db"), data_dir=app_env["VIBA_DATA_DIR"]
    )
    return ImageStore(make_backend(settings.storage, db, settings.data_dir))


@pytest.fixture()
def runner(db, store):

    r = JobRunner(db, store, workers=4, per_user=2, heartbeat_s=0.2, queue=queue_name())
    yield r
    r.shutdown()


@pytest.fixture()
def member(db, admin, email):

    return auth.register(db, email, "Job Tester", PASSWORD)


@pytest.fixture()
def clean_prompts(db):
    """No saved prompt versions before and after the test (the built-in texts are active)."""
    from viba.store.models import PromptVersion

    with db.session() as s:
        s.query(PromptVersion).delete()
    yield
    with db.session() as s:
        s.query(PromptVersion).delete()


class SMTPInbox:
    """Messages received by a real SMTP server on loopback (aiosmtpd)."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture()
def smtp_server() -> Iterator[tuple[int, SMTPInbox]]:
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = SMTPInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture(scope="session")
def app_environ(app_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The in-process app (AppTest) reads its settings from os.environ."""
    from streamlit import config as st_config

    from viba.core.config import get_settings

    saved = {k: os.environ.get(k) for k in app_env}
    os.environ.update(app_env)
    get_settings.cache_clear()
    # In-process tests see the real error behind "This app has encountered an error".
    st_config.set_option("client.showErrorDetails", "full")
    yield app_env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def streamlit_server(app_env, db, tmp_path_factory) -> Iterator[StreamlitServer]:
    """The run's `streamlit run` server, with a job queue of its own: its worker takes none of
    the jobs of the app that AppTest runs in this process (a feature a test adds here is
    unknown there)."""
    # A temporary folder of its own: tests look there for the uploads it holds.
    tmp = tmp_path_factory.mktemp("server-tmp")
    env = {**app_env, "VIBA_QUEUE": "test-browser-server", "TMPDIR": str(tmp)}
    server = StreamlitServer(env, tmp_path_factory.mktemp("server") / "streamlit.log")
    server.tmp_dir = tmp
    server.wait_healthy()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, request):
    """A fresh browser profile (no cookies) per test; a screenshot is kept when a test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    pg = context.new_page()
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        out = ROOT / "test-artifacts"
        out.mkdir(exist_ok=True)
        pg.screenshot(path=str(out / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def fake_gemini_server():
    from fake_gemini import FakeGemini

    fake = FakeGemini().start()
    yield fake
    fake.stop()


@pytest.fixture()
def fake_gemini(fake_gemini_server):
    """The loopback fake Gemini, with no scripted answers and no recorded requests."""
    fake_gemini_server.reset()
    yield fake_gemini_server
    fake_gemini_server.reset()


@pytest.fixture()
def gemini_config(fake_gemini):
    """The real SDK pointed at the fake: short timeouts and retry delays for tests."""
    from viba.engine.gemini import GeminiConfig

    return GeminiConfig(
        api_key="test-key-123",
        base_url=fake_gemini.base_url,
        api_version="v1beta",
        timeout_s=5.0,
        retry_attempts=3,
        retry_initial_delay=0.01,
        retry_max_delay=0.05,
    )


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3-compatible server on loopback (boto3 talks to it as to Supabase Storage)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture()
def s3_env(s3_endpoint, monkeypatch):
    """This process's boto3 pointed at moto, with a bucket "viba-test"."""
    import boto3

    for name, value in s3_settings(s3_endpoint).items():
        monkeypatch.setenv(name, value)
    boto3.client("s3").create_bucket(Bucket="viba-test")
    return s3_endpoint
