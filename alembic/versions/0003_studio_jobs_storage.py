"""Studio: blobs and image_refs for stored images, job columns, the user's encrypted key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("key", sa.String(120), primary_key=True),
        sa.Column("mime", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "image_refs",
        sa.Column("generation_id", sa.Uuid(),
                  sa.ForeignKey("generation_history.id", ondelete="CASCADE",
                                name="fk_image_refs_generation"), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("generation_id", "key", "role", name="pk_image_refs"),
    )
    op.create_index("ix_image_refs_key", "image_refs", ["key"])
    with op.batch_alter_table("generation_history") as batch:
        batch.add_column(sa.Column("details", JSONType, nullable=False,
                                   server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("worker_id", sa.String(64), nullable=True))
    # Finding unfinished jobs (start-up and the periodic sweep) without a full scan.
    op.create_index("ix_generation_history_status_updated", "generation_history",
                    ["status", "updated_at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("gemini_key_encrypted", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("gemini_key_encrypted")
    op.drop_index("ix_generation_history_status_updated", table_name="generation_history")
    with op.batch_alter_table("generation_history") as batch:
        batch.drop_column("worker_id")
        batch.drop_column("details")
    op.drop_index("ix_image_refs_key", table_name="image_refs")
    op.drop_table("image_refs")
    op.drop_table("blobs")
