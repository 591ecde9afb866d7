"""SQLAlchemy 2 typed ORM models. The schema itself is made by Alembic (alembic/versions)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

GENERATION_STATUSES = ("pending", "processing", "completed", "failed", "cancelled")

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use viba.store.models.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("email", name="uq_users_email"),
        Index("ix_users_sso", "sso_issuer", "sso_subject", unique=True),
        CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(String(200))
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    model_preferences: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # feature key -> the options of the user's last submit of it (viba.studio.preferences)
    feature_options: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # This user's own limits on the team's key (viba.studio.budget); None: the team default
    monthly_budget_usd: Mapped[float | None] = mapped_column(Float)
    daily_generations: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(5))  # en | zh; None: not chosen yet
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The user's own Gemini key when they chose to remember it: Fernet, key derived from the
    # server secret VIBA_COOKIE_KEY (viba.accounts.keyvault). Never shown back in full.
    gemini_key_encrypted: Mapped[str | None] = mapped_column(Text)
    # The OIDC identity (Google Workspace) it signs in with, if any (viba.accounts.sso)
    sso_issuer: Mapped[str | None] = mapped_column(String(300))
    sso_subject: Mapped[str | None] = mapped_column(String(255))

    def __repr__(self) -> str:  # never print the hash
        return f"User(id={self.id}, email={self.email!r}, is_admin={self.is_admin})"


class UserSession(Base):
    """One login: the login cookie carries its signed id, and every page run checks the row,
    so logging out, a password change, an admin or a deactivation ends it on the server."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_created", "user_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE", name="fk_user_sessions_user")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    # Profile > link Google sign-in: until then, this session may link the account to the
    # identity the provider signs it in with (the password was given to ask; migration 0019).
    sso_link_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GenerationHistory(Base):
    __tablename__ = "generation_history"
    __table_args__ = (
        CheckConstraint(_in("status", GENERATION_STATUSES), name="ck_generation_history_status"),
        # History (a user's rows, newest first, keyset on created_at then id) and the admin
        # browser (all rows by date, or by type/status then date): migration 0004.
        Index("ix_generation_history_user_created_id", "user_id", "created_at", "id"),
        Index("ix_generation_history_created_id", "created_at", "id"),
        Index("ix_generation_history_type_created", "type", "created_at"),
        Index("ix_generation_history_status_created", "status", "created_at"),
        Index("ix_generation_history_status_updated", "status", "updated_at"),
        Index("ix_generation_history_parent", "parent_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE", name="fk_generation_history_user")
    )
    type: Mapped[str] = mapped_column(String(20))  # a feature key (viba.studio.features)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    input_params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    input_keys: Mapped[list[str]] = mapped_column(JSONType, default=list)
    output_keys: Mapped[list[str]] = mapped_column(JSONType, default=list)
    error_message: Mapped[str | None] = mapped_column(Text)
    # What the run produced besides images: description, per-output model, tokens, seconds,
    # failed variants (viba.studio.generations writes it).
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The worker process that runs (or last ran) the job; the queue's heartbeats say whether
    # it is alive (viba.jobs.queue).
    worker_id: Mapped[str | None] = mapped_column(String(64))
    favorite: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A refinement's parent: the generation whose output it refines (viba.studio.refine)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid,
        ForeignKey(
            "generation_history.id", ondelete="SET NULL", name="fk_generation_history_parent"
        ),
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PromptVersion(Base):
    """One saved text of a feature step's prompt. The newest row of a step is the active one;
    with no row, the built-in text in viba.engine.prompts is."""

    __tablename__ = "prompt_versions"
    __table_args__ = (Index("ix_prompt_versions_step_id", "step", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    step: Mapped[str] = mapped_column(String(40))
    system: Mapped[str] = mapped_column(Text)
    template: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL", name="fk_prompt_versions_user")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Blob(Base):
    """An image stored in the database (VIBA_STORAGE=db), by its content key."""

    __tablename__ = "blobs"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImageRef(Base):
    """Which generation uses which stored image (input or output). A blob with no row here
    can be deleted."""

    __tablename__ = "image_refs"
    __table_args__ = (
        PrimaryKeyConstraint("generation_id", "key", "role", name="pk_image_refs"),
        Index("ix_image_refs_key", "key"),
    )

    generation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid,
        ForeignKey("generation_history.id", ondelete="CASCADE", name="fk_image_refs_generation"),
    )
    key: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(10))


