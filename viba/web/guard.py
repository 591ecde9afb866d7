"""The page guard: the top of every page.

Every page starts with `ctx = guard(...)` (feature pages with `feature_guard(key)`, which takes
the title and icon from the registry): it shows the login panel and stops the script when nobody
is logged in, refuses non-admins on admin pages, draws the sidebar and returns one frozen
PageContext (viba.web.context) that the page hands to its view module inside `with boundary():`
(viba.web.boundary).
"""

from __future__ import annotations

import logging

import streamlit as st

from viba.accounts import sessions
from viba.accounts.account import Account
from viba.core import logs
from viba.core.config import Settings
from viba.core.errors import UserError
from viba.store import audit
from viba.store.db import Database
from viba.studio import model_admin
from viba.web import cookie as login_cookie
from viba.web import job_watch, login_view, sidebar
from viba.web.boundary import boundary, fail, show_flash
from viba.web.browser_session import session
from viba.web.context import PageContext, boot
from viba.web.cookie import BadCookie, SessionCookie
from viba.web.language import current_language, t

log = logging.getLogger(__name__)


# --- process-wide resources ----------------------------------------------------------------


# --- who is logged in ----------------------------------------------------------------------


SESSION_ENDED = (
    "Your session has ended (you logged out elsewhere, or your password changed). Log in again."
)


def current_account(db: Database, settings: Settings) -> Account | None:
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
        login_view.sso_account(db, settings)  # drops the provider's sign-in too
        return None
    try:
        login = login_cookie.read(settings)
    except BadCookie as exc:
        with db.session() as s:
            audit.record(s, audit.BAD_COOKIE, reason=str(exc))
        box.log_out()  # the runs that follow delete it from the browser
        return None
    if login is None:
        return login_view.sso_account(db, settings)
    account = sessions.check(db, login.session_id)
    if account is not None:
        box.log_in(account, login.session_id, None, write_cookie=False)
        return account
    # The cookie names a session that has ended: a Google sign-in made since then may still
    # open a new one (whose cookie replaces this one); an older one is ended as well.
    return login_view.sso_account(db, settings, lambda: sessions.ended_at(db, login.session_id))


def _sync_cookie(cookie: SessionCookie, account: Account | None) -> None:
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


def guard(script: str) -> PageContext:
    """Top of every page (`guard(__file__)`): the page context of the logged-in account, or the
    login panel and a stop. The page's title, icon and role come from its navigation entry
    (viba.web.sidebar; a feature's from the registry)."""
    page = sidebar.page_for(script)
    title = t(page.label, "en")
    st.set_page_config(page_title=f"{title} · Viba Studio", page_icon=page.icon, layout="wide")
    settings, parts = boot()
    db = parts.db
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
        login_view.finish_link(db, settings, account)  # Profile's link to Google sign-in
        sidebar.take_account_language(db, account)
        model_admin.refresh(db)  # the admins' catalog changes, at most every few seconds
    sidebar.sidebar(account, db)
    if account is None:
        st.stop()
        raise AssertionError("unreachable: st.stop() raises")
    if page.admin_only and not account.is_admin:
        fail("This page is for admins. Ask an admin if you need access.")
    show_flash()
    ctx = PageContext(settings, parts, account, current_language())
    if ctx.language != "en":
        _uploader_text(ctx.language)
    with boundary():
        job_watch.watch(ctx, title, page.feature)
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
