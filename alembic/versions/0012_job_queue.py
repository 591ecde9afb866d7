"""The job queue's tables (procrastinate), on PostgreSQL only.

Generations are deferred as procrastinate jobs in the same transaction as their row, and run by
workers that may be other processes (python -m viba.worker). SQLite has no queue tables: there
the same tasks run in the app's process, on procrastinate's in-memory connector.

The schema is the one of the pinned procrastinate (requirements.txt). When that pin moves, a
new revision applies the SQL files procrastinate ships for the versions in between
(procrastinate/sql/migrations).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    if bind.scalar(sa.text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")):
        return  # applied already (procrastinate's own `schema --apply`)
    # The schema holds '%' in its function bodies: run it as the driver's text, not a format.
    bind.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs",
                  "procrastinate_workers"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    functions = bind.execute(
        sa.text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'"
        )
    ).scalars()
    for signature in list(functions):
        op.execute(f"DROP FUNCTION IF EXISTS {signature} CASCADE")
    types = bind.execute(
        sa.text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%' "
            "AND t.typtype IN ('e', 'c')"
        )
    ).scalars()
    for name in list(types):
        op.execute(f"DROP TYPE IF EXISTS {name} CASCADE")
