"""The login panel: Log in, Register, Forgot password, and the reset form a reset link opens.

Each form acts in its submit button's callback and reports through the SessionBox: the widget
values are read first, then the slow work (bcrypt, the database), then only plain attribute
changes, so a rerun requested meanwhile cannot cut a login in half.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import streamlit as st

from viba.accounts import auth, sessions, sso
from viba.accounts.account import Account, AuthError
from viba.core.config import Settings
from viba.core.errors import UNEXPECTED, UserError
from viba.core.text import md_escape
from viba.store.db import Database
from viba.web.browser_session import SessionBox, session
from viba.web.language import t

log = logging.getLogger(__name__)


def show_form_message(form: str) -> None:
    box = session()
    message = box.form_message
    if message and message[0] == form:
        box.form_message = None
        getattr(st, message[1])(md_escape(t(message[2])))


def run_action(form: str, action: Callable[[], str | None]) -> bool:
    """Run a form's action in its callback; a refusal becomes the form's message (a bug too,
    as one sentence, logged). A returned string is shown as success."""
    box = session()
    try:
        done = action()
    except UserError as exc:
        box.form_message = (form, "error", str(exc))
        return False
    except Exception:
        log.exception("the %s form failed", form)
        box.form_message = (form, "error", UNEXPECTED)
        return False
    if done:
        box.form_message = (form, "success", done)
    return True


def start_session(db: Database, settings: Settings, box: SessionBox, account: Account) -> None:
    """This browser is now logged in as the account: a new server-side session, whose cookie
    the guard writes in the runs that follow."""
    headers = st.context.headers
    session_id, expires = sessions.start(
        db,
        account.id,
        timedelta(days=settings.cookie_expiry_days),
        user_agent=headers.get("User-Agent"),
        ip_address=st.context.ip_address,
    )
    box.log_in(account, session_id, expires)


SSO_REFUSED = "sso_refused"


def sso_configured(settings: Settings) -> bool:
    """Sign in with Google Workspace / OIDC is offered: VIBA_SSO_DOMAINS names the domains
    and .streamlit/secrets.toml has Streamlit's [auth] section."""
    if not settings.sso_domains:
        return False
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def sso_account(
    db: Database, settings: Settings, not_before: Callable[[], datetime] | None = None
) -> Account | None:
    """A browser the provider signed in (st.login) and this app not yet: its account, on a
    server-side session of its own; a refusal is the login form's message (and is not tried
    again in this browser session). not_before: when the session the browser's cookie names
    ended (logged out, ended everywhere, expired; read only for a provider's sign-in): one
    from before then is ended too, not turned into a new session."""
    if not sso_configured(settings) or not _provider_signed_in():
        return None
    box = session()
    if box.logged_out or (not_before is not None and not _signed_in_since(not_before())):
        st.logout()  # logged out here or elsewhere: the provider's sign-in goes too
        return None
    if st.session_state.get(SSO_REFUSED):
        return None
    claims = {k: st.user.get(k) for k in ("iss", "sub", "email", "email_verified", "name")}
    try:
        account = sso.sign_in(db, claims, settings.sso_domains, settings.admin_emails)
    except AuthError as exc:
        box.form_message = ("login", "error", str(exc))
        st.session_state[SSO_REFUSED] = True
        return None
    start_session(db, settings, box, account)
    return account


def _provider_signed_in() -> bool:
    """The provider has signed this browser in (st.login). Read as a key: st.user without
    [auth] configured (or under AppTest) has no is_logged_in attribute."""
    return bool(st.user.get("is_logged_in"))


def _signed_in_since(moment: datetime) -> bool:
    """The provider's sign-in (its ID token's iat) is from `moment` or later."""
    issued = st.user.get("iat")
    if isinstance(issued, bool) or not isinstance(issued, int | float):
        return False  # unknown: not fresh
    return issued >= int(moment.timestamp())


LINK_CHECKED = "sso_link_checked"


def finish_link(db: Database, settings: Settings, account: Account) -> None:
    """A logged-in browser the provider has signed in: finish the link Profile asked for
    (sso.finish_link), once per browser session; the result is the next toast. Every page
    run passes here: after its first, it only reads one session-state key."""
    if st.session_state.get(LINK_CHECKED):
        return
    st.session_state[LINK_CHECKED] = True
    if not sso_configured(settings) or not _provider_signed_in():
        return
    box = session()
    if box.session_id is None:
        return
    claims = {k: st.user.get(k) for k in ("iss", "sub", "email", "email_verified", "name")}
    try:
        linked = sso.finish_link(db, account.id, box.session_id, claims, settings.sso_domains)
    except AuthError as exc:
        box.flash = str(exc)
        return
    if linked:
        box.flash = "This account now also signs in with Google Workspace."


def _submit_login(db: Database, settings: Settings) -> None:
    box = session()
    email = st.session_state.get("login_email", "")
    password = st.session_state.get("login_password", "")

    def act() -> None:
        start_session(
            db, settings, box, auth.authenticate(db, email, password, settings.admin_emails)
        )

    if run_action("login", act):
        st.session_state["login_password"] = ""


