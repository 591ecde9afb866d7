"""Admins' changes to the model catalog: models adopted from Gemini's list, statuses and
replacements, models hidden from the list of new ones.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "model_changes",
        sa.Column("model_id", sa.String(120), nullable=False),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_by",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_model_changes_user"),
            nullable=True,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model_id", name="pk_model_changes"),
    )


def downgrade() -> None:
    op.drop_table("model_changes")
