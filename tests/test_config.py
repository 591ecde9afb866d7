"""Settings: names, defaults, URL handling, and the production refusals."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy.pool import NullPool

from viba.core.config import ConfigError, estimated_entropy_bits, load_settings
from viba.store.db import Database, DatabaseUnavailable, make_engine, normalise_url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    import os

    # Every app setting, including those other tests' session fixtures put in os.environ.
    for name in list(os.environ):
        if name == "DATABASE_URL" or name.startswith(("VIBA_", "SMTP_", "GEMINI_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VIBA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VIBA_SECRETS_FILE", str(tmp_path / "secrets.toml"))


def test_defaults_run_on_a_sqlite_file_in_data_with_a_kept_dev_cookie_key(tmp_path):
    s = load_settings()
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'data' / 'viba.db'}"
    assert s.storage == "local" and not s.smtp_enabled and not s.is_production
    key = s.resolved_cookie_key()
    assert len(key) >= 32 and key == load_settings().resolved_cookie_key()
    assert (tmp_path / "data" / ".cookie_key").stat().st_mode & 0o777 == 0o600


def test_environment_wins_over_secrets_toml(tmp_path, monkeypatch):
    (tmp_path / "secrets.toml").write_text(
        'VIBA_ADMIN_EMAILS = "a@x.io, B@X.io"\nGEMINI_API_KEY = "from-file"\n'
    )
    s = load_settings()
    assert s.admin_emails == {"a@x.io", "b@x.io"} and s.gemini_api_key == "from-file"
    monkeypatch.setenv("GEMINI_API_KEY", "from-env")
    assert load_settings().gemini_api_key == "from-env"
    assert "from-env" not in repr(load_settings())


@pytest.mark.parametrize(
    "raw, driver",
    [
        ("postgres://u:p@db.example.com:5432/postgres?sslmode=require", "postgresql+psycopg"),
        ("postgresql://u:p@h/d", "postgresql+psycopg"),
        ("postgresql+psycopg2://u:p@h/d", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_database_urls_are_normalised(raw, driver):
    url = normalise_url(raw)
    assert url.drivername == driver
    if "sslmode" in raw:
        assert url.query["sslmode"] == "require"


@pytest.mark.parametrize(
    "raw, message",
    [
        ("postgresql://u:p@h:port/d", "not a valid database URL"),
        ("not a url", "not a valid database URL"),
        ("mysql://u@h/d", "supports PostgreSQL and SQLite"),
    ],
)
def test_bad_database_url_gives_one_clear_message(raw, message):
    with pytest.raises(ConfigError, match=message):
        normalise_url(raw)


def test_transaction_pooler_gets_no_client_pool_and_others_pre_ping():
    pooled = make_engine("postgresql://postgres.ref:pw@pooler.example.com:5432/postgres")
    tx = make_engine("postgresql://postgres.ref:pw@pooler.example.com:6543/postgres")
    assert pooled.pool._pre_ping and not isinstance(pooled.pool, NullPool)
    assert isinstance(tx.pool, NullPool) and tx.pool._pre_ping


def test_unreachable_database_is_reported_without_the_password():
    db = Database("postgresql://viba:s3cret@127.0.0.1:1/nowhere")
    with pytest.raises(DatabaseUnavailable) as info:
        db.migrate()
    assert "cannot be reached" in str(info.value) and "s3cret" not in str(info.value)


def test_production_refuses_missing_or_weak_cookie_key_and_sqlite(monkeypatch):
    monkeypatch.setenv("VIBA_ENV", "production")
    monkeypatch.setenv("VIBA_STORAGE", "db")
    with pytest.raises(ConfigError, match="VIBA_COOKIE_KEY"):
        load_settings().check_production()
    import secrets

    weak_keys = [
        "short",
        "k" * 48,
        "changeme" * 5,
        "changeme-changeme-changeme-1234x",
        "abcdefghijkl" * 3,
        "0123456789ab" * 4,
        "qwertyuiopasdfgh" * 2,
    ]
    for weak in weak_keys:
        monkeypatch.setenv("VIBA_COOKIE_KEY", weak)
        with pytest.raises(ConfigError, match="at least 128 bits, not a repeated") as refused:
            load_settings().check_production()
        assert weak not in str(refused.value)  # the message never shows the key
    for good in [secrets.token_urlsafe(32), secrets.token_hex(16), secrets.token_urlsafe(48)]:
        assert estimated_entropy_bits(good) >= 128

    monkeypatch.setenv("VIBA_COOKIE_KEY", secrets.token_urlsafe(48))
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings().check_production()
    monkeypatch.setenv("VIBA_ALLOW_SQLITE", "1")
    load_settings().check_production()
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/d")
    monkeypatch.delenv("VIBA_ALLOW_SQLITE")
    load_settings().check_production()


def test_bad_value_names_the_setting(monkeypatch):
    monkeypatch.setenv("SMTP_PORT", "many")
    with pytest.raises(ConfigError, match="SMTP_PORT"):
        load_settings()


def test_empty_variables_mean_the_defaults(monkeypatch):
    """Render creates `sync: false` variables that were left empty as empty strings."""
    for name in (
        "SMTP_PORT",
        "SMTP_FROM",
        "VIBA_PUBLIC_URL",
        "VIBA_STORAGE",
        "DATABASE_URL",
        "GEMINI_API_KEY",
        "VIBA_WORKERS",
    ):
        monkeypatch.setenv(name, "  ")
    settings = load_settings()
    assert settings.smtp_port == 587 and settings.smtp_from.startswith("Viba Studio")
    assert settings.public_url == "http://localhost:8501" and settings.storage == "local"
    assert settings.database_url is None and settings.gemini_api_key is None
    assert settings.workers == 32 and settings.user_concurrency == 6


def test_image_storage_is_files_on_a_laptop_and_must_be_chosen_in_production(monkeypatch):
    monkeypatch.delenv("VIBA_STORAGE", raising=False)
    monkeypatch.delenv("VIBA_ENV", raising=False)
    assert load_settings().storage == "local"
    monkeypatch.setenv("VIBA_ENV", "production")
    monkeypatch.setenv("VIBA_COOKIE_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1/x")
    production = load_settings()
    with pytest.raises(ConfigError, match=r"VIBA_STORAGE: s3://<bucket> for Supabase Storage"):
        production.check_production()
    for choice in ("s3://bucket/viba", "db"):
        monkeypatch.setenv("VIBA_STORAGE", choice)
        assert load_settings().storage == choice
        load_settings().check_production()


def test_logs_are_json_in_production_and_text_on_a_laptop(monkeypatch):
    monkeypatch.delenv("VIBA_LOG_FORMAT", raising=False)
    monkeypatch.delenv("VIBA_ENV", raising=False)
    assert load_settings().log_format == "text"
    monkeypatch.setenv("VIBA_ENV", "production")
    assert load_settings().log_format == "json"
    monkeypatch.setenv("VIBA_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="VIBA_LOG_FORMAT must be json or text"):
        load_settings()
