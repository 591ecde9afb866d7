"""A job can be cancelled: status 'cancelled' (queued ones never run; a running one starts no
more Gemini calls and keeps what it made).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD = "status IN ('pending', 'processing', 'completed', 'failed')"
NEW = "status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')"


def upgrade() -> None:
    with op.batch_alter_table("generation_history") as batch:
        batch.drop_constraint("ck_generation_history_status", type_="check")
        batch.create_check_constraint("ck_generation_history_status", NEW)


def downgrade() -> None:
    op.execute("UPDATE generation_history SET status = 'failed' WHERE status = 'cancelled'")
    with op.batch_alter_table("generation_history") as batch:
        batch.drop_constraint("ck_generation_history_status", type_="check")
        batch.create_check_constraint("ck_generation_history_status", OLD)
