"""The page guard, the page context and the error boundary.

Every page starts with `ctx = ui.guard("Title")`: it shows the login panel and stops the script
when nobody is logged in, refuses non-admins on admin pages, draws the sidebar and returns one
frozen PageContext (settings, database, image store, job runner, account, language) that the
page hands to its view module inside `with ui.boundary():`. Callbacks are wrapped in
`ui.action`. Both show a UserError's sentence, log anything else and never show a trace.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec

import streamlit as st

from viba import audit, auth, login_view, logs, sessions, sidebar
from viba import cookie as login_cookie
from viba.config import PROJECT_ROOT, Settings, get_settings
from viba.cookie import BadCookie, SessionCookie
from viba.db import Database, get_database
from viba.errors import UNEXPECTED, UserError
from viba.i18n import current_language, t
from viba.storage import ImageStore, make_backend
from viba.text import md_escape
from viba.websession import session

if TYPE_CHECKING:
    from viba.gemini import GeminiConfig
    from viba.jobs import JobRunner

log = logging.getLogger(__name__)
P = ParamSpec("P")


def fail(message: str) -> NoReturn:
    """Show one clear message and end the run (no stack trace)."""
    st.error(md_escape(t(message)), icon=":material/error:")
    st.stop()
    raise AssertionError("unreachable: st.stop() raises")


@contextmanager
def boundary() -> Iterator[None]:
    """Around a page's body: a UserError shows its sentence; anything else is logged with its
    trace and shown as one sentence. Streamlit's stop and rerun pass through."""
    try:
        yield
    except UserError as exc:
        st.error(md_escape(t(str(exc))), icon=":material/error:")
    except Exception:
        log.exception("a page failed")
        st.error(t(UNEXPECTED), icon=":material/error:")


