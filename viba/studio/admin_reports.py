"""Admin reports: every generation, usage per user, model and day, the audit log, and their CSV
exports (admins only, checked in the database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, select

from viba.accounts.account import Account, NotAllowed
from viba.core.text import search_text
from viba.store import audit
from viba.store.db import Database, capped_count
from viba.store.models import GenerationHistory, ModelUsage, User
from viba.studio.admin_users import PAGE_SIZE, admin_session, page_window, to_csv
from viba.studio.generations import GenerationView, view_of

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
    offset, limit = page_window(offset, limit)
    with admin_session(db, actor) as s:
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
        with admin_session(db, actor) as s:
            query = _generation_query(filters, sort, descending).execution_options(yield_per=1000)
            for r in s.execute(query):
                yield asdict(_generation_row(r))

    return to_csv(GENERATION_CSV_COLUMNS, rows())


def get_generation(
    db: Database, actor: Account, generation_id: uuid.UUID
) -> tuple[GenerationView, str]:
    """Any user's generation, and its owner's email."""
    with admin_session(db, actor) as s:
        found = s.execute(
            select(GenerationHistory, User.email)
            .join(User, User.id == GenerationHistory.user_id)
            .where(GenerationHistory.id == generation_id)
        ).first()
        if found is None:
            raise NotAllowed("No such generation.")
        return view_of(found[0]), found[1]


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
    with admin_session(db, actor) as s:
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
    return to_csv(columns, rows)


def audit_entries(
    db: Database,
    actor: Account,
    filters: audit.AuditFilter = audit.AuditFilter(),
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> tuple[list[audit.AuditRow], int]:
    offset, limit = page_window(offset, limit)
    with admin_session(db, actor) as s:
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
    with admin_session(db, actor) as s:
        return to_csv(AUDIT_CSV_COLUMNS, (asdict(r) for r in audit.iter_entries(s, filters)))
