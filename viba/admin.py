"""What admins can see and do: browse users and generations, manage accounts, usage reports.

Every function takes the acting Account and checks the role in the database, in the same
transaction as its work (auth.require_admin: a session's Account may be stale, and a revoked
admin loses these powers at once). Changes to accounts write an audit entry in that transaction
too.
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

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from viba import audit, auth, sessions
from viba.auth import Account
from viba.db import Database, capped_count
from viba.generations import GenerationView, view_of
from viba.models import GenerationHistory, ModelUsage, User, utcnow
from viba.text import search_text

PAGE_SIZE = 50


NotAllowed = auth.NotAllowed


@contextmanager
def _admin_session(db: Database, actor: Account) -> Iterator[Session]:
    """A session whose first act is the role check."""
    with db.session() as s:
        auth.require_admin(s, actor.id)
        yield s


def _page(offset: int, limit: int) -> tuple[int, int]:
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
    offset, limit = _page(offset, limit)
    with _admin_session(db, actor) as s:
        total = s.scalar(filters.apply(select(func.count()).select_from(User))) or 0
        rows = s.scalars(_user_query(filters, sort, descending).offset(offset).limit(limit)).all()
        return _user_rows(s, list(rows)), int(total)


def _all_users(
    db: Database, actor: Account, filters: UserFilter, sort: str, descending: bool
) -> list[UserRow]:
    with _admin_session(db, actor) as s:  # accounts are few (a team), unlike generations
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
    return _csv(USER_CSV_COLUMNS, (asdict(r) for r in rows))


def get_user(db: Database, actor: Account, user_id: uuid.UUID) -> UserRow:
    with _admin_session(db, actor) as s:
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

GENERATION_SORTS = ("created", "updated", "type", "status", "user")


@dataclass(frozen=True)
class GenerationFilter:
    user: str = ""  # part of the owner's email
    user_id: uuid.UUID | None = None
    types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        search_text(self.user)

    def apply(self, query: Select) -> Select:
        g = GenerationHistory
        if self.user.strip():
            query = query.where(
                g.user_id.in_(
                    select(User.id).where(
                        User.email.contains(self.user.strip().lower(), autoescape=True)
                    )
                )
            )
        if self.user_id is not None:
            query = query.where(g.user_id == self.user_id)
        if self.types:
            query = query.where(g.type.in_(self.types))
        if self.statuses:
            query = query.where(g.status.in_(self.statuses))
        if self.since is not None:
            query = query.where(g.created_at >= self.since)
        if self.until is not None:
            query = query.where(g.created_at < self.until)
        return query


@dataclass(frozen=True)
class GenerationRow:
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    user_email: str
    type: str
    status: str
    outputs: int
    tokens: int | None
    seconds: float | None
    models: str
    error_message: str | None


def _generation_query(filters: GenerationFilter, sort: str, descending: bool) -> Select:
    g = GenerationHistory
    column = {
        "created": g.created_at,
        "updated": g.updated_at,
        "type": g.type,
        "status": g.status,
        "user": User.email,
    }.get(sort, g.created_at)
    order = column.desc() if descending else column.asc()
    tie = g.id.desc() if descending else g.id.asc()
    query = select(
        g.id,
        g.created_at,
        g.updated_at,
        User.email,
        g.type,
        g.status,
        g.output_keys,
        g.details["total_tokens"].as_integer().label("tokens"),
        g.details["seconds"].as_float().label("seconds"),
        g.input_params["models"].label("models"),
        g.error_message,
    ).join(User, User.id == g.user_id)
    return filters.apply(query).order_by(order, tie)


def _generation_row(r: Any) -> GenerationRow:
    models = r.models or {}
    return GenerationRow(
        r.id,
        r.created_at,
        r.updated_at,
        r.email,
        r.type,
        r.status,
        len(r.output_keys or []),
        r.tokens,
        r.seconds,
        ", ".join(dict.fromkeys(models.values())),
        r.error_message,
    )


def generations(
    db: Database,
    actor: Account,
    filters: GenerationFilter = GenerationFilter(),
    sort: str = "created",
    descending: bool = True,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> tuple[list[GenerationRow], int]:
    """A page of every user's generations and how many match."""
    offset, limit = _page(offset, limit)
    with _admin_session(db, actor) as s:
        total = capped_count(s, filters.apply(select(GenerationHistory.id)), offset + limit)
        rows = s.execute(
            _generation_query(filters, sort, descending).offset(offset).limit(limit)
        ).all()
        return [_generation_row(r) for r in rows], int(total)


GENERATION_CSV_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "user_email",
    "type",
    "status",
    "outputs",
    "tokens",
    "seconds",
    "models",
    "error_message",
)


def generations_csv(
    db: Database,
    actor: Account,
    filters: GenerationFilter = GenerationFilter(),
    sort: str = "created",
    descending: bool = True,
) -> bytes:
    """Every matching generation (not only the page shown), as CSV."""

    def rows() -> Iterator[dict[str, Any]]:
        with _admin_session(db, actor) as s:
            query = _generation_query(filters, sort, descending).execution_options(yield_per=1000)
            for r in s.execute(query):
                yield asdict(_generation_row(r))

    return _csv(GENERATION_CSV_COLUMNS, rows())


