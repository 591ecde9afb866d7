"""Streamlit glue: the page guard, the login/register/reset panel, the role-aware sidebar.

Every page starts with `account = ui.guard("Title")`. The guard shows the login panel and stops
the script when nobody is logged in, refuses non-admins on admin pages, and draws the sidebar.

Split of work with streamlit-authenticator (0.4.2): the library signs, verifies, sets and deletes
the re-login cookie (its CookieModel: a JWT with VIBA_COOKIE_KEY, read server-side from
st.context.cookies and written in the browser by its cookie-manager component). Login,
registration, lockout and password reset are viba.auth against the users table, because the
library keeps those in an in-memory credentials dict (no row-level lock, races between app
processes, forgot_password only returns a random password).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from viba import auth
from viba.config import ConfigError, Settings, get_settings
from viba.db import Database, DatabaseUnavailable, get_database

if TYPE_CHECKING:
    import streamlit_authenticator as stauth

log = logging.getLogger(__name__)

USER_KEY = "viba_user_id"
LOGGED_OUT_KEY = "viba_logged_out"
COOKIE_PENDING_KEY = "viba_cookie_pending"
FLASH_KEY = "viba_flash"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    icon: str
    admin_only: bool = False


STUDIO_PAGES: tuple[NavItem, ...] = (
    NavItem("Home.py", "Home", ":material/home:"),
    NavItem("pages/1_Derivation.py", "Derivation", ":material/auto_awesome:"),
    NavItem("pages/2_Avatar.py", "Avatar", ":material/face:"),
    NavItem("pages/3_Try_On.py", "Try-On", ":material/checkroom:"),
    NavItem("pages/4_Swap.py", "Swap", ":material/swap_horiz:"),
    NavItem("pages/5_History.py", "History", ":material/history:"),
    NavItem("pages/6_System_Prompts.py", "System Prompts", ":material/tune:"),
    NavItem("pages/7_Profile.py", "Profile", ":material/person:"),
    NavItem("pages/8_Admin.py", "Admin", ":material/admin_panel_settings:", admin_only=True),
)


def nav_items(account: auth.Account | None) -> list[NavItem]:
    """What the sidebar offers: logged out only the login page; admins also Admin."""
    if account is None:
        return [NavItem("Home.py", "Log in or register", ":material/login:")]
    return [item for item in STUDIO_PAGES if account.is_admin or not item.admin_only]


def fail(message: str) -> None:
    """Show one clear message and end the run (no stack trace)."""
    st.error(message, icon=":material/error:")
    st.stop()


@st.cache_resource(show_spinner=False)
def _database(url: str) -> Database:
    db = get_database(url)
    db.migrate()
    return db


def boot() -> tuple[Settings, Database]:
    """Settings and a migrated database, or a clear message on the page and a stop."""
    try:
        settings = get_settings()
        settings.check_production()
        return settings, _database(settings.effective_database_url)
    except (ConfigError, DatabaseUnavailable) as exc:
        _database.clear()  # try again on the next run instead of caching the failure
        fail(str(exc))
        raise  # unreachable: st.stop() raised


def _authenticator(settings: Settings) -> "stauth.Authenticate":
    """Made once per run (it draws the cookie-manager component, whose key must be unique)."""
    import streamlit_authenticator as stauth

    return stauth.Authenticate(
        {"usernames": {}},
        cookie_name=settings.cookie_name,
        cookie_key=settings.resolved_cookie_key(),
        cookie_expiry_days=settings.cookie_expiry_days,
        auto_hash=False,
    )


def _start_session(account: auth.Account) -> None:
    st.session_state[USER_KEY] = str(account.id)
    # The keys the library's cookie model reads (it signs st.session_state["username"]).
    st.session_state["username"] = account.email
    st.session_state["name"] = account.full_name
    st.session_state["email"] = account.email
    st.session_state["roles"] = ["admin"] if account.is_admin else ["user"]
    st.session_state["authentication_status"] = True
    st.session_state["logout"] = False


def _end_session() -> None:
    for key in (USER_KEY, "username", "name", "email", "roles", "authentication_status"):
        st.session_state[key] = None
    st.session_state["logout"] = True  # the library stops reading the cookie in this session


def request_logout() -> None:
    """Button callback: forget the user now; the guard deletes the cookie in the runs that
    follow (a callback cannot draw the cookie component itself)."""
    _end_session()
    st.session_state[LOGGED_OUT_KEY] = True
    st.session_state[COOKIE_PENDING_KEY] = False


def _cookie_account(
    db: Database, authenticator: "stauth.Authenticate", settings: Settings
) -> auth.Account | None:
    token = authenticator.cookie_controller.get_cookie()
    if not token or not isinstance(token, dict) or "username" not in token:
        return None
    account = auth.get_account_by_email(db, str(token["username"]))
    if account is None:
        return None
    # A password change (or reset) ends every cookie issued before it.
    issued_at = float(token["exp_date"]) - settings.cookie_expiry_days * 86400
    if issued_at < account.password_changed_at.timestamp():
        return None
    return account


def current_account(
    db: Database, authenticator: "stauth.Authenticate", settings: Settings
) -> auth.Account | None:
    """The logged-in account: this session's, else the cookie's (re-login on reload)."""
    user_id = st.session_state.get(USER_KEY)
    if user_id:
        account = auth.get_account(db, user_id)
        if account is None:  # deleted or deactivated meanwhile
            _end_session()
        return account
    if st.session_state.get(LOGGED_OUT_KEY):  # logged out in this session: ignore the cookie
        return None
    account = _cookie_account(db, authenticator, settings)
    if account is not None:
        _start_session(account)
    return account


def _log_in(account: auth.Account) -> None:
    _start_session(account)
    st.session_state[LOGGED_OUT_KEY] = False
    st.session_state[COOKIE_PENDING_KEY] = True


def _browser_cookie_user(authenticator: "stauth.Authenticate", settings: Settings) -> str | None:
    """Whose login cookie the browser holds now, as its cookie-manager component last reported
    (None until it has reported, or when there is no valid cookie)."""
    import jwt

    reported = authenticator.cookie_controller.cookie_model.cookie_manager.cookies
    token = reported.get(settings.cookie_name) if isinstance(reported, dict) else None
    if not token:
        return None
    try:
        return str(jwt.decode(token, settings.resolved_cookie_key(), algorithms=["HS256"])["username"])
    except (jwt.PyJWTError, KeyError):
        return None


def _sync_cookie(
    authenticator: "stauth.Authenticate", settings: Settings, account: auth.Account | None
) -> None:
    """Make the browser's cookie match the session.

    The cookie is written and deleted by a component in the page, which only acts once the
    browser has mounted it; a page switch right after login can unmount it first. So the
    write is repeated on each run until the browser reports the cookie back, and a logged-out
    session deletes any cookie the browser still reports.
    """
    in_browser = _browser_cookie_user(authenticator, settings)
    if account is not None:
        if not st.session_state.get(COOKIE_PENDING_KEY):
            return
        if in_browser == account.email:
            st.session_state[COOKIE_PENDING_KEY] = False
        else:
            authenticator.cookie_controller.set_cookie()
    elif st.session_state.get(LOGGED_OUT_KEY) and in_browser is not None:
        authenticator.cookie_controller.delete_cookie()


def _form_error(action: Callable[[], object]) -> object | None:
    try:
        return action()
    except auth.AuthError as exc:
        st.error(str(exc))
    return None


def _login_form(db: Database, settings: Settings) -> auth.Account | None:
    with st.form("login", clear_on_submit=False):
        st.subheader("Log in")
        email = st.text_input("Email", key="login_email", autocomplete="email")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if not submitted:
        return None
    return _form_error(lambda: auth.authenticate(db, email, password, settings.admin_emails))  # type: ignore[return-value]


def _register_form(db: Database, settings: Settings) -> auth.Account | None:
    with st.form("register", clear_on_submit=False):
        st.subheader("Create an account")
        email = st.text_input("Email", key="register_email", autocomplete="email")
        name = st.text_input("Full name", key="register_name", autocomplete="name")
        password = st.text_input("Password", type="password", key="register_password",
                                 help=auth.PASSWORD_POLICY)
        repeat = st.text_input("Repeat password", type="password", key="register_repeat")
        st.caption(f"Password: {auth.PASSWORD_POLICY}")
        submitted = st.form_submit_button("Register", type="primary")
    if not submitted:
        return None
    if password != repeat:
        st.error("The two passwords are not the same.")
        return None
    return _form_error(  # type: ignore[return-value]
        lambda: auth.register(db, email, name, password, settings.admin_emails)
    )


def _forgot_form(db: Database, settings: Settings) -> None:
    with st.form("forgot_password"):
        st.subheader("Forgot your password?")
        email = st.text_input("Email of your account", key="forgot_email")
        submitted = st.form_submit_button("Send me a reset link")
    if submitted:
        try:
            st.info(auth.request_password_reset(db, settings, email))
        except DatabaseUnavailable as exc:
            st.error(str(exc))


def _reset_form(db: Database, settings: Settings, token: str = "") -> None:
    with st.form("reset_password"):
        st.subheader("Choose a new password")
        code = st.text_input("Reset code (from the email)", value=token, key="reset_code")
        password = st.text_input("New password", type="password", key="reset_password",
                                 help=auth.PASSWORD_POLICY)
        repeat = st.text_input("Repeat new password", type="password", key="reset_repeat")
        submitted = st.form_submit_button("Set new password", type="primary")
    if not submitted:
        return
    if password != repeat:
        st.error("The two passwords are not the same.")
        return
    account = _form_error(
        lambda: auth.reset_password_with_token(db, settings.resolved_cookie_key(), code, password)
    )
    if account is not None:
        st.query_params.pop("reset", None)
        st.success("Your password is changed. Log in with it now.")


def login_panel(db: Database, settings: Settings) -> auth.Account | None:
    """Log in / Register / Forgot password. Returns the account when one logs in in this run."""
    holder = st.empty()
    with holder.container():
        st.title("Viba Studio")
        st.caption("AI image studio: derivations, avatars, try-on and scene swaps.")
        reset_token = st.query_params.get("reset", "")
        if reset_token:
            _reset_form(db, settings, reset_token)
        tab_login, tab_register, tab_forgot = st.tabs(["Log in", "Register", "Forgot password"])
        with tab_login:
            account = _login_form(db, settings)
        with tab_register:
            account = _register_form(db, settings) or account
        with tab_forgot:
            _forgot_form(db, settings)
            if settings.smtp_enabled and not reset_token:
                _reset_form(db, settings)
    if account is not None:
        holder.empty()
        _log_in(account)
    return account


def sidebar(account: auth.Account | None) -> None:
    with st.sidebar:
        st.markdown("### Viba Studio")
        for item in nav_items(account):
            st.page_link(item.path, label=item.label, icon=item.icon)
        if account is not None:
            st.divider()
            st.caption(f"Signed in as **{account.full_name}**  \n{account.email}"
                       + ("  \nAdmin" if account.is_admin else ""))
            st.button("Log out", key="viba_logout", on_click=request_logout,
                      icon=":material/logout:")


def guard(title: str, icon: str = ":material/auto_awesome:", admin: bool = False) -> auth.Account:
    """Top of every page: returns the logged-in account or shows the login panel and stops."""
    st.set_page_config(page_title=f"{title} · Viba Studio", page_icon=icon, layout="wide")
    settings, db = boot()
    authenticator = _authenticator(settings)
    try:
        account = current_account(db, authenticator, settings)
        if account is None:
            account = login_panel(db, settings)
    except DatabaseUnavailable as exc:
        fail(str(exc))
        raise
    _sync_cookie(authenticator, settings, account)
    sidebar(account)
    if account is None:
        st.stop()
    if admin and not account.is_admin:
        fail("This page is for admins. Ask an admin if you need access.")
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.toast(flash)
    return account
