"""The addresses of stored images for one login session (served by viba.web.media).

`/images/<kind>/<key>?s=<session>&t=<signature>`: the signature (HMAC-SHA256, a key derived
from VIBA_COOKIE_KEY) binds the address to the session and the image, so an address works for
that login only, and only while it lasts (the route checks the session too).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from functools import lru_cache

from viba.core.config import Settings

_routes_mounted = False  # app.py mounts the route: `streamlit run Home.py` alone does not


def routes_mounted() -> None:
    """Called by app.py: this process serves /images/, so pages may show images by address."""
    global _routes_mounted
    _routes_mounted = True


def served() -> bool:
    return _routes_mounted


@lru_cache(maxsize=8)
def _signing_key(cookie_key: str) -> bytes:
    return hmac.new(cookie_key.encode(), b"viba-media-v1", hashlib.sha256).digest()


def signature(settings: Settings, kind: str, key: str, session_id: uuid.UUID) -> str:
    message = f"{kind}:{key}:{session_id.hex}".encode()
    digest = hmac.new(_signing_key(settings.resolved_cookie_key()), message, hashlib.sha256)
    return digest.hexdigest()[:32]


def signed_session(
    settings: Settings, kind: str, key: str, sid: str, token: str
) -> uuid.UUID | None:
    """The login session an address names (`s=<sid>&t=<token>`), when the token is its
    signature of (kind, key), compared in constant time; else None. Whether that session is
    still live is the route's to ask."""
    try:
        session_id = uuid.UUID(hex=sid)
    except ValueError:
        return None
    if not hmac.compare_digest(signature(settings, kind, key, session_id), token):
        return None
    return session_id


def address(settings: Settings, session_id: uuid.UUID, key: str, kind: str = "thumb") -> str:
    """The address of a stored image (kind: thumb or image) for this login session."""
    token = signature(settings, kind, key, session_id)
    return f"/images/{kind}/{key}?s={session_id.hex}&t={token}"