def action(fn: Callable[P, Any]) -> Callable[P, None]:
    """A widget callback whose failure is shown as a toast on the next run, never a trace."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except UserError as exc:
            session().flash = str(exc)
        except Exception:
            log.exception("a callback failed")
            session().flash = UNEXPECTED

    return run


# --- process-wide resources ----------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _database(url: str) -> Database:
    db = get_database(url)
    db.migrate()
    return db


@st.cache_resource(show_spinner=False)
def _logging(fmt: str, level: str) -> None:
    logs.setup(fmt, getattr(logging, level.upper()))


# Streamlit serves <main script folder>/static/ at app/static/ (server.enableStaticServing).
THUMB_FOLDER = PROJECT_ROOT / "static" / "t"


@st.cache_resource(show_spinner=False)
def _image_store(url: str, storage: str, data_dir: str) -> ImageStore:
    from viba.thumb_cache import ThumbCache

    cache = ThumbCache(THUMB_FOLDER, "/app/static/t")
    return ImageStore(make_backend(storage, _database(url), Path(data_dir)), cache)


@st.cache_resource(show_spinner=False)
def _runner(
    url: str,
    storage: str,
    data_dir: str,
    workers: int,
    per_user: int,
    heartbeat: float,
    db_retry: float,
    grace: float,
) -> JobRunner:
    from viba import jobs

    db = _database(url)
    return jobs.JobRunner(
        db,
        _image_store(url, storage, data_dir),
        workers=workers,
        per_user=per_user,
        heartbeat_s=heartbeat,
        db_retry_s=db_retry,
        config_for=jobs.resume_config(get_settings(), db),
        grace_s=grace,
        chores=[jobs.audit_pruning(db, get_settings().audit_retention_days)],
    )


def boot() -> tuple[Settings, Database]:
    """Settings and a migrated database, or a clear message on the page and a stop. The
    first run in a process also starts the job runner, which picks up the jobs a previous
    process left unfinished (a page that fails to start it still works)."""
    try:
        settings = get_settings()
        _logging(settings.log_format, settings.log_level)
        settings.check_production()
        db = _database(settings.effective_database_url)
    except UserError as exc:
        _database.clear()  # try again on the next run instead of caching the failure
        fail(str(exc))
    try:
        _start_runner(settings)
    except Exception:  # the studio pages say why when they need it; the rest work on
        log.exception("the job runner could not start")
    return settings, db


def _start_runner(settings: Settings) -> JobRunner:
    s = settings
    return _runner(
        s.effective_database_url,
        s.storage,
        str(s.data_dir),
        s.workers,
        s.user_concurrency,
        s.job_heartbeat_seconds,
        s.db_retry_seconds,
        s.shutdown_grace_seconds,
    )


@dataclass(frozen=True)
class PageContext:
    """What a page and its view modules work with, for one script run."""

    settings: Settings
    db: Database
    account: auth.Account
    language: str

    @property
    def store(self) -> ImageStore:
        """The process-wide image store (VIBA_STORAGE)."""
        s = self.settings
        return _image_store(s.effective_database_url, s.storage, str(s.data_dir))

    @property
    def runner(self) -> JobRunner:
        """The process-wide job runner (started by the process's first page run)."""
        return _start_runner(self.settings)

    def gemini_config(self) -> GeminiConfig:
        """The engine configuration for this session (the user's own key first); raises
        MissingApiKey when there is no key at all."""
        from viba.gemini import GeminiConfig

        return GeminiConfig.from_settings(self.settings, user_gemini_key(self.db, self.settings))

    def model_choices(self) -> dict[str, str]:
        return model_choices(self.db, self.account)


# --- who is logged in ----------------------------------------------------------------------


SESSION_ENDED = (
    "Your session has ended (you logged out elsewhere, or your password changed). Log in again."
)


def current_account(db: Database, settings: Settings) -> auth.Account | None:
    """The logged-in account: this browser session's server-side session, else the one its
    cookie names (re-login on reload). Both are checked against the sessions table on every
    run, so a session ended anywhere logs this browser out at its next click."""
    box = session()
    if box.session_id is not None:
        account = sessions.check(db, box.session_id)
        if account is None:  # ended elsewhere, expired, or the account deactivated
            box.log_out()
            box.form_message = ("login", "info", SESSION_ENDED)
        return account
    if box.logged_out:
        return None
    try:
        login = login_cookie.read(settings)
    except BadCookie as exc:
        with db.session() as s:
            audit.record(s, audit.BAD_COOKIE, reason=str(exc))
        box.log_out()  # the runs that follow delete it from the browser
        return None
    if login is None:
        return None
    account = sessions.check(db, login.session_id)
    if account is not None:
        box.log_in(account, login.session_id, None, write_cookie=False)
    return account


def _sync_cookie(cookie: SessionCookie, account: auth.Account | None) -> None:
    """Make the browser's cookie match the session.

    The cookie is written and deleted by a component in the page, which only acts once the
    browser has mounted it; a page switch right after login can unmount it first. So the
    write is repeated on each run until the browser reports this session's cookie back, and a
    logged-out session deletes any cookie the browser still reports.
    """
    box = session()
    if account is not None:
        if not box.cookie_pending or box.session_id is None or box.session_expires is None:
            return
        if cookie.browser_session() == box.session_id:
            box.cookie_pending = False
        else:
            cookie.write(box.session_id, box.session_expires)
    elif box.logged_out and cookie.browser_has_cookie():
        cookie.delete()


def guard(title: str, icon: str = ":material/auto_awesome:", admin: bool = False) -> PageContext:
    """Top of every page: the page context of the logged-in account, or the login panel and a
    stop."""
    st.set_page_config(page_title=f"{title} · Viba Studio", page_icon=icon, layout="wide")
    settings, db = boot()
    # The cookie components live in one container, so that the 'set'/'delete' component
    # coming and going does not shift the page's elements: a shift remounts them, and a
    # remounted form loses what the user had typed or uploaded into it.
    cookie_slot = st.container()
    try:
        account = current_account(db, settings)
        if account is None:
            with st.container():
                login_view.login_panel(db, settings)
    except UserError as exc:
        fail(str(exc))
    box = session()
    # The component is drawn only while the browser's cookie must change (a new login's is
    # written; after a logout in this session, one left in the browser is deleted): its first
    # report of the browser's cookies reruns the page, so drawing it always would run every
    # page load and sidebar switch twice. The login itself is read from the request.
    if box.cookie_pending or box.logged_out:
        with cookie_slot:
            _sync_cookie(SessionCookie(settings), account)
    logs.set_user(str(account.id) if account else None)
    log.debug("page run: %s", title)
    if account is not None:
        sidebar.take_account_language(db, account)
    sidebar.sidebar(account, db)
    if account is None:
        st.stop()
        raise AssertionError("unreachable: st.stop() raises")
    if admin and not account.is_admin:
        fail("This page is for admins. Ask an admin if you need access.")
    box = session()
    if box.flash:
        message, box.flash = box.flash, None
        st.toast(md_escape(t(message)))
    ctx = PageContext(settings, db, account, current_language())
    if ctx.language != "en":
        _uploader_text(ctx.language)
    from viba import job_watch  # it draws with this module's boundary

    with boundary():
        job_watch.watch(ctx, title)
    return ctx


def _uploader_text(lang: str) -> None:
    """Streamlit's uploader writes its own "Upload" and "…MB per file" in English only:
    shown in the page's language by a style (the element's text is drawn by ::after)."""
    limit = st.get_option("server.maxUploadSize")
    button = t("Upload", lang)
    note = t("{n}MB per file", lang).format(n=limit)
    zone = '[data-testid="stFileUploaderDropzone"]'
    st.html(
        "<style>"
        f'{zone} button [data-testid="stMarkdownContainer"] p {{font-size: 0}}'
        f'{zone} button [data-testid="stMarkdownContainer"] p::after '
        f'{{content: "{button}"; font-size: 1rem}}'
        f'{zone} [data-testid="stFileUploaderDropzoneInstructions"] span {{font-size: 0}}'
        f'{zone} [data-testid="stFileUploaderDropzoneInstructions"] span::after '
        f'{{content: "{note} · PNG, JPG, WEBP, HEIC"; font-size: 0.875rem}}'
        "</style>"
    )


# --- the account's choices -----------------------------------------------------------------


def model_choices(db: Database, account: auth.Account) -> dict[str, str]:
    """The account's model per step: kept in the session, loaded (and migrated) from the row
    on first use after login."""
    from viba import preferences

    box = session()
    if box.model_choices is not None:
        return dict(box.model_choices)
    choices, notes = preferences.load_model_choices(db, account.id)
    box.model_choices = dict(choices)
    if notes:  # one notice, a line per step (the names come from the database: escaped)
        st.toast("  \n".join(md_escape(t(note)) for note in notes), icon=":material/swap_horiz:")
    return choices


def feature_options(db: Database, account: auth.Account) -> dict[str, dict[str, Any]]:
    """The options of the account's last submit of each feature: kept in the session, loaded
    from the row on first use after login."""
    from viba import preferences

    box = session()
    if box.feature_options is None:
        box.feature_options = preferences.load_feature_options(db, account.id)
    return box.feature_options


def remember_feature_options(
    db: Database, account: auth.Account, feature: str, options: dict[str, Any]
) -> None:
    from viba import preferences

    box = session()
    box.feature_options = preferences.remember_feature_options(db, account.id, feature, options)


def user_gemini_key(db: Database, settings: Settings) -> str | None:
    """The user's own key: set in this session, else remembered on their row."""
    from viba import keyvault

    box = session()
    if box.user_id and not box.key_loaded:
        key, unreadable = keyvault.load(db, settings.resolved_cookie_key(), uuid.UUID(box.user_id))
        box.gemini_key, box.key_remembered, box.key_unreadable = key, key is not None, unreadable
        box.key_loaded = True
    return box.gemini_key
