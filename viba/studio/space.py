"""How much room the database takes, against its plan's limit (Supabase's free database holds
500 MB, and turns read-only past it): the whole database, each of the app's tables, and the
images kept in it (VIBA_STORAGE=db). For admins only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from viba.accounts import auth
from viba.accounts.account import Account
from viba.store.db import Database
from viba.store.models import Base, Blob

# Admins are warned from this share of the limit on.
WARN_SHARE = 0.8
MB = 1024 * 1024


@dataclass(frozen=True)
class TableSpace:
    name: str
    rows: int
    bytes: int | None  # None where the database cannot say (SQLite without dbstat)


@dataclass(frozen=True)
class Space:
    database_bytes: int
    limit_bytes: int
    tables: list[TableSpace]  # largest first
    images: int  # kept in the database
    image_bytes: int

    @property
    def share(self) -> float:
        return self.database_bytes / self.limit_bytes

    @property
    def warn(self) -> bool:
        return self.share >= WARN_SHARE


def database_bytes(s: Session) -> int:
    """The whole database's size on disk."""
    if s.get_bind().dialect.name == "postgresql":
        return int(s.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    pages = int(s.execute(text("PRAGMA page_count")).scalar() or 0)
    return pages * int(s.execute(text("PRAGMA page_size")).scalar() or 0)


def _table_bytes(s: Session, names: list[str]) -> dict[str, int]:
    if s.get_bind().dialect.name == "postgresql":
        found = s.execute(
            text(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace "
                "AND c.relname = ANY(:names)"
            ),
            {"names": names},
        )
        return {name: int(size) for name, size in found}
    try:  # SQLite's dbstat table, where it is built in: pages per table and its indexes
        found = s.execute(
            text(
                "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1"
            )
        )
        return {name: int(size) for name, size in found if name in names}
    except OperationalError:  # no dbstat in this build: sizes unknown, rows still told
        s.rollback()
        return {}


def database_bytes_of(db: Database) -> int:
    """The whole database's size on disk, in a session of its own."""
    with db.session() as s:
        return database_bytes(s)


def report(db: Database, actor: Account, limit_mb: int) -> Space:
    """The database, each of the app's tables (rows, and bytes with its indexes and TOAST) and
    the images kept in it, for an admin."""
    with db.session() as s:
        auth.require_admin(s, actor.id)
        names = sorted(Base.metadata.tables)
        sizes = _table_bytes(s, names)
        tables = [
            TableSpace(
                name,
                int(s.scalar(select(func.count()).select_from(Base.metadata.tables[name])) or 0),
                sizes.get(name),
            )
            for name in names
        ]
        images, image_bytes = s.execute(
            select(func.count(), func.coalesce(func.sum(Blob.size), 0))
        ).one()
        return Space(
            database_bytes=database_bytes(s),
            limit_bytes=limit_mb * MB,
            tables=sorted(tables, key=lambda x: (-(x.bytes or 0), -x.rows, x.name)),
            images=int(images),
            image_bytes=int(image_bytes),
        )


def used(db: Database, actor: Account, limit_mb: int) -> Space | None:
    """The database's size against the limit, when an admin should be warned (else None):
    one cheap query."""
    with db.session() as s:
        auth.require_admin(s, actor.id)
        size = database_bytes(s)
    found = Space(size, limit_mb * MB, [], 0, 0)
    return found if found.warn else None
