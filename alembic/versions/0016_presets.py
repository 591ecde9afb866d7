"""Presets: a feature's full settings (models, prompt versions, size, ratio, options and its
reference images) saved under a name, personal or for the whole team.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "presets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "owner_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_presets_owner"),
            nullable=False,
        ),
        sa.Column("feature", sa.String(20), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("team", sa.Boolean(), nullable=False),
        sa.Column("settings", JSONType, nullable=False),
        sa.Column("thumb_key", sa.String(120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_presets"),
        sa.UniqueConstraint("owner_id", "feature", "name", name="uq_presets_owner_name"),
        sa.Index("ix_presets_feature", "feature", "team"),
    )
    op.create_table(
        "preset_images",
        sa.Column(
            "preset_id",
            sa.Uuid(),
            sa.ForeignKey("presets.id", ondelete="CASCADE", name="fk_preset_images_preset"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("preset_id", "position", name="pk_preset_images"),
        sa.Index("ix_preset_images_key", "key"),
    )


def downgrade() -> None:
    op.drop_table("preset_images")
    op.drop_table("presets")
