"""Alembic environment: runs on the connection viba.store.db hands over, or on DATABASE_URL
from the CLI (`alembic upgrade head`)."""

from sqlalchemy import text

from alembic import context
from viba.store.models import Base

config = context.config
target_metadata = Base.metadata
# Any constant works; it only has to be the same in every process of this app.
PG_MIGRATION_LOCK = 0x76696261


def ours(name, type_, parent_names) -> bool:
    """The job queue's tables (revision 0012) are procrastinate's, not our models': autogenerate
    leaves them alone."""
    return not (type_ == "table" and str(name).startswith("procrastinate_"))


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=ours,
    )
    if connection.dialect.name == "postgresql":
        # Several app processes may start at once: one migrates, the others wait, then find
        # the schema at head. Transaction-scoped, so it is released at commit.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    from viba.core.config import get_settings
    from viba.store.db import make_engine, migration_connection

    settings = get_settings()
    # Run as the deploy's pre-deploy step: a production setup the app would refuse fails the
    # deploy here, with the same message, before the old version is replaced.
    settings.check_production()
    engine = make_engine(settings.effective_database_url)
    with migration_connection(engine) as conn:  # SQLite: foreign keys off while it runs
        run(conn)
    engine.dispose()
