"""This browser session's state: one plain SessionBox object in st.session_state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import streamlit as st

from viba.accounts.account import Account

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
    session_id: uuid.UUID | None = None  # the server-side session (viba.accounts.sessions)
    session_expires: datetime | None = None
    logged_out: bool = False  # logged out in this session: ignore the cookie
    cookie_pending: bool = False  # the browser has not yet reported the new cookie back
    form_message: tuple[str, str, str] | None = None  # (form, kind, text)
    flash: str | None = None
    model_choices: dict[str, str] | None = None
    feature_options: dict[str, dict[str, Any]] | None = None  # viba.studio.preferences
    watched_jobs: dict[uuid.UUID, str] | None = None  # viba.web.job_watch: running, by id
    watching: str | None = None  # viba.web.job_watch: the title of the page last run
    # viba.web.feature_form: the jobs each feature's form queued since its page last ran whole
    queued_here: dict[str, list[uuid.UUID]] | None = None
    prefill: Any = None  # a viba.studio.prefill.Prefill: the next form's inputs and options
    compare: list[tuple[str, str]] | None = None  # (generation id, output key), History
    language: str | None = None  # chosen on the switch, or the account's (viba.i18n)
    language_of: str | None = None  # the account whose language was taken over
    # What the browser asks for (Accept-Language), read once: a session's headers are its
    # websocket's and do not change, and reading st.context.headers on every t() of a page
    # run was a fifth of that run's CPU (bench/page_run.py).
    browser_language: str | None = None
    gemini_key: str | None = None  # the user's own key (in memory; see viba.accounts.keyvault)
    key_loaded: bool = False  # the remembered key was looked up after login
    key_remembered: bool = False
    key_unreadable: bool = False  # a remembered key no longer decrypts (server secret changed)

    def log_in(
        self,
        account: Account,
        session_id: uuid.UUID,
        expires: datetime | None,
        write_cookie: bool = True,
    ) -> None:
        """This browser is now logged in to that session (write_cookie: ask the browser to
        store its cookie; False when the cookie is what logged it in)."""
        self.model_choices = self.feature_options = self.watched_jobs = None
        self.forget_key()
        self.user_id = str(account.id)
        self.session_id, self.session_expires = session_id, expires
        self.logged_out = False
        self.cookie_pending = write_cookie

    def forget_key(self) -> None:
        self.gemini_key = None
        self.key_loaded = self.key_remembered = self.key_unreadable = False

    def use_key(self, key: str | None, remembered: bool) -> None:
        self.gemini_key, self.key_remembered, self.key_unreadable = key, remembered, False
        self.key_loaded = True

    def log_out(self) -> None:
        self.user_id = None
        self.session_id = self.session_expires = None
        self.model_choices = self.feature_options = self.watched_jobs = None
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
