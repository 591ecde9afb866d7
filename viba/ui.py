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

    from viba.gemini import GeminiConfig

log = logging.getLogger(__name__)

SESSION_KEY = "viba_session"


@dataclass
class SessionBox:
    """This browser session's login state, one plain object in st.session_state.

    Callbacks change its attributes instead of writing st.session_state keys: every
    st.session_state access is a point where Streamlit stops a run for a newer rerun request
    (the cookie manager sends one right after login and logout), so a callback that wrote
    several keys after the slow bcrypt check could be cut off half-way and lose the login.
    Attribute changes on this object are plain Python and cannot be interrupted.
    """

    user_id: str | None = None
    logged_out: bool = False  # logged out in this session: ignore the cookie
    cookie_pending: bool = False  # the browser has not yet reported the new cookie back
    form_message: tuple[str, str, str] | None = None  # (form, kind, text)
    flash: str | None = None
    model_choices: dict[str, str] | None = None
    gemini_key: str | None = None  # the user's own key (in memory; see viba.keyvault)
    key_loaded: bool = False  # the remembered key was looked up after login
    key_remembered: bool = False
    key_unreadable: bool = False  # a remembered key no longer decrypts (server secret changed)

    def log_in(self, account: auth.Account) -> None:
        self.model_choices = None
        self.forget_key()
        self.user_id = str(account.id)
        self.logged_out = False
        self.cookie_pending = True

    def forget_key(self) -> None:
        self.gemini_key = None
        self.key_loaded = self.key_remembered = self.key_unreadable = False

    def log_out(self) -> None:
        self.user_id = None
        self.model_choices = None
        self.forget_key()
        self.logged_out = True
        self.cookie_pending = False


def session() -> SessionBox:
    box = st.session_state.get(SESSION_KEY)
    if not isinstance(box, SessionBox):
        box = SessionBox()
        st.session_state[SESSION_KEY] = box
    return box


def flash(message: str) -> None:
    """A toast for the next run (callbacks use it to report what they did)."""
    session().flash = message


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


def _library_session(account: auth.Account | None) -> None:
    """The st.session_state keys the library's cookie model reads (it signs "username")."""
    state = st.session_state
    state["username"] = account.email if account else None
    state["name"] = account.full_name if account else None
    state["email"] = account.email if account else None
    state["roles"] = (["admin"] if account.is_admin else ["user"]) if account else None
    state["authentication_status"] = True if account else None
    state["logout"] = account is None


def request_logout() -> None:
    """Button callback: forget the user now; the guard deletes the cookie in the runs that
    follow (a callback cannot draw the cookie component itself)."""
    session().log_out()


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
    box = session()
    if box.user_id:
        account = auth.get_account(db, box.user_id)
        if account is None:  # deleted or deactivated meanwhile
            box.log_out()
        return account
    if box.logged_out:
        return None
    st.session_state["logout"] = False  # the library's get_cookie() checks it
    account = _cookie_account(db, authenticator, settings)
    if account is not None:
        box.user_id = str(account.id)
    return account


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
    box = session()
    in_browser = _browser_cookie_user(authenticator, settings)
    if account is not None:
        if not box.cookie_pending:
            return
        if in_browser == account.email:
            box.cookie_pending = False
        else:
            _library_session(account)
            authenticator.cookie_controller.set_cookie()
    elif box.logged_out:
        _library_session(None)
        if in_browser is not None:
            authenticator.cookie_controller.delete_cookie()


# --- forms ---------------------------------------------------------------------------------
# Each form acts in its submit button's callback and reports through the SessionBox: the
# widget values are read first, then the slow work (bcrypt, the database), then only plain
# attribute changes, so a rerun requested meanwhile cannot cut a login in half.


def show_form_message(form: str) -> None:
    box = session()
    message = box.form_message
    if message and message[0] == form:
        box.form_message = None
        getattr(st, message[1])(message[2])


