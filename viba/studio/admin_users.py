"""What admins can do with accounts: browse and export users, change their flags, unlock them,
end their sessions, set a temporary password (the reports are viba.studio.admin_reports).

Every function here and there takes the acting Account and checks the role in the database,
in the same transaction as its work (auth.require_admin: a session's Account may be stale, and
a revoked admin loses these powers at once). Changes to accounts write an audit entry in that
transaction too.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from viba.accounts import auth, sessions
from viba.accounts.account import Account, NotAllowed
from viba.core.text import search_text
from viba.store import audit
from viba.store.db import Database
from viba.store.models import GenerationHistory, User, utcnow

PAGE_SIZE = 50


NotAllowed = NotAllowed


@contextmanager
def admin_session(db: Database, actor: Account) -> Iterator[Session]:
    """A session whose first act is the role check."""
    with db.session() as s:
        auth.require_admin(s, actor.id)
        yield s


def page_window(offset: int, limit: int) -> tuple[int, int]:
    return max(0, int(offset)), max(1, min(int(limit), 500))


# --- users --------------------------------------------------------------------------------

USER_STATES = ("all", "active", "deactivated", "locked", "unverified", "admins")
USER_SORTS = ("created", "email", "name", "last login")


@dataclass(frozen=True)
class UserFilter:
    text: str = ""  # part of the email or the name
    state: str = "all"

    def __post_init__(self) -> None:
        search_text(self.text)

    def apply(self, query: Select) -> Select:
        text = self.text.strip().lower()
        if text:
            query = query.where(
                or_(
                    User.email.contains(text, autoescape=True),
                    func.lower(User.full_name).contains(text, autoescape=True),
                )
            )
        if self.state == "active":
            query = query.where(User.is_active.is_(True))
        elif self.state == "deactivated":
            query = query.where(User.is_active.is_(False))
        elif self.state == "locked":
            query = query.where(User.locked_until > utcnow())
        elif self.state == "unverified":
            query = query.where(User.is_verified.is_(False))
        elif self.state == "admins":
            query = query.where(User.is_admin.is_(True))
        return query


@dataclass(frozen=True)
class UserRow:
    id: uuid.UUID
    email: str
    full_name: str
    is_admin: bool
    is_verified: bool
    is_active: bool
    locked_until: datetime | None
    failed_logins: int
    created_at: datetime
    last_login_at: datetime | None
    generations: int

    @property
    def locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > utcnow()


def _user_query(filters: UserFilter, sort: str, descending: bool) -> Select:
    column = {
        "created": User.created_at,
        "email": User.email,
        "name": User.full_name,
        "last login": User.last_login_at,
    }.get(sort, User.created_at)
    order = column.desc() if descending else column.asc()
    tie = User.id.desc() if descending else User.id.asc()
    return filters.apply(select(User)).order_by(order.nulls_last(), tie)


def _user_rows(s: Session, users: list[User]) -> list[UserRow]:
    counts: dict[uuid.UUID, int] = {}
    if users:
        counts = dict(
            s.execute(
                select(GenerationHistory.user_id, func.count())
                .where(GenerationHistory.user_id.in_([u.id for u in users]))
                .group_by(GenerationHistory.user_id)
            ).all()
        )
    return [
        UserRow(
            u.id,
            u.email,
            u.full_name,
            u.is_admin,
            u.is_verified,
            u.is_active,
            u.locked_until,
            u.failed_logins,
            u.created_at,
            u.last_login_at,
            int(counts.get(u.id, 0)),
        )
        for u in users
    ]


def users(
    db: Database,
    actor: Account,
    filters: UserFilter = UserFilter(),
    sort: str = "created",
    descending: bool = True,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> tuple[list[UserRow], int]:
    """A page of accounts and how many match."""
    offset, limit = page_window(offset, limit)
    with admin_session(db, actor) as s:
        total = s.scalar(filters.apply(select(func.count()).select_from(User))) or 0
        rows = s.scalars(_user_query(filters, sort, descending).offset(offset).limit(limit)).all()
        return _user_rows(s, list(rows)), int(total)


def _all_users(
    db: Database, actor: Account, filters: UserFilter, sort: str, descending: bool
) -> list[UserRow]:
    with admin_session(db, actor) as s:  # accounts are few (a team), unlike generations
        return _user_rows(s, list(s.scalars(_user_query(filters, sort, descending))))


USER_CSV_COLUMNS = (
    "id",
    "email",
    "full_name",
    "is_admin",
    "is_verified",
    "is_active",
    "locked_until",
    "failed_logins",
    "created_at",
    "last_login_at",
    "generations",
)


def users_csv(
    db: Database,
    actor: Account,
    filters: UserFilter = UserFilter(),
    sort: str = "created",
    descending: bool = True,
) -> bytes:
    """Every matching account (not only the page shown), as CSV."""
    rows = _all_users(db, actor, filters, sort, descending)
    return to_csv(USER_CSV_COLUMNS, (asdict(r) for r in rows))


def get_user(db: Database, actor: Account, user_id: uuid.UUID) -> UserRow:
    with admin_session(db, actor) as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotAllowed("No such account.")
        return _user_rows(s, [user])[0]


def _change_user(
    db: Database,
    actor: Account,
    user_id: uuid.UUID,
    action: str,
    values: dict[str, Any],
    refuse_self: str | None = None,
    end_sessions: bool = False,
) -> None:
    """One admin change to an account, its audit entry and (end_sessions) the end of every
    login session of that account, in one transaction."""
    if refuse_self and user_id == actor.id:
        raise NotAllowed(refuse_self)
    with db.session() as s:
        # Two admins demoting or deactivating each other at the same moment: the second finds
        # it is no longer an admin, so there is always an admin left.
        auth.require_admin(s, actor.id, lock_admins=True)
        target = s.scalar(select(User).where(User.id == user_id).with_for_update())
        if target is None:
            raise NotAllowed("No such account.")
        if values:
            s.execute(update(User).where(User.id == user_id).values(**values))
        if end_sessions:
            sessions.end_all(s, user_id, action)
        audit.record(
            s,
            action,
            actor_id=actor.id,
            actor_email=actor.email,
            target_user_id=user_id,
            target_email=target.email,
        )


def set_admin(db: Database, actor: Account, user_id: uuid.UUID, value: bool) -> None:
    if value:
        _change_user(db, actor, user_id, audit.ADMIN_GRANTED, {"is_admin": True})
    else:
        _change_user(
            db,
            actor,
            user_id,
            audit.ADMIN_REVOKED,
            {"is_admin": False},
            refuse_self="You cannot remove your own admin role; ask another admin.",
        )


def set_verified(db: Database, actor: Account, user_id: uuid.UUID, value: bool = True) -> None:
    _change_user(db, actor, user_id, audit.VERIFIED_SET, {"is_verified": value})


def unlock(db: Database, actor: Account, user_id: uuid.UUID) -> None:
    _change_user(db, actor, user_id, audit.UNLOCKED, {"failed_logins": 0, "locked_until": None})


def end_sessions(db: Database, actor: Account, user_id: uuid.UUID) -> None:
    """Log a user out of every browser (their next page shows the login form)."""
    _change_user(db, actor, user_id, audit.SESSIONS_ENDED, {}, end_sessions=True)


def set_active(db: Database, actor: Account, user_id: uuid.UUID, value: bool) -> None:
    """A deactivated account cannot log in, and its open sessions end on their next page."""
    if value:
        _change_user(db, actor, user_id, audit.REACTIVATED, {"is_active": True})
    else:
        _change_user(
            db,
            actor,
            user_id,
            audit.DEACTIVATED,
            {"is_active": False},
            refuse_self="You cannot deactivate your own account.",
            end_sessions=True,
        )


def set_temporary_password(db: Database, actor: Account, user_id: uuid.UUID, password: str) -> None:
    auth.set_temporary_password(db, actor, user_id, password)


# --- generations --------------------------------------------------------------------------


# --- usage --------------------------------------------------------------------------------


# --- audit log ----------------------------------------------------------------------------


def to_csv(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return out.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # no formula injection when opened in a spreadsheet
    return value
