"""The audit log: who did what and when (logins, failed logins, password changes, admin actions,
deletions). Entries are written in the same transaction as the change they describe, so an
entry exists exactly when the change happened."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from viba.core.text import search_text
from viba.store.db import Database, capped_count, rowcount
from viba.store.models import AuditEntry, utcnow

LOGIN = "login"
LOGIN_FAILED = "login_failed"
ACCOUNT_LOCKED = "account_locked"
REGISTER = "register"
PASSWORD_CHANGED = "password_changed"
PASSWORD_RESET = "password_reset"
TEMPORARY_PASSWORD = "admin_temporary_password"
ADMIN_GRANTED = "admin_granted"
ADMIN_REVOKED = "admin_revoked"
VERIFIED_SET = "admin_verified_set"
UNLOCKED = "admin_unlocked"
DEACTIVATED = "admin_deactivated"
REACTIVATED = "admin_reactivated"
GENERATION_DELETED = "generation_deleted"
LOGOUT = "logout"
SESSIONS_ENDED = "sessions_ended"
BAD_COOKIE = "bad_cookie"
LIMITS_SET = "admin_limits_set"
MODEL_ADOPTED = "admin_model_adopted"
MODEL_RETIRED = "admin_model_retired"
MODEL_HIDDEN = "admin_model_hidden"
BOARD_SHARED = "board_shared"
BOARD_UNSHARED = "board_unshared"
BOARD_DELETED = "board_deleted"
MODEL_RIGHTS_SET = "admin_model_rights_set"
SSO_LOGIN = "sso_login"
SSO_REFUSED = "sso_refused"
SSO_LINKED = "sso_linked"
SSO_UNLINKED = "sso_unlinked"

ACTIONS = (
    LOGIN,
    LOGIN_FAILED,
    ACCOUNT_LOCKED,
    REGISTER,
    PASSWORD_CHANGED,
    PASSWORD_RESET,
    TEMPORARY_PASSWORD,
    ADMIN_GRANTED,
    ADMIN_REVOKED,
    VERIFIED_SET,
    UNLOCKED,
    DEACTIVATED,
    REACTIVATED,
    GENERATION_DELETED,
    LOGOUT,
    SESSIONS_ENDED,
    BAD_COOKIE,
    LIMITS_SET,
    MODEL_ADOPTED,
    MODEL_RETIRED,
    MODEL_HIDDEN,
    BOARD_SHARED,
    BOARD_UNSHARED,
    BOARD_DELETED,
    MODEL_RIGHTS_SET,
    SSO_LOGIN,
    SSO_REFUSED,
    SSO_LINKED,
    SSO_UNLINKED,
)


def prune(db: Database, days: int, batch: int = 5000) -> int:
    """Delete the entries older than `days` (VIBA_AUDIT_RETENTION_DAYS), in batches so that
    a first prune of a big log holds no long lock. Returns how many."""
    cutoff = utcnow() - timedelta(days=days)
    total = 0
    while True:
        with db.session() as s:
            ids = select(AuditEntry.id).where(AuditEntry.created_at < cutoff).limit(batch)
            count = rowcount(s.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids))))
        total += count
        if count < batch:
            return total


def record(
    s: Session,
    action: str,
    *,
    actor_id: uuid.UUID | None = None,
    actor_email: str | None = None,
    target_user_id: uuid.UUID | None = None,
    generation_id: uuid.UUID | None = None,
    **details: Any,
) -> None:
    """Add an entry to the caller's transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    s.add(
        AuditEntry(
            action=action,
            actor_id=actor_id,
            actor_email=actor_email,
            target_user_id=target_user_id,
            generation_id=generation_id,
            details=details,
            created_at=utcnow(),
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    actions: tuple[str, ...] = ()
    email: str = ""  # part of the actor's email
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        search_text(self.email)

    def apply(self, query: Select) -> Select:
        if self.actions:
            query = query.where(AuditEntry.action.in_(self.actions))
        if self.email.strip():
            query = query.where(
                func.lower(AuditEntry.actor_email).contains(
                    self.email.strip().lower(), autoescape=True
                )
            )
        if self.since is not None:
            query = query.where(AuditEntry.created_at >= self.since)
        if self.until is not None:
            query = query.where(AuditEntry.created_at < self.until)
        return query


@dataclass(frozen=True)
class AuditRow:
    id: int
    created_at: datetime
    action: str
    actor_email: str | None
    target_user_id: uuid.UUID | None
    generation_id: uuid.UUID | None
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "time (UTC)": f"{self.created_at:%Y-%m-%d %H:%M:%S}",
            "action": self.action,
            "by": self.actor_email or "",
            "target user": str(self.target_user_id or ""),
            "generation": str(self.generation_id or ""),
            "details": self.details or "",
        }


def _row(e: AuditEntry) -> AuditRow:
    return AuditRow(
        e.id,
        e.created_at,
        e.action,
        e.actor_email,
        e.target_user_id,
        e.generation_id,
        dict(e.details or {}),
    )


def entries(
    s: Session, filters: AuditFilter = AuditFilter(), offset: int = 0, limit: int = 50
) -> tuple[list[AuditRow], int]:
    """A page of entries, newest first, and how many match, in the caller's session
    (admins only: viba.studio.admin_users checks the role in that session first)."""
    query = filters.apply(select(AuditEntry))
    total = capped_count(s, filters.apply(select(AuditEntry.id)), max(0, offset) + limit)
    rows = s.scalars(
        query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .offset(max(0, offset))
        .limit(limit)
    ).all()
    return [_row(r) for r in rows], int(total)


def iter_entries(s: Session, filters: AuditFilter) -> Iterator[AuditRow]:
    """Every matching entry, newest first, read in batches (CSV export)."""
    query = filters.apply(select(AuditEntry)).order_by(
        AuditEntry.created_at.desc(), AuditEntry.id.desc()
    )
    for entry in s.scalars(query.execution_options(yield_per=1000)):
        yield _row(entry)
