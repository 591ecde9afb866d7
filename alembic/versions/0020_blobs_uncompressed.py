"""PostgreSQL stores image blobs without trying to compress them: every blob is already a
compressed format (JPEG, PNG, WEBP, HEIC), and pglz spent ~50 ms of the server's CPU on each
4.5 MB photo for no gain (an insert took 62-68 ms, 13-21 ms without; the same size on disk).
Rows stored before keep their form; SQLite has no such setting.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Catalog only: no row is rewritten.
        op.execute("ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTENDED")
