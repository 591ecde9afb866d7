"""Feature registry: a generation's type is any registered feature; drop the unused output_url

The list of features now lives in viba.features, so the database no longer pins the four
built-in ones (adding a feature needs no migration). output_url was written and never read.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FEATURES = ("derivation", "avatar", "try_on", "swap")


def upgrade() -> None:
    with op.batch_alter_table("generation_history") as batch:
        batch.drop_constraint("ck_generation_history_type", type_="check")
        batch.drop_column("output_url")


def downgrade() -> None:
    with op.batch_alter_table("generation_history") as batch:
        batch.add_column(sa.Column("output_url", sa.Text(), nullable=True))
        batch.create_check_constraint(
            "ck_generation_history_type", "type IN (" + ", ".join(f"'{f}'" for f in FEATURES) + ")")
