"""One validated Settings object, read from the environment, then .streamlit/secrets.toml.

Every setting has the exact environment name the deployment docs use (DATABASE_URL,
VIBA_COOKIE_KEY, ...). A bad value raises ConfigError with one sentence a person can act on.
"""

from __future__ import annotations

import math
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from viba.core.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
MIN_COOKIE_KEY_LENGTH = 32  # what the development key file must hold to be reused
MIN_COOKIE_KEY_BITS = 128
_MIN_REPEAT = 3


def estimated_entropy_bits(secret: str) -> float:
    """A cautious estimate of the randomness in a secret, in bits: log2 of its alphabet (the
    character classes it uses) for each character that is new information. A repeat of three
    or more characters seen before counts as one character, and a character that continues a
    run (abc, 321, 2468) counts as none; so "changeme-changeme-1234x" or "0123456789ab" * 4
    score far below a random key of the same length."""
    classes = [
        any(c.islower() for c in secret) * 26,
        any(c.isupper() for c in secret) * 26,
        any(c.isdigit() for c in secret) * 10,
        any(not c.isalnum() for c in secret) * 33,
    ]
    pool = sum(classes)
    if pool < 2:
        return 0.0
    new, i = 0, 0
    while i < len(secret):
        repeat = 0
        for start in range(i):  # the longest earlier match (overlap allowed, as in LZ77)
            length = 0
            while i + length < len(secret) and secret[start + length] == secret[i + length]:
                length += 1
            repeat = max(repeat, length)
        if repeat >= _MIN_REPEAT:
            new += 1
            i += repeat
            continue
        if i >= 2:
            step = ord(secret[i]) - ord(secret[i - 1])
            if step == ord(secret[i - 1]) - ord(secret[i - 2]) and abs(step) <= 2:
                i += 1  # continues a run
                continue
        new += 1
        i += 1
    return new * math.log2(pool)


