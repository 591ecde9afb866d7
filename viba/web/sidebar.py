"""The role-aware sidebar: page links (the feature pages from the registry), who is signed in,
Log out and the language switch."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from viba.accounts import sessions
from viba.accounts.account import Account
from viba.core.errors import UserError
from viba.i18n import LANGUAGES
from viba.store import audit
from viba.store.db import Database
from viba.studio import features, preferences
from viba.web.browser_session import session
from viba.web.language import LANG_KEY, current_language, t

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # an i18n key; a page's title is its English text
    icon: str
    admin_only: bool = False
    feature: str | None = None  # the registry's key, on a feature's page


HOME = NavItem("Home.py", "Home", ":material/home:")
LOGIN = NavItem("Home.py", "Log in or register", ":material/login:")
HISTORY_PAGE = "pages/5_History.py"
PROFILE_PAGE = "pages/7_Profile.py"
BOARDS_PAGE = "pages/9_Boards.py"
OTHER_PAGES: tuple[NavItem, ...] = (
    NavItem(HISTORY_PAGE, "History", ":material/history:"),
    NavItem(BOARDS_PAGE, "Boards", ":material/dashboard:"),
    NavItem("pages/6_System_Prompts.py", "System Prompts", ":material/tune:"),
    NavItem(PROFILE_PAGE, "Profile", ":material/person:"),
    NavItem("pages/8_Admin.py", "Admin", ":material/admin_panel_settings:", admin_only=True),
)


def studio_pages() -> tuple[NavItem, ...]:
    """Every page: Home, one per feature (in registry order), then the others."""
    feature_pages = (NavItem(f.page, f.key, f.icon, feature=f.key) for f in features.all_features())
    return (HOME, *feature_pages, *OTHER_PAGES)


def page_for(script: str) -> NavItem:
    """The page a script file is (its title, icon, who may see it), by its file name."""
    name = Path(script).name
    found = next((item for item in studio_pages() if Path(item.path).name == name), None)
    if found is None:
        raise LookupError(f"{script} is not a page of the app (viba.web.sidebar, the registry)")
    return found


def nav_items(account: Account | None) -> list[NavItem]:
    """What the sidebar offers: logged out only the login page; admins also Admin."""
    if account is None:
        return [LOGIN]
    return [item for item in studio_pages() if account.is_admin or not item.admin_only]


def _log_out(db: Database) -> None:
    """Button callback: end the session on the server and forget the user now; the guard
    deletes the cookie in the runs that follow (a callback cannot draw the component)."""
    box = session()
    session_id, user_id = box.session_id, box.user_id
    box.log_out()
    try:
        if session_id is not None:
            sessions.end(db, session_id)
        with db.session() as s:
            audit.record(s, audit.LOGOUT, actor_id=uuid.UUID(user_id) if user_id else None)
    except UserError:  # logged out here anyway; the session row expires on its own
        log.warning("logout: the session could not be ended in the database")


def _choose_language(db: Database, account: Account | None, chosen: str) -> None:
    """The switch: this session's language from now on (every page), kept on the account."""
    box = session()
    box.language = chosen
    if account is not None:
        try:
            preferences.set_language(db, account.id, chosen)
        except UserError:
            log.warning("the language could not be kept on the account")


def take_account_language(db: Database, account: Account) -> None:
    """After a login: the account's language, or, for an account that never chose one, the
    one this session was using (kept on the account)."""
    box = session()
    if box.language_of == str(account.id):
        return
    box.language_of = str(account.id)
    if account.language in LANGUAGES:
        box.language = account.language
        return
    try:
        preferences.set_language(db, account.id, current_language())
    except UserError:
        log.warning("the language could not be kept on the account")


def sidebar(account: Account | None, db: Database) -> None:
    with st.sidebar:
        st.markdown(t("### Viba Studio"))
        for item in nav_items(account):
            st.page_link(item.path, label=t(item.label), icon=item.icon)
        if account is not None:
            st.divider()
            st.caption(t("signed_in_as"))
            st.text(account.full_name)
            st.text(account.email + (f"  ·  {t('admin')}" if account.is_admin else ""))
            st.button(
                t("log_out"),
                key="viba_logout",
                on_click=_log_out,
                args=(db,),
                icon=":material/logout:",
            )
        # Keyed by the language it shows: after a switch (or a login that brings the
        # account's language) it is a new widget, and the browser's state of the old one,
        # which still says the old language, cannot switch it back.
        current = current_language()
        chosen = st.segmented_control(
            t("language"),
            list(LANGUAGES),
            key=f"{LANG_KEY}_{current}",
            default=current,
            format_func=lambda code: LANGUAGES[code],
            selection_mode="single",
        )
        if chosen in LANGUAGES and chosen != current:
            _choose_language(db, account, chosen)
            st.rerun()
