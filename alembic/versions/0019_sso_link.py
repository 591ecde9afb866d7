"""Link Google Workspace / OIDC sign-in to an existing account from Profile: the login
session that asked (with the account's password) may finish a link until this moment.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op


revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: ALTER TABLE ADD COLUMN in place on both databases (no rebuild).
    op.add_column(
        "user_sessions", sa.Column("sso_link_until", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("user_sessions") as batch:
        batch.drop_column("sso_link_until")