class ConfigError(UserError, RuntimeError):
    """A setting is missing or wrong; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", populate_by_name=True, frozen=True
    )

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    env: Literal["development", "production"] = Field(default="development", alias="VIBA_ENV")
    cookie_key: str | None = Field(default=None, alias="VIBA_COOKIE_KEY", repr=False)
    cookie_name: str = Field(default="viba_session", alias="VIBA_COOKIE_NAME")
    cookie_expiry_days: float = Field(default=14.0, alias="VIBA_COOKIE_EXPIRY_DAYS", gt=0)
    admin_emails_raw: str = Field(default="", alias="VIBA_ADMIN_EMAILS")
    # Email domains that may sign in with Google Workspace / OIDC (st.login, configured in
    # .streamlit/secrets.toml [auth]); empty: that button is not offered.
    sso_domains_raw: str = Field(default="", alias="VIBA_SSO_DOMAINS")
    data_dir: Path = Field(default=PROJECT_ROOT / "data", alias="VIBA_DATA_DIR")
    public_url: str = Field(default="http://localhost:8501", alias="VIBA_PUBLIC_URL")
    allow_sqlite_in_production: bool = Field(default=False, alias="VIBA_ALLOW_SQLITE")
    # Used by the Gemini engine and studio issues; reserved here so there is one place.
    gemini_api_key: str | None = Field(default=None, alias="GEMINI_API_KEY", repr=False)
    gemini_base_url: str | None = Field(default=None, alias="GEMINI_BASE_URL")
    gemini_api_version: str = Field(default="v1beta", alias="GEMINI_API_VERSION")
    gemini_timeout_seconds: float = Field(default=120.0, alias="GEMINI_TIMEOUT_SECONDS", gt=0)
    # One deadline for a whole Gemini call, retries included (the timeout above is per read).
    gemini_deadline_seconds: float = Field(default=150.0, alias="GEMINI_DEADLINE_SECONDS", gt=0)
    gemini_retry_attempts: int = Field(default=3, alias="GEMINI_RETRY_ATTEMPTS", ge=1, le=10)
    gemini_retry_initial_delay: float = Field(default=1.0, alias="GEMINI_RETRY_INITIAL_DELAY", ge=0)
    # bcrypt cost of new password hashes: 12 (~0.3 s) in use; the tests use the minimum, 4.
    bcrypt_rounds: int = Field(default=12, alias="VIBA_BCRYPT_ROUNDS", ge=4, le=16)
    max_input_pixels: int = Field(
        default=30_000_000, alias="VIBA_MAX_INPUT_PIXELS", ge=1_000_000, le=180_000_000
    )
    decodes_at_once: int = Field(default=2, alias="VIBA_DECODES_AT_ONCE", ge=1, le=16)
    max_image_side: int = Field(default=2048, alias="VIBA_MAX_IMAGE_SIDE", ge=256, le=8192)
    # Empty: files under data/images on a laptop, the database in production (a server's disk
    # is usually wiped on deploy). See viba.store.image_store.make_backend for the forms.
    storage: str = Field(default="", alias="VIBA_STORAGE", validate_default=True)
    # Jobs mostly wait on Gemini (on one event loop, costing nothing), so the pool is sized for
    # a team at once, not for the CPU; one user's batch takes a fair share of it.
    workers: int = Field(default=32, alias="VIBA_WORKERS", ge=1, le=128)
    user_concurrency: int = Field(default=6, alias="VIBA_USER_CONCURRENCY", ge=1, le=32)
    gemini_max_concurrent: int = Field(default=64, alias="GEMINI_MAX_CONCURRENT", ge=1, le=256)
    # An input used by several calls (a Derivation's photo: 5) is uploaded once with the Files
    # API and referenced by URI, instead of going base64 in every request.
    gemini_upload_inputs: bool = Field(default=True, alias="GEMINI_UPLOAD_INPUTS")
    # How long a running job keeps retrying its writes through a database outage.
    db_retry_seconds: float = Field(default=60.0, alias="VIBA_DB_RETRY_SECONDS", ge=0)
    # A worker's heartbeat (procrastinate's workers table); a job whose worker has been silent
    # for 3 heartbeats (killed, its machine gone) is retried by another worker.
    job_heartbeat_seconds: float = Field(default=10.0, alias="VIBA_JOB_HEARTBEAT_SECONDS", gt=0)
    # Where generations run: "in-process" (a worker inside the web process: one service does
    # it all) or "off" (the web only queues them; `python -m viba.worker` processes run them,
    # PostgreSQL only). See DEPLOYMENT.md.
    worker_mode: Literal["in-process", "off"] = Field(default="in-process", alias="VIBA_WORKER")
    # The queue's name: the web and its workers must agree (a second deployment sharing the
    # database, or a test, takes one of its own).
    queue_name: str = Field(
        default="generations", alias="VIBA_QUEUE", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$"
    )
    # The workers' own connection (LISTEN/NOTIFY needs a session: Supabase's session pooler,
    # port 5432, not the transaction pooler). Empty: DATABASE_URL.
    queue_database_url: str | None = Field(
        default=None, alias="VIBA_QUEUE_DATABASE_URL", repr=False
    )
    # On an orderly stop (a deploy's SIGTERM) running jobs get this long to finish; keep it
    # below render.yaml's maxShutdownDelaySeconds (300), after which Render kills the process.
    shutdown_grace_seconds: float = Field(
        default=270.0, alias="VIBA_SHUTDOWN_GRACE_SECONDS", ge=0, le=3600
    )
    # Database connections per process. Supabase's session pooler (5432) allows as many clients
    # as its Pool Size (15 on the smallest computes): during a deploy the old process, the new
    # one and the pre-deploy migration are connected at once, 2 x (5 + 1) + 1 = 13.
    db_pool_size: int = Field(default=5, alias="VIBA_DB_POOL_SIZE", ge=1, le=100)
    db_max_overflow: int = Field(default=1, alias="VIBA_DB_MAX_OVERFLOW", ge=0, le=100)
    # transaction: a transaction-mode pooler (Supabase 6543, pgbouncer pool_mode=transaction)
    # that hands out a server connection per transaction, so no client-side pool; auto: that
    # when the port is 6543.
    db_pooler: Literal["auto", "session", "transaction"] = Field(
        default="auto", alias="VIBA_DB_POOLER"
    )
    audit_retention_days: int = Field(default=365, alias="VIBA_AUDIT_RETENTION_DAYS", ge=1)
    # The database plan's size limit (Supabase free: 500 MB): Admin > Storage measures against
    # it, and admins are warned from 80% on.
    database_limit_mb: int = Field(default=500, alias="VIBA_DATABASE_LIMIT_MB", ge=1)
    # json: one JSON object per line (production default), text: for a terminal.
    log_format: str = Field(default="", alias="VIBA_LOG_FORMAT", validate_default=True)
    # debug adds a line per page run (bench/load.py counts them) and per job step.
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", alias="VIBA_LOG_LEVEL"
    )
    smtp_host: str | None = Field(default=None, alias="SMTP_HOST")
    smtp_port: int = Field(default=587, alias="SMTP_PORT")
    smtp_user: str | None = Field(default=None, alias="SMTP_USER")
    smtp_password: str | None = Field(default=None, alias="SMTP_PASSWORD", repr=False)
    smtp_from: str = Field(default="Viba Studio <no-reply@localhost>", alias="SMTP_FROM")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", alias="SMTP_SECURITY"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        secrets_file = Path(os.environ.get("VIBA_SECRETS_FILE", SECRETS_FILE))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, secrets_file))

    @model_validator(mode="before")
    @classmethod
    def _blank_means_default(cls, data: object) -> object:
        """An empty variable (a Render `sync: false` value left empty) is as if unset."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator(
        "database_url",
        "queue_database_url",
        "cookie_key",
        "gemini_api_key",
        "gemini_base_url",
        "smtp_host",
        "smtp_user",
        "smtp_password",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("storage")
    @classmethod
    def _default_storage(cls, value: str, info: ValidationInfo) -> str:
        # Production has no default: check_production asks for one (images fill a free
        # Supabase database quickly).
        if value.strip():
            return value.strip()
        return "" if info.data.get("env") == "production" else "local"

    @field_validator("log_format")
    @classmethod
    def _default_log_format(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip().lower() or (
            "json" if info.data.get("env") == "production" else "text"
        )
        if value not in ("json", "text"):
            raise ValueError("VIBA_LOG_FORMAT must be json or text")
        return value

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def admin_emails(self) -> frozenset[str]:
        return frozenset(e.strip().lower() for e in self.admin_emails_raw.split(",") if e.strip())

    @property
    def sso_domains(self) -> frozenset[str]:
        raw = self.sso_domains_raw.split(",")
        return frozenset(d.strip().lower().lstrip("@") for d in raw if d.strip())

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'viba.db'}"

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)

    def check_production(self) -> None:
        """Refuse a production start that would be insecure; say exactly what to set."""
        if not self.is_production:
            return
        bits = estimated_entropy_bits(self.cookie_key or "")
        if bits < MIN_COOKIE_KEY_BITS:
            held = f"this one holds about {bits:.0f}" if self.cookie_key else "it is not set"
            raise ConfigError(
                "VIBA_ENV=production needs VIBA_COOKIE_KEY set to a random secret of at least "
                f"{MIN_COOKIE_KEY_BITS} bits, not a repeated or made-up word ({held}). Make "
                "one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` "
                "(Render's generateValue makes one for you)."
            )
        if self.effective_database_url.startswith("sqlite") and not self.allow_sqlite_in_production:
            raise ConfigError(
                "VIBA_ENV=production needs DATABASE_URL set to a PostgreSQL URL (a SQLite file "
                "is lost on every deploy); set VIBA_ALLOW_SQLITE=1 to run on SQLite anyway."
            )
        if not self.storage:
            raise ConfigError(
                "VIBA_ENV=production needs VIBA_STORAGE: s3://<bucket> for Supabase Storage or "
                "another S3-compatible store (with AWS_ENDPOINT_URL and the keys; DEPLOYMENT.md), "
                "or db to keep images in the database (a Derivation stores several MB; "
                "Supabase's free database holds 500 MB)."
            )

    def resolved_cookie_key(self) -> str:
        """The cookie signing key: the configured one, or in development a random key kept in
        data/ so that logins survive a restart."""
        self.check_production()
        if self.cookie_key:
            return self.cookie_key
        key_file = self.data_dir / ".cookie_key"
        try:
            existing = key_file.read_text().strip()
        except FileNotFoundError:
            existing = ""
        if len(existing) >= MIN_COOKIE_KEY_LENGTH:
            return existing
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning pydantic's report into one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"Invalid configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
