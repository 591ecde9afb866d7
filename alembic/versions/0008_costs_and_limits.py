"""Costs and limits: each Gemini call's estimated cost and whether the user's own key paid
for it; a monthly budget and a daily generation count per user, with a team default.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_usage") as batch:
        batch.add_column(sa.Column("cost_usd", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("own_key", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("monthly_budget_usd", sa.Float(), nullable=True))
        batch.add_column(sa.Column("daily_generations", sa.Integer(), nullable=True))
    op.create_table(
        "team_limits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("monthly_budget_usd", sa.Float(), nullable=True),
        sa.Column("daily_generations", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("team_limits")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("daily_generations")
        batch.drop_column("monthly_budget_usd")
    with op.batch_alter_table("model_usage") as batch:
        batch.drop_column("own_key")
        batch.drop_column("cost_usd")
