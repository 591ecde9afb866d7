"""Database engine, sessions and migrations.

One engine per URL and process. Migrations (Alembic) run once per process before the first
session is handed out; the schema is never created or altered any other way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    CursorResult,
    Engine,
    Select,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from viba.core.config import PROJECT_ROOT, ConfigError
from viba.core.errors import UserError

ALEMBIC_DIR = PROJECT_ROOT / "alembic"
TRANSACTION_POOLER_PORT = 6543
T = TypeVar("T")
log = logging.getLogger(__name__)


class DatabaseUnavailable(UserError, RuntimeError):
    """The database cannot be reached or answered with an error; the message is for people."""


class MigrationError(DatabaseUnavailable):
    """A migration would leave the data inconsistent; it was rolled back."""


def normalise_url(raw: str) -> URL:
    """Parse DATABASE_URL; postgres:// and postgresql:// (and +psycopg2, as older settings
    wrote) go to psycopg 3: it sends a blob as binary, where psycopg2 wrote it into the query
    as hex (a 5 MB photo's insert peaked at 38 MB and 39 ms CPU, now 9 MB and 10 ms)."""
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise ConfigError(
            "DATABASE_URL is not a valid database URL (expected e.g. "
            "postgresql://user:password@host:5432/dbname or sqlite:///path/to/file.db)."
        ) from None
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        url = url.set(drivername="postgresql+psycopg")
    elif url.drivername != "sqlite":
        raise ConfigError(
            f"DATABASE_URL uses '{url.drivername}'; Viba Studio supports PostgreSQL and SQLite."
        )
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# A value at least this large sent or read over a connection retires the connection when it
# goes back to the pool: libpq keeps its buffers at the size of the largest message for the
# connection's life (measured: ~8 MB after sending a 4.5 MB photo, ~17 MB more after reading
# one), so every pooled connection that ever moved a photo held ~25 MB of the process.
LARGE_VALUE = 1024 * 1024
_RETIRE = "viba_retire"


def _retire_on_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record.info.pop(_RETIRE, False):
        record.invalidate()  # closed now; the pool opens a new one when it is next needed


def make_engine(
    raw_url: str,
    pool_size: int = 5,
    max_overflow: int = 5,
    pool_timeout: float = 30.0,
    pooler: str = "auto",
) -> Engine:
    """pooler: "transaction" behind a transaction-mode pooler (no client-side pool), "session"
    (a pool of pool_size + max_overflow), "auto": transaction on port 6543 (Supabase's)."""
    url = normalise_url(raw_url)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.drivername == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        in_memory = url.database in (None, "", ":memory:")  # one connection, no pool to size
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            **({} if in_memory else pool),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"connect_timeout": 10, "application_name": "viba-studio"}
    if pooler == "transaction" or (pooler == "auto" and url.port == TRANSACTION_POOLER_PORT):
        # Supabase's transaction pooler hands out a server connection per transaction:
        # a client-side pool on top of it only holds connections the pooler wants back, and
        # a statement psycopg prepared on one server connection is unknown on the next.
        return create_engine(
            url,
            poolclass=NullPool,
            pool_pre_ping=True,
            connect_args={**connect_args, "prepare_threshold": None},
        )
    engine = create_engine(
        url, pool_pre_ping=True, pool_recycle=300, connect_args=connect_args, **pool
    )
    event.listen(engine, "checkin", _retire_on_checkin)
    return engine


