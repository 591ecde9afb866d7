"""The login cookie: the only module that touches streamlit-authenticator.

The cookie holds one JWT (HS256, signed with VIBA_COOKIE_KEY) that names a server-side session
(viba.accounts.sessions) and when it expires; the session row decides whether it still logs
anyone in.
The browser stores and deletes it through the cookie-manager component that the library's
Authenticate draws (key "init"), which we drive directly: the library's own token signs a
username, which cannot be revoked. The request's cookie is read from st.context.cookies.

A cookie set by JavaScript cannot be HttpOnly. It is SameSite=Strict, and Secure whenever the
page is served over https (Render's proxy says so in X-Forwarded-Proto).

Make one SessionCookie per script run (it draws the component, whose key must be unique), in a
fixed container, so the 'set' / 'delete' components coming and going do not shift the page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
import streamlit as st

from viba.core.config import Settings

ALGORITHM = "HS256"


@dataclass(frozen=True)
class CookieLogin:
    """What a valid login cookie says: the session it names."""

    session_id: uuid.UUID


class BadCookie(Exception):
    """A login cookie is there but is not one of ours (forged, tampered, another key)."""


def decode(settings: Settings, token: str) -> CookieLogin | None:
    """None for an expired token; BadCookie for anything we did not sign."""
    try:
        payload = jwt.decode(
            token,
            settings.resolved_cookie_key(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sid"]},
        )
        return CookieLogin(uuid.UUID(str(payload["sid"])))
    except jwt.ExpiredSignatureError:
        return None
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BadCookie(type(exc).__name__) from None


def read(settings: Settings) -> CookieLogin | None:
    """The session the request's cookie names (None: no cookie, or an expired one), read from
    the request itself (no component). Raises BadCookie for a cookie that is not valid."""
    token = st.context.cookies.get(settings.cookie_name)
    if not token:
        return None
    return decode(settings, token)


class SessionCookie:
    """The cookie-manager component, drawn only while the browser's cookie must change (its
    first report of the browser's cookies reruns the page, so drawing it on every page would
    run every page twice)."""

    def __init__(self, settings: Settings) -> None:
        import streamlit_authenticator as stauth

        self._settings = settings
        auth = stauth.Authenticate(
            {"usernames": {}},
            cookie_name=settings.cookie_name,
            cookie_key=settings.resolved_cookie_key(),
            cookie_expiry_days=settings.cookie_expiry_days,
            auto_hash=False,
        )
        self._manager: Any = auth.cookie_controller.cookie_model.cookie_manager

    def browser_session(self) -> uuid.UUID | None:
        """The session the browser's cookie names now, as the component last reported it
        (None until it has reported, or when there is no valid cookie)."""
        token = self._reported()
        if not token:
            return None
        try:
            login = decode(self._settings, token)
        except BadCookie:
            return None
        return login.session_id if login else None

    def browser_has_cookie(self) -> bool:
        return bool(self._reported())

    def _reported(self) -> str | None:
        reported = self._manager.cookies
        token = reported.get(self._settings.cookie_name) if isinstance(reported, dict) else None
        return str(token) if token else None

    def write(self, session_id: uuid.UUID, expires_at: datetime) -> None:
        """Ask the browser to store the cookie for this session."""
        token = jwt.encode(
            {"sid": str(session_id), "exp": expires_at},
            self._settings.resolved_cookie_key(),
            algorithm=ALGORITHM,
        )
        self._manager.set(
            self._settings.cookie_name,
            token,
            key="set",
            expires_at=expires_at,  # aware: its ISO text carries +00:00
            secure=served_over_https(),
            same_site="strict",
        )

    def delete(self) -> None:
        self._manager.delete(self._settings.cookie_name, key="delete")


def served_over_https() -> bool:
    headers = st.context.headers
    proto = (headers.get("X-Forwarded-Proto") or "").split(",")[0].strip().lower()
    return proto == "https" or (st.context.url or "").startswith("https://")
