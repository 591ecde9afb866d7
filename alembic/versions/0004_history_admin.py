"""History and Admin: favourites, model usage, audit log, indexes for browsing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
IMAGE_STEP = {"derivation": "derivation_image", "avatar": "avatar", "try_on": "try_on",
              "swap": "swap"}


def upgrade() -> None:
    with op.batch_alter_table("generation_history") as batch:
        batch.add_column(sa.Column("favorite", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    # History pages a user's rows newest first with a keyset on (created_at, id); the admin
    # browser filters all rows by date, type or status.
    op.drop_index("ix_generation_history_user_created", table_name="generation_history")
    op.create_index("ix_generation_history_user_created_id", "generation_history",
                    ["user_id", "created_at", "id"])
    op.create_index("ix_generation_history_created_id", "generation_history",
                    ["created_at", "id"])
    op.create_index("ix_generation_history_type_created", "generation_history",
                    ["type", "created_at"])
    op.create_index("ix_generation_history_status_created", "generation_history",
                    ["status", "created_at"])

    usage = op.create_table(
        "model_usage",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Uuid(),
                  sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_model_usage_user"),
                  nullable=False),
        sa.Column("generation_id", sa.Uuid(), nullable=True),
        sa.Column("feature", sa.String(20), nullable=False),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_model_usage_created", "model_usage", ["created_at"])
    op.create_index("ix_model_usage_user_created", "model_usage", ["user_id", "created_at"])

    op.create_table(
        "audit_log",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor_id", sa.Uuid(),
                  sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_audit_log_actor"),
                  nullable=True),
        sa.Column("actor_email", sa.String(320), nullable=True),
        sa.Column("target_user_id", sa.Uuid(),
                  sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_audit_log_target"),
                  nullable=True),
        sa.Column("generation_id", sa.Uuid(), nullable=True),
        sa.Column("details", JSONType, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_log_created", "audit_log", ["created_at"])
    op.create_index("ix_audit_log_action_created", "audit_log", ["action", "created_at"])

    _backfill_usage(usage)


def _backfill_usage(usage: sa.Table) -> None:
    """Usage of the generations made before this migration, from what their rows recorded."""
    history = sa.table(
        "generation_history", sa.column("id", sa.Uuid()), sa.column("user_id", sa.Uuid()),
        sa.column("type", sa.String()), sa.column("details", JSONType),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    rows = []
    for gen in bind.execute(sa.select(history)).mappings():
        details = gen["details"] or {}
        base = {"user_id": gen["user_id"], "generation_id": gen["id"], "feature": gen["type"],
                "created_at": gen["created_at"]}
        if details.get("description_model"):
            rows.append({**base, "step": "derivation_text", "model": details["description_model"],
                         "tokens": int(details.get("description_tokens") or 0), "images": 0})
        for meta in (details.get("outputs") or {}).values():
            rows.append({**base, "step": IMAGE_STEP.get(gen["type"], gen["type"]),
                         "model": str(meta.get("model") or "unknown"),
                         "tokens": int(meta.get("tokens") or 0), "images": 1})
    if rows:
        op.bulk_insert(usage, rows)


def downgrade() -> None:
    op.drop_index("ix_audit_log_action_created", table_name="audit_log")
    op.drop_index("ix_audit_log_created", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_model_usage_user_created", table_name="model_usage")
    op.drop_index("ix_model_usage_created", table_name="model_usage")
    op.drop_table("model_usage")
    op.drop_index("ix_generation_history_status_created", table_name="generation_history")
    op.drop_index("ix_generation_history_type_created", table_name="generation_history")
    op.drop_index("ix_generation_history_created_id", table_name="generation_history")
    op.drop_index("ix_generation_history_user_created_id", table_name="generation_history")
    op.create_index("ix_generation_history_user_created", "generation_history",
                    ["user_id", "created_at"])
    with op.batch_alter_table("generation_history") as batch:
        batch.drop_column("favorite")
