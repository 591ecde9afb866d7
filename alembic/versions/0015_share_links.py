"""Share links: read-only, expiring, revocable links to one output or a board for people
without an account, and each view of one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "created_by",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_share_links_user"),
            nullable=False,
        ),
        sa.Column(
            "generation_id",
            sa.Uuid(),
            sa.ForeignKey(
                "generation_history.id", ondelete="CASCADE", name="fk_share_links_generation"
            ),
            nullable=True,
        ),
        sa.Column("output_key", sa.String(120), nullable=True),
        sa.Column(
            "board_id",
            sa.Uuid(),
            sa.ForeignKey("boards.id", ondelete="CASCADE", name="fk_share_links_board"),
            nullable=True,
        ),
        sa.Column("keep_settings", sa.Boolean(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_share_links"),
        sa.UniqueConstraint("token_hash", name="uq_share_links_token"),
        sa.CheckConstraint(
            "(board_id IS NULL) <> (generation_id IS NULL)", name="ck_share_links_target"
        ),
        sa.Index("ix_share_links_created_by", "created_by", "created_at"),
    )
    op.create_table(
        "share_views",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column(
            "link_id",
            sa.Uuid(),
            sa.ForeignKey("share_links.id", ondelete="CASCADE", name="fk_share_views_link"),
            nullable=False,
        ),
        sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_share_views"),
        sa.Index("ix_share_views_link", "link_id", "viewed_at"),
    )


def downgrade() -> None:
    op.drop_table("share_views")
    op.drop_table("share_links")