def describe_db_error(exc: BaseException, url: URL | None = None) -> str:
    """One sentence for a person; no stack trace, no password."""
    where = f" at {url.host or url.database}" if url is not None else ""
    if isinstance(exc, OperationalError):
        return (
            f"The database{where} cannot be reached right now. Check DATABASE_URL and that the "
            "server is running, then reload the page. Nothing was changed."
        )
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "The database connection was lost. Reload the page to try again."
    return "The database reported an error; nothing was saved. Reload the page to try again."


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """SQLite has no advisory locks; processes sharing a database file share a machine, so a
    lock file beside it serialises their migrations (PostgreSQL: see alembic/env.py)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for one migration run, in a transaction.

    On SQLite, foreign keys are off for it: a batch migration rebuilds a table (copy, drop the
    old one, rename), and with them on, dropping the old users table deletes every row that
    refers to it (ON DELETE CASCADE: generations, sessions, usage). The pragma only changes
    outside a transaction, so it is set before the migration's begins and set back after;
    before the commit, PRAGMA foreign_key_check must find no row pointing nowhere."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise MigrationError(
                            f"The migration left {len(broken)} rows referring to nothing "
                            f"(first: table {broken[0][0]}, row {broken[0][1]}); undone."
                        )
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def run_migrations(engine: Engine) -> None:
    """Bring the schema to Alembic's head (idempotent, safe for several processes at once)."""
    from alembic.config import Config

    from alembic import command

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    with _sqlite_migration_lock(engine), migration_connection(engine) as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class Database:
    """An engine, its session factory, and the migration run that precedes first use."""

    def __init__(self, raw_url: str, **pool: Any) -> None:
        """pool: pool_size, max_overflow, pool_timeout for make_engine."""
        self.url = normalise_url(raw_url)
        self.engine = make_engine(raw_url, **pool)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._migrated = False
        self._lock = threading.Lock()
        self._open = threading.local()  # this thread's open session, if any

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def moved_large_value(self, session: Session, size: int) -> None:
        """The session's connection sent or read a value of `size` bytes: at LARGE_VALUE or
        more it is closed when it goes back to the pool (a pool that closes every connection
        anyway, SQLite's files or behind a transaction pooler, is left as it is)."""
        if size >= LARGE_VALUE and self.is_postgres:
            session.connection().connection.info[_RETIRE] = True

    def migrate(self) -> None:
        with self._lock:
            if self._migrated:
                return
            try:
                run_migrations(self.engine)
            except SQLAlchemyError as exc:
                raise DatabaseUnavailable(describe_db_error(exc, self.url)) from exc
            self._migrated = True

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error.

        Opened while this thread already has one open (e.g. the image store's own session
        inside a locked_session), it is that same session: the outer one commits or rolls back
        the whole. So no code path ever holds two pooled connections at once, and N threads
        never deadlock on a pool of N waiting for an N+1th."""
        outer = getattr(self._open, "session", None)
        if outer is not None:
            yield outer
            return
        self.migrate()
        session = self._sessions()
        self._open.session = session
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise DatabaseUnavailable(describe_db_error(exc, self.url)) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            self._open.session = None
            session.close()

    @contextmanager
    def locked_session(self, *names: str) -> Iterator[Session]:
        """A session that holds a lock on each name until it commits, so two sessions about
        the same names run one after the other (names: e.g. image keys). PostgreSQL: advisory
        transaction locks, taken in sorted order (no deadlock), across processes. SQLite: one
        process-wide lock around the whole session (SQLite apps run on one machine, and its
        write lock is not usable here: the image store's own sessions write meanwhile)."""
        if self.engine.dialect.name == "postgresql":
            with self.session() as session:
                for name in sorted(set(names)):
                    session.execute(
                        text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"), {"n": name}
                    )
                yield session
        else:
            with _sqlite_name_lock, self.session() as session:
                yield session

    def retrying(self, work: Callable[[], T], seconds: float) -> T:
        """Run a unit of work, again and again while the database cannot be reached, for up to
        `seconds` (then its DatabaseUnavailable is raised). For writes that must not be lost
        to a short outage, such as a generated image's row."""
        deadline = time.monotonic() + seconds
        pause = 0.25
        while True:
            try:
                return work()
            except DatabaseUnavailable:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("database unavailable; trying again in %.2f s", pause)
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    def ping(self) -> bool:
        """Whether the database answers now (a health check: no retry, no migration)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    def dispose(self) -> None:
        self.engine.dispose()


COUNT_BEYOND = 10_000  # rows counted past the page shown; more shows as "more than"


def capped_count(s: Session, query: Select, shown_to: int) -> int:
    """How many rows the query matches, counted up to shown_to + COUNT_BEYOND + 1 only: a
    count of every one of 100,000 rows is a scan of them all on each page view; past that
    a pager says "more than" (see is_capped)."""
    limit = shown_to + COUNT_BEYOND + 1
    return int(s.scalar(select(func.count()).select_from(query.limit(limit).subquery())) or 0)


def is_capped(total: int, shown_to: int) -> bool:
    return total > shown_to + COUNT_BEYOND


def rowcount(result: Any) -> int:
    """How many rows an UPDATE or DELETE changed (Session.execute types it as a plain Result)."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def sqlite_write_lock(session: Session) -> None:
    """SQLite: take the database's write lock now, so what this transaction reads next cannot
    change before it writes (the driver runs SELECTs outside a transaction and ignores FOR
    UPDATE). PostgreSQL: nothing; use SELECT ... FOR UPDATE on the rows."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE alembic_version SET version_num = version_num"))


def serialize(session: Session, name: str) -> None:
    """Make the rest of this transaction run one at a time with every other transaction that
    serializes on the same name, across processes: PostgreSQL takes an advisory transaction
    lock on the name, SQLite the database's write lock (held to commit on either)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"), {"n": name})
    else:
        sqlite_write_lock(session)


_sqlite_name_lock = threading.RLock()
