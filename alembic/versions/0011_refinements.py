"""A refinement is a generation of its own, chained to the one whose output it refines.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generation_history") as batch:
        batch.add_column(sa.Column("parent_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            "fk_generation_history_parent",
            "generation_history",
            ["parent_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_generation_history_parent", ["parent_id"])


def downgrade() -> None:
    with op.batch_alter_table("generation_history") as batch:
        batch.drop_index("ix_generation_history_parent")
        batch.drop_constraint("fk_generation_history_parent", type_="foreignkey")
        batch.drop_column("parent_id")
