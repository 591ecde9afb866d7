"""Sign in with Google Workspace / OIDC: the identity (issuer, subject) an account signs in
with, besides its password.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns added in place and a unique index (not a constraint): on SQLite a constraint
    # would rebuild the table, and dropping the old users table cascades to every row that
    # refers to it (generations, usage).
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("sso_issuer", sa.String(300), nullable=True))
        batch.add_column(sa.Column("sso_subject", sa.String(255), nullable=True))
    op.create_index("ix_users_sso", "users", ["sso_issuer", "sso_subject"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_sso", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("sso_subject")
        batch.drop_column("sso_issuer")
