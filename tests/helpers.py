"""Helpers shared by the tests: accounts' password, waiting on a condition, the app server
(`streamlit run`), pages through AppTest, the browser's common moves, rows made directly."""

from __future__ import annotations

import io
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from viba import services
from viba.accounts.account import Account
from viba.core.config import get_settings
from viba.engine.images import prepare_image
from viba.store.db import normalise_url
from viba.store.models import GenerationHistory, ImageRef, User
from viba.studio import features
from viba.web import browser_session

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


PASSWORD = "correct-horse-42"


def create_pg_database(admin_url: str) -> str:
    """Create an empty database beside admin_url's and return its URL."""
    url = normalise_url(admin_url)
    name = f"viba_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(db_url: str) -> None:
    url = make_url(db_url)
    admin = url.set(database="postgres" if url.database != "postgres" else "template1")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    engine.dispose()


CHROMIUM = "/usr/bin/chromium"


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def s3_settings(endpoint: str) -> dict[str, str]:
    """The AWS_* variables render.yaml asks for, pointed at a loopback S3 server."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StreamlitServer:
    """`streamlit run app.py` in a subprocess, as a person or Render would start it.

    shell_command: a start command as a deployment writes it (render.yaml's, with $PORT),
    run by bash with exactly `env` plus PORT; without it, the test server's own command with
    the test session's environment plus `env`."""

    def __init__(
        self, env: dict[str, str], log_path: Path, shell_command: str | None = None
    ) -> None:
        import subprocess
        import sys

        self.port = free_port()
        self.tmp_dir: Path | None = None  # its TMPDIR, where a test gave it one
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        if shell_command is not None:
            argv = ["bash", "-c", "exec " + shell_command]
            env = {**env, "PORT": str(self.port)}
        else:
            argv = [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--server.fileWatcherType",
                "none",
                "--browser.gatherUsageStats",
                "false",
            ]
            env = {**os.environ, **env}
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def answers_health(self, timeout: float = 2) -> bool:
        """The server answers its health check with ok (it serves pages)."""
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=timeout) as resp:
                return resp.status == 200 and resp.read() == b"ok"
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.answers_health():
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"streamlit did not become healthy:\n{self.log_path.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except Exception:
                self.proc.kill()
        self._log.close()


def screenshot(page, name: str) -> None:
    """Keep a screenshot of what a browser test sees: in test-artifacts/, or in
    $VIBA_SCREENSHOTS_DIR (README's docs/screenshots are made with
    `VIBA_SCREENSHOTS_DIR=docs/screenshots python -m pytest -m browser`)."""
    out = Path(os.environ.get("VIBA_SCREENSHOTS_DIR") or ROOT / "test-artifacts")
    if not out.is_absolute():
        out = ROOT / out
    out.mkdir(parents=True, exist_ok=True)
    # Wait for the app to finish its run and for every image to have loaded.
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=15_000)
    page.wait_for_function(
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)", timeout=15_000
    )
    page.wait_for_timeout(500)  # tables draw on a canvas a moment after their data arrives
    page.screenshot(path=str(out / f"{name}.png"), full_page=False)


def wait_until(check, timeout: float = 15.0):
    """Poll check() until it returns something truthy (the app and browser work async)."""

    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"gave up waiting for {check}"
            return value
        time.sleep(0.1)


def session_cookies(page: Page) -> list[str]:
    return [c["value"] for c in page.context.cookies() if c["name"] == "viba_session"]


def main(page: Page):
    return page.get_by_test_id("stMainBlockContainer")


def heading(page: Page, name):
    return main(page).get_by_role("heading", name=name, exact=isinstance(name, str))


def form(page: Page, title: str):
    return page.locator('[data-testid="stForm"]').filter(
        has=page.get_by_role("heading", name=title)
    )


def log_in(page: Page, email: str, password: str) -> None:
    login = form(page, "Log in")
    login.get_by_label("Email").fill(email)
    login.get_by_label("Password", exact=True).fill(password)
    login.get_by_role("button", name="Log in").click()


