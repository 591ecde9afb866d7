"""Boards: named collections of generations and outputs, shared with a role per member.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "boards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column(
            "owner_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_boards_owner"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_boards"),
        sa.UniqueConstraint("owner_id", "name", name="uq_boards_owner_name"),
    )
    op.create_table(
        "board_members",
        sa.Column(
            "board_id",
            sa.Uuid(),
            sa.ForeignKey("boards.id", ondelete="CASCADE", name="fk_board_members_board"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_board_members_user"),
            nullable=False,
        ),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("board_id", "user_id", name="pk_board_members"),
        sa.CheckConstraint("role IN ('editor', 'viewer')", name="ck_board_members_role"),
        sa.Index("ix_board_members_user", "user_id"),
    )
    op.create_table(
        "board_items",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column(
            "board_id",
            sa.Uuid(),
            sa.ForeignKey("boards.id", ondelete="CASCADE", name="fk_board_items_board"),
            nullable=False,
        ),
        sa.Column(
            "generation_id",
            sa.Uuid(),
            sa.ForeignKey(
                "generation_history.id", ondelete="CASCADE", name="fk_board_items_generation"
            ),
            nullable=False,
        ),
        sa.Column("output_key", sa.String(120), nullable=False),
        sa.Column(
            "added_by",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_board_items_user"),
            nullable=True,
        ),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_board_items"),
        sa.UniqueConstraint(
            "board_id", "generation_id", "output_key", name="uq_board_items_output"
        ),
        sa.Index("ix_board_items_generation", "generation_id"),
        sa.Index("ix_board_items_key", "output_key"),
    )


def downgrade() -> None:
    op.drop_table("board_items")
    op.drop_table("board_members")
    op.drop_table("boards")