def _submit_register(db: Database, settings: Settings) -> None:
    box = session()
    values = {
        k: st.session_state.get(f"register_{k}", "")
        for k in ("email", "name", "password", "repeat")
    }

    def act() -> None:
        if values["password"] != values["repeat"]:
            raise AuthError("The two passwords are not the same.")
        start_session(
            db,
            settings,
            box,
            auth.register(
                db, values["email"], values["name"], values["password"], settings.admin_emails
            ),
        )

    if run_action("register", act):
        st.session_state["register_password"] = st.session_state["register_repeat"] = ""


def _submit_forgot(db: Database, settings: Settings) -> None:
    box = session()
    email = st.session_state.get("forgot_email", "")

    def act() -> None:
        box.form_message = (
            "forgot_password",
            "info",
            auth.request_password_reset(db, settings, email),
        )

    run_action("forgot_password", act)


def _submit_reset(db: Database, settings: Settings) -> None:
    code = st.session_state.get("reset_code", "")
    password = st.session_state.get("reset_new_password", "")
    repeat = st.session_state.get("reset_repeat", "")

    def act() -> str:
        if password != repeat:
            raise AuthError("The two passwords are not the same.")
        auth.reset_password_with_token(db, settings.resolved_cookie_key(), code, password)
        return "Your password is changed. Log in with it now."

    if run_action("reset_password", act):
        st.query_params.pop("reset", None)
        st.session_state["reset_new_password"] = st.session_state["reset_repeat"] = ""


def _login_form(db: Database, settings: Settings) -> None:
    with st.form("login"):
        st.subheader(t("Log in"))
        st.text_input(t("Email"), key="login_email", autocomplete="email")
        st.text_input(t("Password"), type="password", key="login_password")
        st.form_submit_button(
            t("Log in"), type="primary", on_click=_submit_login, args=(db, settings)
        )
    if sso_configured(settings) and st.button(
        t("Sign in with Google Workspace"), icon=":material/badge:", key="sso_login"
    ):
        session().logged_out = False
        st.session_state.pop(SSO_REFUSED, None)
        st.login()
    show_form_message("login")


def _register_form(db: Database, settings: Settings) -> None:
    with st.form("register"):
        st.subheader(t("Create an account"))
        st.text_input(t("Email"), key="register_email", autocomplete="email")
        st.text_input(t("Full name"), key="register_name", autocomplete="name")
        st.text_input(
            t("Password"), type="password", key="register_password", help=t(auth.PASSWORD_POLICY)
        )
        st.text_input(t("Repeat password"), type="password", key="register_repeat")
        st.caption(t("Password: {policy}").format(policy=t(auth.PASSWORD_POLICY)))
        st.form_submit_button(
            t("Register"), type="primary", on_click=_submit_register, args=(db, settings)
        )
    show_form_message("register")


def _forgot_form(db: Database, settings: Settings) -> None:
    with st.form("forgot_password"):
        st.subheader(t("Forgot your password?"))
        st.text_input(t("Email of your account"), key="forgot_email")
        st.form_submit_button(
            t("Send me a reset link"), on_click=_submit_forgot, args=(db, settings)
        )
    show_form_message("forgot_password")


def _reset_form(db: Database, settings: Settings, token: str = "") -> None:
    with st.form("reset_password"):
        st.subheader(t("Choose a new password"))
        if token and not st.session_state.get("reset_code"):
            st.session_state["reset_code"] = token
        st.text_input(t("Reset code (from the email)"), key="reset_code")
        st.text_input(
            t("New password"),
            type="password",
            key="reset_new_password",
            help=t(auth.PASSWORD_POLICY),
        )
        st.text_input(t("Repeat new password"), type="password", key="reset_repeat")
        st.form_submit_button(
            t("Set new password"), type="primary", on_click=_submit_reset, args=(db, settings)
        )
    show_form_message("reset_password")


def login_panel(db: Database, settings: Settings) -> None:
    """Log in / Register / Forgot password (and the reset form a reset link opens)."""
    st.title(t("Viba Studio"))
    st.caption(t("AI image studio: derivations, avatars, try-on and scene swaps."))
    reset_token = st.query_params.get("reset", "")
    # On top when a reset link was opened, and to show the outcome of a reset.
    message = session().form_message
    reset_on_top = bool(reset_token) or bool(message and message[0] == "reset_password")
    if reset_on_top:
        _reset_form(db, settings, reset_token)
    tab_login, tab_register, tab_forgot = st.tabs(
        [t("Log in"), t("Register"), t("Forgot password")]
    )
    with tab_login:
        _login_form(db, settings)
    with tab_register:
        _register_form(db, settings)
    with tab_forgot:
        _forgot_form(db, settings)
        if settings.smtp_enabled and not reset_on_top:
            _reset_form(db, settings)