def settled(page: Page) -> None:
    """Wait until the app has no script run going (the status widget shows while one runs)."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=15_000)


def go_to(page: Page, link: str, title: str) -> None:
    """Switch page through the sidebar and make sure the app stays there.

    A click that lands while a rerun is drawing can be dropped, and a rerun that a component
    of the previous page asked for just before the click can take the app back there (its
    request names the page the browser was on). A person would click again; so does this."""
    target = main(page).get_by_role("heading", name=title, level=1)
    for _ in range(3):
        page.get_by_test_id("stSidebar").get_by_role("link", name=link).click()
        try:
            expect(target).to_be_visible(timeout=5000)
            settled(page)
            expect(target).to_be_visible(timeout=1000)
            return
        except AssertionError:
            continue
    expect(target).to_be_visible()


def at_once(calls, refused: type[Exception]) -> tuple[list, list[str]]:
    """Run the calls in threads released together (a barrier): (what they returned, the
    sentences of those that raised `refused`). Anything else fails the test."""
    start = threading.Barrier(len(calls))
    results: list = []
    sentences: list[str] = []
    failures: list[BaseException] = []

    def one(call) -> None:
        start.wait()
        try:
            results.append(call())
        except refused as exc:
            sentences.append(str(exc))
        except BaseException as exc:  # reported below, on the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures, failures
    assert not any(t.is_alive() for t in threads), "a call did not finish in 30 s"
    return results, sentences


def person(db, name: str = "Pat") -> Account:
    """A new ordinary account (register an admin first: the first account is one)."""
    from viba.accounts import auth

    return auth.register(db, f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com", name, PASSWORD)


def open_logged_in(page: Page, server, user, path: str) -> None:
    page.goto(f"{server.url}/{path}")
    log_in(page, user.email, PASSWORD)
    # While the rerun after the login draws, the login screen's title and the page's can both
    # be on screen for a moment: wait for the form to go and the run to end, then for one title.
    expect(form(page, "Log in")).to_have_count(0, timeout=15_000)
    settled(page)
    expect(main(page).get_by_role("heading", level=1)).to_have_count(1)
    expect(main(page).get_by_role("heading", level=1)).to_be_visible()
    wait_until(lambda: len(session_cookies(page)) == 1)


T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def add(
    db,
    user,
    *,
    type="avatar",
    status="completed",
    at=T0,
    model="gemini-3-pro-image",
    description=None,
    names=("me.png",),
    inputs=(),
    outputs=(),
    favorite=False,
    gid=None,
) -> uuid.UUID:

    steps = features.get(type).step_ids
    row = GenerationHistory(
        id=gid or uuid.uuid4(),
        user_id=user.id,
        type=type,
        status=status,
        input_params={
            "models": {step: model for step in steps},
            "options": {},
            "prompt_versions": {step: "builtin" for step in steps},
            "input_names": list(names),
            "prompt": f"Make a {type} picture.",
        },
        input_keys=list(inputs),
        output_keys=list(outputs),
        details={"description": description} if description else {},
        favorite=favorite,
        created_at=at,
        updated_at=at,
        error_message="Gemini said no." if status == "failed" else None,
    )
    with db.session() as s:
        s.add(row)
        s.flush()
        for role, keys in (("input", inputs), ("output", outputs)):
            for key in dict.fromkeys(keys):
                s.add(ImageRef(generation_id=row.id, key=key, role=role))
        return row.id


def logged_in_box(account: Account) -> browser_session.SessionBox:
    """A browser session logged in as the account, with a live server-side session."""
    from datetime import timedelta

    from viba.accounts import sessions

    db = services.database(get_settings())
    session_id, expires = sessions.start(db, account.id, timedelta(days=1))
    box = browser_session.SessionBox()
    box.log_in(account, session_id, expires, write_cookie=False)
    return box


def open_page(
    page: str | None = None,
    account: Account | None = None,
    query: dict[str, str] | None = None,
) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    if account is not None:
        at.session_state[browser_session.SESSION_KEY] = logged_in_box(account)
    if page is not None:
        at.switch_page(page)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    return at.run()


def open_popover(at: AppTest, key: str) -> AppTest:
    """Open a popover whose content runs only while open (viba.web.popovers), as a click on
    it does: its state is its key's."""
    at.session_state[key] = True
    return at.run()


def sidebar_links(at: AppTest) -> list[str]:
    return [link.label for link in at.sidebar.get("page_link")]


def main_texts(at: AppTest) -> list[str]:
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "error", "success")
    return [str(el.value) for kind in kinds for el in at.main.get(kind)]


def photo(color: str = "red", size=(60, 80), fmt: str = "JPEG"):
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return prepare_image(out.getvalue(), f"{color}.{fmt.lower()}")


def stored_prefs(db, user):
    with db.session() as s:
        return s.scalar(select(User.model_preferences).where(User.id == user.id))


def generation_rows(db, user, feature):
    """A user's generations of one feature, oldest first."""
    with db.session() as s:
        return s.scalars(
            select(GenerationHistory)
            .where(GenerationHistory.user_id == user.id, GenerationHistory.type == feature)
            .order_by(GenerationHistory.created_at)
        ).all()


def smtp_env(monkeypatch, port: int) -> None:
    """Point the app's settings at the test SMTP server (undo with monkeypatch.undo())."""
    from viba.core.config import get_settings

    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    monkeypatch.setenv("SMTP_SECURITY", "none")
    get_settings.cache_clear()


def queue_name() -> str:
    """A job queue of a test's own: the run's other workers (the app's, other tests') take
    nothing from it."""
    return f"test-{uuid.uuid4().hex[:12]}"


def forget_app_runner() -> None:
    """The app's next page run starts a new job runner (the one it had goes on running)."""
    services.services(get_settings()).forget_runner()
