"""Alembic builds the schema the models describe, the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from viba.store.db import Database, run_migrations
from viba.store.models import Base


def alembic_config():
    """Alembic's configuration for the app's migrations (what run_migrations builds)."""
    from alembic.config import Config

    from viba.store.db import ALEMBIC_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    return cfg


def alembic_head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


HEAD = alembic_head()
ALL_TABLES = sorted(["alembic_version", *Base.metadata.tables])
# The job queue's (procrastinate's) tables, on PostgreSQL only (revision 0012)
QUEUE_TABLES = [
    "procrastinate_events",
    "procrastinate_jobs",
    "procrastinate_periodic_defers",
    "procrastinate_workers",
]


def alembic_env_ours(name, type_, parent_names) -> bool:
    return not (type_ == "table" and str(name).startswith("procrastinate_"))


def test_upgrade_builds_exactly_the_models_schema(empty_database_url, backend):
    db = Database(empty_database_url)
    try:
        assert db.table_names() == []
        db.migrate()
        queue = QUEUE_TABLES if backend == "postgresql" else []
        assert db.table_names() == sorted(ALL_TABLES + queue)
        assert {"users", "generation_history", "prompt_versions"} <= set(ALL_TABLES)
        with db.engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == HEAD
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": alembic_env_ours}
            )
            assert compare_metadata(ctx, Base.metadata) == []
        insp = inspect(db.engine)
        indexes = {ix["name"]: ix["column_names"] for ix in insp.get_indexes("generation_history")}
        assert indexes["ix_generation_history_user_created_id"] == ["user_id", "created_at", "id"]
        assert indexes["ix_generation_history_created_id"] == ["created_at", "id"]
        assert "ix_generation_history_user_created" not in indexes  # replaced in 0004
        if backend == "postgresql":
            types = {c["name"]: str(c["type"]) for c in insp.get_columns("users")}
            assert types["model_preferences"] == "JSONB" and types["id"] == "UUID"
            with db.engine.connect() as conn:  # 0020: images are not compressed again
                storage = conn.scalar(
                    text(
                        "SELECT attstorage FROM pg_attribute "
                        "WHERE attrelid = 'blobs'::regclass AND attname = 'data'"
                    )
                )
            assert storage == "e"
    finally:
        db.dispose()


def test_upgrade_is_idempotent_and_downgrade_removes_everything(empty_database_url):
    from alembic import command

    db = Database(empty_database_url)
    try:
        run_migrations(db.engine)
        run_migrations(db.engine)  # a second process starting finds head and does nothing
        cfg = alembic_config()
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert db.table_names() == ["alembic_version"]
    finally:
        db.dispose()


def test_constraints_hold_in_the_database(db, user):
    """The database itself refuses bad rows, not only the Python code. (A row's type is any
    feature key: the feature registry owns that list, so adding a feature needs no migration.)"""
    import uuid

    import pytest
    from sqlalchemy.exc import IntegrityError

    with db.engine.connect() as conn:
        insert = (
            "INSERT INTO generation_history (id, user_id, type, status, input_params,"
            " input_keys, output_keys, created_at, updated_at)"
            " VALUES (:id, {owner}, 'avatar', '{status}', '{{}}', '[]', '[]',"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
        for sql, params in [
            (insert.format(owner=":uid", status="exploded"), {}),
            (
                insert.format(owner=":other", status="pending"),
                {"other": uuid.uuid4()},
            ),
        ]:
            values = {"id": uuid.uuid4(), "uid": user.id, **params}
            if db.engine.dialect.name == "sqlite":
                values = {k: v.hex if isinstance(v, uuid.UUID) else v for k, v in values.items()}
            with pytest.raises(IntegrityError):
                with conn.begin():
                    conn.execute(text(sql), {k: v for k, v in values.items() if f":{k}" in sql})


def test_several_processes_migrating_at_once_all_succeed(empty_database_url, backend):
    """App processes started together (e.g. a deploy with 2 instances) race to migrate."""
    import subprocess
    import sys

    code = (
        "import sys; from viba.store.db import Database; d = Database(sys.argv[1]); d.migrate(); "
        "print(d.table_names())"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, empty_database_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert out.strip() == str(
            sorted(ALL_TABLES + (QUEUE_TABLES if backend != "sqlite" else []))
        )


def test_0004_backfills_model_usage_from_rows_made_before_it(empty_database_url):
    """Generations made before usage was recorded show up in the usage report after the
    upgrade, per model and step, with their tokens."""
    import uuid
    from datetime import datetime

    from alembic.config import Config

    from alembic import command
    from viba.store.db import ALEMBIC_DIR

    db = Database(empty_database_url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(ALEMBIC_DIR))
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
        from sqlalchemy import JSON, DateTime, Uuid, column, insert, table
        from sqlalchemy.dialects.postgresql import JSONB

        J = JSON().with_variant(JSONB(), "postgresql")
        users = table(
            "users",
            column("id", Uuid()),
            column("email"),
            column("password_hash"),
            column("full_name"),
            column("model_preferences", J),
            column("created_at", DateTime(timezone=True)),
            column("updated_at", DateTime(timezone=True)),
            column("password_changed_at", DateTime(timezone=True)),
        )
        gens = table(
            "generation_history",
            column("id", Uuid()),
            column("user_id", Uuid()),
            column("type"),
            column("status"),
            column("input_params", J),
            column("input_keys", J),
            column("output_keys", J),
            column("details", J),
            column("created_at", DateTime(timezone=True)),
            column("updated_at", DateTime(timezone=True)),
        )
        now = datetime(2026, 11, 1, tzinfo=UTC)
        uid, gid = uuid.uuid4(), uuid.uuid4()
        with db.engine.begin() as conn:
            conn.execute(
                insert(users).values(
                    id=uid,
                    email="old@example.com",
                    password_hash="x",
                    full_name="Old",
                    model_preferences={},
                    created_at=now,
                    updated_at=now,
                    password_changed_at=now,
                )
            )
            conn.execute(
                insert(gens).values(
                    id=gid,
                    user_id=uid,
                    type="derivation",
                    status="completed",
                    input_params={},
                    input_keys=[],
                    output_keys=["img/a.png", "img/b.png"],
                    created_at=now,
                    updated_at=now,
                    details={
                        "description_model": "text-m",
                        "description_tokens": 120,
                        "outputs": {
                            "img/a.png": {"model": "img-m", "tokens": 1300},
                            "img/b.png": {"model": "img-m", "tokens": 1290},
                        },
                    },
                )
            )
        db.migrate()
        with db.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT step, model, SUM(tokens), SUM(images) FROM model_usage "
                    "GROUP BY step, model ORDER BY step"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("derivation_image", "img-m", 2590, 2),
            ("derivation_text", "text-m", 120, 0),
        ]
    finally:
        db.dispose()


def test_a_downgrade_that_rebuilds_users_keeps_the_rows_that_refer_to_it(empty_database_url):
    """On SQLite a batch migration rebuilds a table (copy, drop the old, rename): with foreign
    keys on, dropping the old users table would delete every generation, session and usage row
    (ON DELETE CASCADE). Downgrading past 0009 rebuilds users; nothing else may go."""
    import uuid

    from alembic import command
    from viba.accounts import auth
    from viba.store.db import migration_connection

    from helpers import PASSWORD, add

    db = Database(empty_database_url)
    try:
        run_migrations(db.engine)
        owner = auth.register(db, f"keep-{uuid.uuid4().hex[:6]}@example.com", "Keep", PASSWORD)
        gid = add(db, owner, outputs=[])
        cfg = alembic_config()
        with migration_connection(db.engine) as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008")
        with db.engine.connect() as conn:
            found = conn.execute(
                text("SELECT user_id FROM generation_history WHERE id = :id"),
                {"id": gid if db.engine.dialect.name == "postgresql" else gid.hex},
            ).scalar()
            assert found is not None
        if db.engine.dialect.name == "sqlite":  # and the connections have them on again
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        run_migrations(db.engine)  # and back up to head
    finally:
        db.dispose()


def test_a_migration_that_leaves_rows_pointing_nowhere_is_undone(empty_database_url):
    import uuid

    import pytest

    from viba.store.db import MigrationError, migration_connection

    db = Database(empty_database_url)
    try:
        run_migrations(db.engine)
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL checks foreign keys itself, migration or not")
        orphan = uuid.uuid4().hex
        with pytest.raises(MigrationError, match="^The migration left 1 rows referring to"):
            with migration_connection(db.engine) as conn:
                conn.execute(
                    text(
                        "INSERT INTO user_sessions (id, user_id, created_at, last_seen_at,"
                        " expires_at) VALUES (:id, :user, CURRENT_TIMESTAMP,"
                        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"id": orphan, "user": uuid.uuid4().hex},
                )
        with db.engine.connect() as conn:
            left = conn.execute(
                text("SELECT count(*) FROM user_sessions WHERE id = :id"), {"id": orphan}
            )
            assert left.scalar() == 0
    finally:
        db.dispose()
