"""Login sessions on the server: one row per login, checked on every page run.

The login cookie only carries a signed session id (viba.web.cookie); this table decides whether it
still logs anyone in. Logging out ends the session; a password change ends the user's other
sessions; a reset, a temporary password, "log out everywhere", an admin or a deactivation end
them all. A copied cookie replayed after any of these logs nobody in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from viba.accounts.account import Account
from viba.store.db import Database, rowcount
from viba.store.models import User, UserSession, utcnow

SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


@dataclass(frozen=True)
class SessionInfo:
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None


def start(
    db: Database,
    user_id: uuid.UUID,
    lifetime: timedelta,
    user_agent: str | None = None,
    ip_address: str | None = None,
) -> tuple[uuid.UUID, datetime]:
    """A new session for a user who just proved who they are: (its id, when it expires)."""
    now = utcnow()
    row = UserSession(
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        user_agent=_text(user_agent, 300),
        ip_address=_text(ip_address, 64),
    )
    with db.session() as s:
        s.add(row)
        s.flush()
        return row.id, row.expires_at


def _text(value: object, limit: int) -> str | None:
    """A request header as stored: text only, cut to the column's size."""
    return (value[:limit] or None) if isinstance(value, str) else None


def check(db: Database, session_id: uuid.UUID) -> Account | None:
    """The account of a live session (not ended, not expired, its user active), else None."""
    now = utcnow()
    with db.session() as s:
        found = s.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(
                UserSession.id == session_id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > now,
                User.is_active.is_(True),
            )
        ).first()
        if found is None:
            return None
        row, user = found
        if now - row.last_seen_at >= SEEN_EVERY:
            row.last_seen_at = now
        return Account.of(user)


def ended_at(db: Database, session_id: uuid.UUID) -> datetime:
    """When a session that is not live ended: revoked, expired, or (its row gone, or not
    ended at all as far as this says) now."""
    now = utcnow()
    with db.session() as s:
        row = s.get(UserSession, session_id)
    if row is None:
        return now
    if row.revoked_at is not None:
        return row.revoked_at
    return min(row.expires_at, now)


def end(db: Database, session_id: uuid.UUID, reason: str = "logout") -> None:
    with db.session() as s:
        s.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
        )


def end_all(s: Session, user_id: uuid.UUID, reason: str, keep: uuid.UUID | None = None) -> int:
    """End every live session of a user (but `keep`), in the caller's transaction."""
    query = (
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    if keep is not None:
        query = query.where(UserSession.id != keep)
    return rowcount(s.execute(query))


def live(db: Database, user_id: uuid.UUID) -> list[SessionInfo]:
    """A user's live sessions, newest first."""
    with db.session() as s:
        rows = s.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > utcnow(),
            )
            .order_by(UserSession.created_at.desc())
        ).all()
        return [
            SessionInfo(
                r.id, r.created_at, r.last_seen_at, r.expires_at, r.user_agent, r.ip_address
            )
            for r in rows
        ]