# SQLite only auto-numbers an INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class ModelUsage(Base):
    """One successful Gemini call of a generation: which model, how many tokens. Kept when the
    generation is deleted, so usage reports stay true."""

    __tablename__ = "model_usage"
    __table_args__ = (
        Index("ix_model_usage_created", "created_at"),
        Index("ix_model_usage_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE", name="fk_model_usage_user")
    )
    generation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    feature: Mapped[str] = mapped_column(String(20))
    step: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(100))
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    images: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Estimated USD from the catalog's prices (None: no price for the model); own_key: paid
    # with the user's own Gemini key, not the team's (it does not count against a budget)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    own_key: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TeamLimits(Base):
    """The limits for everyone without their own (one row, id 1; absent: no limits)."""

    __tablename__ = "team_limits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monthly_budget_usd: Mapped[float | None] = mapped_column(Float)
    daily_generations: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what: logins, failed logins, password changes, admin actions, deletions."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created", "created_at"),
        Index("ix_audit_log_action_created", "action", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL", name="fk_audit_log_actor")
    )
    # Kept as text: the email tried in a failed login may have no account.
    actor_email: Mapped[str | None] = mapped_column(String(320))
    target_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL", name="fk_audit_log_target")
    )
    generation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelChange(Base):
    """An admin's change to the model catalog file (viba.studio.model_admin): one row per
    model, fields over the file's (a model Google shipped, adopted; a status and replacement),
    or hidden: a model the key lists that the admins chose not to adopt."""

    __tablename__ = "model_changes"
    __table_args__ = (PrimaryKeyConstraint("model_id", name="pk_model_changes"),)

    model_id: Mapped[str] = mapped_column(String(120))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL", name="fk_model_changes_user")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


BOARD_ROLES = ("editor", "viewer")  # a board's owner is its owner_id, not a member row


class Board(Base):
    """A named collection of generations and outputs (viba.studio.boards): private to its
    owner until shared with members."""

    __tablename__ = "boards"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_boards"),
        UniqueConstraint("owner_id", "name", name="uq_boards_owner_name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(80))
    owner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE", name="fk_boards_owner")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BoardMember(Base):
    """Someone a board is shared with, and what they may do there."""

    __tablename__ = "board_members"
    __table_args__ = (
        PrimaryKeyConstraint("board_id", "user_id", name="pk_board_members"),
        CheckConstraint(_in("role", BOARD_ROLES), name="ck_board_members_role"),
        Index("ix_board_members_user", "user_id"),
    )

    board_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("boards.id", ondelete="CASCADE", name="fk_board_members_board")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE", name="fk_board_members_user")
    )
    role: Mapped[str] = mapped_column(String(10))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BoardItem(Base):
    """One output of a generation on a board (output_key: which one)."""

    __tablename__ = "board_items"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_board_items"),
        UniqueConstraint("board_id", "generation_id", "output_key", name="uq_board_items_output"),
        Index("ix_board_items_generation", "generation_id"),
        Index("ix_board_items_key", "output_key"),
    )

    id: Mapped[int] = mapped_column(BigIntId, autoincrement=True)
    board_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("boards.id", ondelete="CASCADE", name="fk_board_items_board")
    )
    generation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid,
        ForeignKey("generation_history.id", ondelete="CASCADE", name="fk_board_items_generation"),
    )
    output_key: Mapped[str] = mapped_column(String(120))
    added_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL", name="fk_board_items_user")
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShareLink(Base):
    """A read-only link for people without an account to one output (generation_id and
    output_key) or a board (board_id) (viba.studio.shares). Only the token's SHA-256 is kept."""

    __tablename__ = "share_links"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_share_links"),
        UniqueConstraint("token_hash", name="uq_share_links_token"),
        CheckConstraint(
            "(board_id IS NULL) <> (generation_id IS NULL)", name="ck_share_links_target"
        ),
        Index("ix_share_links_created_by", "created_by", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE", name="fk_share_links_user")
    )
    generation_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid,
        ForeignKey("generation_history.id", ondelete="CASCADE", name="fk_share_links_generation"),
    )
    output_key: Mapped[str | None] = mapped_column(String(120))
    board_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("boards.id", ondelete="CASCADE", name="fk_share_links_board")
    )
    keep_settings: Mapped[bool] = mapped_column(Boolean, default=False)
    views: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShareView(Base):
    """One view of a share link's page."""

    __tablename__ = "share_views"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_share_views"),
        Index("ix_share_views_link", "link_id", "viewed_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, autoincrement=True)
    link_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("share_links.id", ondelete="CASCADE", name="fk_share_views_link")
    )
    viewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class Preset(Base):
    """A feature's full settings under a name (viba.studio.presets): settings holds options,
    models and prompt versions; its images are preset_images rows (kept while it is)."""

    __tablename__ = "presets"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_presets"),
        UniqueConstraint("owner_id", "feature", "name", name="uq_presets_owner_name"),
        Index("ix_presets_feature", "feature", "team"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE", name="fk_presets_owner")
    )
    feature: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(80))
    team: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    thumb_key: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PresetImage(Base):
    """A reference image of a preset, in its slot and place: an image any of these rows
    names is not deleted (viba.studio.generations.forget_unreferenced)."""

    __tablename__ = "preset_images"
    __table_args__ = (
        PrimaryKeyConstraint("preset_id", "position", name="pk_preset_images"),
        Index("ix_preset_images_key", "key"),
    )

    preset_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("presets.id", ondelete="CASCADE", name="fk_preset_images_preset")
    )
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(255))


class ModelRight(Base):
    """Which models may be picked (viba.studio.model_rights): scope "everyone", or one
    account's id (its own list, over everyone's). No row: every model."""

    __tablename__ = "model_rights"
    __table_args__ = (PrimaryKeyConstraint("scope", name="pk_model_rights"),)

    scope: Mapped[str] = mapped_column(String(40))
    models: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL", name="fk_model_rights_user")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
