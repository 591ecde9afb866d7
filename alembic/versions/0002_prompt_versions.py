"""prompt_versions: admins' edits of the feature prompts, each kept

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompt_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column(
            "created_by",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_prompt_versions_user"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_prompt_versions_step_id", "prompt_versions", ["step", "id"])


def downgrade() -> None:
    op.drop_index("ix_prompt_versions_step_id", table_name="prompt_versions")
    op.drop_table("prompt_versions")