def run_action(form: str, action: Callable[[], str | None]) -> bool:
    """Run a form's action in its callback; its AuthError or database error becomes the form's
    message. A returned string is shown as success."""
    box = session()
    try:
        done = action()
    except (auth.AuthError, DatabaseUnavailable) as exc:
        box.form_message = (form, "error", str(exc))
        return False
    if done:
        box.form_message = (form, "success", done)
    return True


def _submit_login(db: Database, settings: Settings) -> None:
    box = session()
    email = st.session_state.get("login_email", "")
    password = st.session_state.get("login_password", "")

    def act() -> None:
        box.log_in(auth.authenticate(db, email, password, settings.admin_emails))

    if run_action("login", act):
        st.session_state["login_password"] = ""


def _submit_register(db: Database, settings: Settings) -> None:
    box = session()
    values = {k: st.session_state.get(f"register_{k}", "")
              for k in ("email", "name", "password", "repeat")}

    def act() -> None:
        if values["password"] != values["repeat"]:
            raise auth.AuthError("The two passwords are not the same.")
        box.log_in(auth.register(db, values["email"], values["name"], values["password"],
                                 settings.admin_emails))

    if run_action("register", act):
        st.session_state["register_password"] = st.session_state["register_repeat"] = ""


def _submit_forgot(db: Database, settings: Settings) -> None:
    box = session()
    email = st.session_state.get("forgot_email", "")

    def act() -> None:
        box.form_message = ("forgot_password", "info",
                            auth.request_password_reset(db, settings, email))

    run_action("forgot_password", act)


def _submit_reset(db: Database, settings: Settings) -> None:
    code = st.session_state.get("reset_code", "")
    password = st.session_state.get("reset_new_password", "")
    repeat = st.session_state.get("reset_repeat", "")

    def act() -> str:
        if password != repeat:
            raise auth.AuthError("The two passwords are not the same.")
        auth.reset_password_with_token(db, settings.resolved_cookie_key(), code, password)
        return "Your password is changed. Log in with it now."

    if run_action("reset_password", act):
        st.query_params.pop("reset", None)
        st.session_state["reset_new_password"] = st.session_state["reset_repeat"] = ""


def _login_form(db: Database, settings: Settings) -> None:
    with st.form("login"):
        st.subheader("Log in")
        st.text_input("Email", key="login_email", autocomplete="email")
        st.text_input("Password", type="password", key="login_password")
        st.form_submit_button("Log in", type="primary", on_click=_submit_login,
                              args=(db, settings))
    show_form_message("login")


def _register_form(db: Database, settings: Settings) -> None:
    with st.form("register"):
        st.subheader("Create an account")
        st.text_input("Email", key="register_email", autocomplete="email")
        st.text_input("Full name", key="register_name", autocomplete="name")
        st.text_input("Password", type="password", key="register_password",
                      help=auth.PASSWORD_POLICY)
        st.text_input("Repeat password", type="password", key="register_repeat")
        st.caption(f"Password: {auth.PASSWORD_POLICY}")
        st.form_submit_button("Register", type="primary", on_click=_submit_register,
                              args=(db, settings))
    show_form_message("register")


def _forgot_form(db: Database, settings: Settings) -> None:
    with st.form("forgot_password"):
        st.subheader("Forgot your password?")
        st.text_input("Email of your account", key="forgot_email")
        st.form_submit_button("Send me a reset link", on_click=_submit_forgot,
                              args=(db, settings))
    show_form_message("forgot_password")


def _reset_form(db: Database, settings: Settings, token: str = "") -> None:
    with st.form("reset_password"):
        st.subheader("Choose a new password")
        if token and not st.session_state.get("reset_code"):
            st.session_state["reset_code"] = token
        st.text_input("Reset code (from the email)", key="reset_code")
        st.text_input("New password", type="password", key="reset_new_password",
                      help=auth.PASSWORD_POLICY)
        st.text_input("Repeat new password", type="password", key="reset_repeat")
        st.form_submit_button("Set new password", type="primary", on_click=_submit_reset,
                              args=(db, settings))
    show_form_message("reset_password")