def get_generation(
    db: Database, actor: Account, generation_id: uuid.UUID
) -> tuple[GenerationView, str]:
    """Any user's generation, and its owner's email."""
    with _admin_session(db, actor) as s:
        found = s.execute(
            select(GenerationHistory, User.email)
            .join(User, User.id == GenerationHistory.user_id)
            .where(GenerationHistory.id == generation_id)
        ).first()
        if found is None:
            raise NotAllowed("No such generation.")
        return view_of(found[0]), found[1]


# --- usage --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    per_user: list[dict[str, Any]]  # email, generations, images, tokens
    per_model: list[dict[str, Any]]  # model, step, generations, calls, images, tokens
    per_day: list[dict[str, Any]]  # day, model, tokens


def _day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def usage(db: Database, actor: Account, since: datetime, until: datetime) -> Usage:
    """Generations, tokens and estimated cost (USD; own-key calls apart) per user, per model
    and per day for [since, until)."""
    u, g = ModelUsage, GenerationHistory
    in_range = and_(u.created_at >= since, u.created_at < until)
    day = _day(u.created_at, db.engine.dialect.name).label("day")
    with _admin_session(db, actor) as s:
        made = dict(
            s.execute(
                select(g.user_id, func.count())
                .where(g.created_at >= since, g.created_at < until)
                .group_by(g.user_id)
            ).all()
        )
        spent = {
            r.user_id: r
            for r in s.execute(
                select(
                    u.user_id,
                    func.sum(u.images).label("images"),
                    func.sum(u.tokens).label("tokens"),
                    func.sum(case((u.own_key.is_(False), u.cost_usd))).label("team_cost"),
                    func.sum(case((u.own_key.is_(True), u.cost_usd))).label("own_cost"),
                )
                .where(in_range)
                .group_by(u.user_id)
            ).all()
        }
        emails = (
            dict(
                s.execute(
                    select(User.id, User.email).where(User.id.in_(set(made) | set(spent)))
                ).all()
            )
            if made or spent
            else {}
        )
        per_model = [
            {
                "model": r.model,
                "step": r.step,
                "generations": int(r.generations),
                "calls": int(r.calls),
                "images": int(r.images or 0),
                "tokens": int(r.tokens or 0),
                "cost_usd": _usd(r.cost),
                "calls_without_price": int(r.calls) - int(r.priced),
            }
            for r in s.execute(
                select(
                    u.model,
                    u.step,
                    func.count(u.generation_id.distinct()).label("generations"),
                    func.count().label("calls"),
                    func.sum(u.images).label("images"),
                    func.sum(u.tokens).label("tokens"),
                    func.sum(u.cost_usd).label("cost"),
                    func.count(u.cost_usd).label("priced"),
                )
                .where(in_range)
                .group_by(u.model, u.step)
                .order_by(func.sum(u.tokens).desc(), u.model, u.step)
            )
        ]
        per_day = [
            {
                "day": r.day,
                "model": r.model,
                "tokens": int(r.tokens or 0),
                "cost_usd": _usd(r.cost),
            }
            for r in s.execute(
                select(
                    day,
                    u.model,
                    func.sum(u.tokens).label("tokens"),
                    func.sum(u.cost_usd).label("cost"),
                )
                .where(in_range)
                .group_by(day, u.model)
                .order_by(day, u.model)
            )
        ]
    per_user: list[dict[str, Any]] = sorted(
        (
            {
                "email": emails.get(uid, str(uid)),
                "generations": int(made.get(uid, 0)),
                "images": int(spent[uid].images or 0) if uid in spent else 0,
                "tokens": int(spent[uid].tokens or 0) if uid in spent else 0,
                "team_key_usd": _usd(spent[uid].team_cost) if uid in spent else 0.0,
                "own_key_usd": _usd(spent[uid].own_cost) if uid in spent else 0.0,
            }
            for uid in set(made) | set(spent)
        ),
        key=lambda r: (-r["team_key_usd"], -r["tokens"], -r["generations"], r["email"]),
    )
    return Usage(per_user, per_model, per_day)


def _usd(value: Any) -> float:
    return round(float(value or 0.0), 4)


def usage_csv(db: Database, actor: Account, since: datetime, until: datetime) -> bytes:
    """The usage report's three tables in one CSV (a `table` column says which)."""
    report = usage(db, actor, since, until)
    rows = [
        {"table": name, **row}
        for name, table in (
            ("per user", report.per_user),
            ("per model", report.per_model),
            ("per day", report.per_day),
        )
        for row in table
    ]
    columns = tuple(dict.fromkeys(k for row in rows for k in row)) or ("table",)
    return _csv(columns, rows)


# --- audit log ----------------------------------------------------------------------------


def audit_entries(
    db: Database,
    actor: Account,
    filters: audit.AuditFilter = audit.AuditFilter(),
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> tuple[list[audit.AuditRow], int]:
    offset, limit = _page(offset, limit)
    with _admin_session(db, actor) as s:
        return audit.entries(s, filters, offset, limit)


AUDIT_CSV_COLUMNS = (
    "id",
    "created_at",
    "action",
    "actor_email",
    "target_user_id",
    "generation_id",
    "details",
)


def audit_csv(
    db: Database, actor: Account, filters: audit.AuditFilter = audit.AuditFilter()
) -> bytes:
    with _admin_session(db, actor) as s:
        return _csv(AUDIT_CSV_COLUMNS, (asdict(r) for r in audit.iter_entries(s, filters)))


def _csv(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> bytes:
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
