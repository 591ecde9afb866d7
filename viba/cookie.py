"""The login cookie: the only module that touches streamlit-authenticator.

The library (0.4.2) signs and verifies the re-login cookie (its CookieModel: a JWT signed with
VIBA_COOKIE_KEY, read server-side from st.context.cookies) and writes and deletes it in the
browser through its cookie-manager component. Login, registration, lockout and password reset
are viba.auth's: the library keeps credentials in an in-memory dict.

Make one SessionCookie per script run (it draws the component, whose key must be unique), in a
fixed container, so the 'set' / 'delete' components coming and going do not shift the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
import streamlit as st

from viba.auth import Account
from viba.config import Settings


@dataclass(frozen=True)
class CookieLogin:
    """What a valid login cookie says."""

    email: str
    issued_at: float  # Unix time


class SessionCookie:
    def __init__(self, settings: Settings) -> None:
        import streamlit_authenticator as stauth

        self._settings = settings
        self._auth = stauth.Authenticate(
            {"usernames": {}},
            cookie_name=settings.cookie_name,
            cookie_key=settings.resolved_cookie_key(),
            cookie_expiry_days=settings.cookie_expiry_days,
            auto_hash=False,
        )

    def read(self) -> CookieLogin | None:
        """The login the request's cookie carries (None: none, or not valid)."""
        st.session_state["logout"] = False  # the library's get_cookie() checks it
        token = self._auth.cookie_controller.get_cookie()
        if not isinstance(token, dict) or "username" not in token or "exp_date" not in token:
            return None
        issued_at = float(token["exp_date"]) - self._settings.cookie_expiry_days * 86400
        return CookieLogin(str(token["username"]), issued_at)

    def browser_email(self) -> str | None:
        """Whose login cookie the browser holds now, as the component last reported it (None
        until it has reported, or when there is no valid cookie)."""
        reported: Any = self._auth.cookie_controller.cookie_model.cookie_manager.cookies
        token = reported.get(self._settings.cookie_name) if isinstance(reported, dict) else None
        if not token:
            return None
        try:
            payload = jwt.decode(token, self._settings.resolved_cookie_key(), algorithms=["HS256"])
            return str(payload["username"])
        except (jwt.PyJWTError, KeyError):
            return None

    def write(self, account: Account) -> None:
        """Ask the browser to store a fresh cookie for this account."""
        _library_session(account)
        self._auth.cookie_controller.set_cookie()

    def delete(self) -> None:
        _library_session(None)
        self._auth.cookie_controller.delete_cookie()

    def forget(self) -> None:
        """Tell the library nobody is logged in (it reads st.session_state)."""
        _library_session(None)


def _library_session(account: Account | None) -> None:
    """The st.session_state keys the library's cookie model reads (it signs "username")."""
    state = st.session_state
    state["username"] = account.email if account else None
    state["name"] = account.full_name if account else None
    state["email"] = account.email if account else None
    state["roles"] = (["admin"] if account.is_admin else ["user"]) if account else None
    state["authentication_status"] = True if account else None
    state["logout"] = account is None