def login_panel(db: Database, settings: Settings) -> None:
    """Log in / Register / Forgot password (and the reset form a reset link opens)."""
    st.title("Viba Studio")
    st.caption("AI image studio: derivations, avatars, try-on and scene swaps.")
    reset_token = st.query_params.get("reset", "")
    # On top when a reset link was opened, and to show the outcome of a reset.
    message = session().form_message
    reset_on_top = bool(reset_token) or bool(message and message[0] == "reset_password")
    if reset_on_top:
        _reset_form(db, settings, reset_token)
    tab_login, tab_register, tab_forgot = st.tabs(["Log in", "Register", "Forgot password"])
    with tab_login:
        _login_form(db, settings)
    with tab_register:
        _register_form(db, settings)
    with tab_forgot:
        _forgot_form(db, settings)
        if settings.smtp_enabled and not reset_on_top:
            _reset_form(db, settings)


def sidebar(account: auth.Account | None) -> None:
    from viba.i18n import LANG_KEY, LANGUAGES, t

    with st.sidebar:
        st.markdown("### Viba Studio")
        for item in nav_items(account):
            st.page_link(item.path, label=t(item.label), icon=item.icon)
        if account is not None:
            st.divider()
            st.caption(f"Signed in as **{account.full_name}**  \n{account.email}"
                       + ("  \nAdmin" if account.is_admin else ""))
            st.button(t("log_out"), key="viba_logout", on_click=request_logout,
                      icon=":material/logout:")
        st.segmented_control(t("language"), list(LANGUAGES), key=LANG_KEY, default="en",
                             format_func=LANGUAGES.get, selection_mode="single")


def guard(title: str, icon: str = ":material/auto_awesome:", admin: bool = False) -> auth.Account:
    """Top of every page: returns the logged-in account or shows the login panel and stops."""
    st.set_page_config(page_title=f"{title} · Viba Studio", page_icon=icon, layout="wide")
    settings, db = boot()
    # The cookie components live in one container, so that the 'set'/'delete' component
    # coming and going does not shift the page's elements: a shift remounts them, and a
    # remounted form loses what the user had typed or uploaded into it.
    cookie_slot = st.container()
    with cookie_slot:
        authenticator = _authenticator(settings)
    try:
        account = current_account(db, authenticator, settings)
        if account is None:
            with st.container():
                login_panel(db, settings)
    except DatabaseUnavailable as exc:
        fail(str(exc))
        raise
    with cookie_slot:
        _sync_cookie(authenticator, settings, account)
    sidebar(account)
    if account is None:
        st.stop()
    if admin and not account.is_admin:
        fail("This page is for admins. Ask an admin if you need access.")
    box = session()
    if box.flash:
        message, box.flash = box.flash, None
        st.toast(message)
    return account


def model_choices(db: Database, account: auth.Account) -> dict[str, str]:
    """The account's model per step: kept in the session, loaded (and migrated) from the row
    on first use after login."""
    from viba import preferences

    box = session()
    if box.model_choices is not None:
        return dict(box.model_choices)
    choices, notes = preferences.load_model_choices(db, account.id)
    box.model_choices = dict(choices)
    for note in notes:
        st.toast(note, icon=":material/swap_horiz:")
    return choices


def remember_model_choices(choices: dict[str, str]) -> None:
    session().model_choices = dict(choices)


def gemini_config(settings: Settings) -> "GeminiConfig":
    """The engine configuration for this session (the user's own key first)."""
    from viba.gemini import GeminiConfig

    return GeminiConfig.from_settings(settings, user_gemini_key(settings))


def user_gemini_key(settings: Settings) -> str | None:
    """The user's own key: set in this session, else remembered on their row."""
    from viba import keyvault

    box = session()
    if box.user_id and not box.key_loaded:
        db = boot()[1]
        key, unreadable = keyvault.load(db, settings.resolved_cookie_key(), uuid.UUID(box.user_id))
        box.gemini_key, box.key_remembered, box.key_unreadable = key, key is not None, unreadable
        box.key_loaded = True
    return box.gemini_key
