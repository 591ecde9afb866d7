"""A user's own Gemini API key, remembered only when they ask: Fernet-encrypted in the users row
with a key derived (HKDF-SHA256) from the server secret VIBA_COOKIE_KEY. Never logged, never
shown back in full. Changing VIBA_COOKIE_KEY makes stored keys unreadable: the user is asked
to enter theirs again."""

from __future__ import annotations

import base64
import uuid

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update

from viba.core.errors import UserError
from viba.store.db import Database
from viba.store.models import User

MIN_KEY_LENGTH = 20
MAX_KEY_LENGTH = 200


class ApiKeyError(UserError, ValueError):
    """The key cannot be used; the message is for the user."""


def _fernet(server_secret: str) -> Fernet:
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"viba-studio", info=b"user gemini api key v1"
    ).derive(server_secret.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


def clean_key(api_key: str) -> str:
    key = (api_key or "").strip()
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH or any(c.isspace() for c in key):
        raise ApiKeyError(
            "That does not look like a Gemini API key (one line, no spaces, "
            "from aistudio.google.com/apikey)."
        )
    return key


def mask(api_key: str | None) -> str:
    """What the UI shows of a key: its last four characters."""
    if not api_key:
        return ""
    return "…" + api_key[-4:]


def encrypt(server_secret: str, api_key: str) -> str:
    return _fernet(server_secret).encrypt(api_key.encode()).decode()


def decrypt(server_secret: str, token: str) -> str | None:
    try:
        return _fernet(server_secret).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def remember(db: Database, server_secret: str, user_id: uuid.UUID, api_key: str) -> None:
    token = encrypt(server_secret, clean_key(api_key))
    with db.session() as s:
        s.execute(update(User).where(User.id == user_id).values(gemini_key_encrypted=token))


def forget(db: Database, user_id: uuid.UUID) -> None:
    with db.session() as s:
        s.execute(update(User).where(User.id == user_id).values(gemini_key_encrypted=None))


def load(db: Database, server_secret: str, user_id: uuid.UUID) -> tuple[str | None, bool]:
    """(the remembered key or None, whether a stored key could not be decrypted)."""
    with db.session() as s:
        token = s.scalar(select(User.gemini_key_encrypted).where(User.id == user_id))
    if not token:
        return None, False
    key = decrypt(server_secret, token)
    return key, key is None
