"""The release checks: render.yaml and .streamlit/config.toml are fit for production, the
pre-deploy step refuses what production refuses, and the app started exactly as render.yaml
starts it (VIBA_ENV=production, PostgreSQL) is healthy, logs in and generates an image."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, expect

from viba.core.config import Settings

from fake_gemini import png_bytes
from helpers import (
    PG_ADMIN_URL_DEFAULT,
    ROOT,
    StreamlitServer,
    create_pg_database,
    drop_pg_database,
    s3_settings,
    wait_until,
)

BLUEPRINT = yaml.safe_load((ROOT / "render.yaml").read_text())
SERVICE = BLUEPRINT["services"][0]
ENV_VARS = {v["key"]: v for v in SERVICE["envVars"]}
SETTINGS_NAMES = {f.alias for f in Settings.model_fields.values() if f.alias}
SECRET_NAMES = {
    "DATABASE_URL",
    "VIBA_COOKIE_KEY",
    "GEMINI_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "SMTP_PASSWORD",
    "SMTP_USER",
}


def test_render_blueprint_starts_the_app_as_documented():
    assert len(BLUEPRINT["services"]) == 1
    assert SERVICE["type"] == "web" and SERVICE["runtime"] == "python"
    assert SERVICE["plan"] and ENV_VARS["PYTHON_VERSION"]["value"].startswith("3.11")
    assert SERVICE["buildCommand"] == "pip install -r requirements.txt"
    assert SERVICE["startCommand"] == (
        "streamlit run app.py --server.port $PORT --server.address 0.0.0.0"
    )
    assert SERVICE["healthCheckPath"] == "/health"
    assert SERVICE["numInstances"] == 1  # Streamlit sessions live in one process
    assert SERVICE["autoDeployTrigger"] == "checksPass" and "autoDeploy" not in SERVICE
    assert SERVICE["preDeployCommand"] == "alembic upgrade head"
    assert ENV_VARS["STREAMLIT_SERVER_FILE_WATCHER_TYPE"]["value"] == "none"
    assert ENV_VARS["MALLOC_ARENA_MAX"]["value"] == "2"  # see bench/memory.py
    assert ENV_VARS["MALLOC_MMAP_THRESHOLD_"]["value"] == "1048576"  # see render.yaml
    # Render waits this long after SIGTERM; the app's grace for running jobs fits inside it.
    assert SERVICE["maxShutdownDelaySeconds"] == 300
    assert Settings.model_fields["shutdown_grace_seconds"].default < 300
    for name in ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
        assert ENV_VARS[name]["value"] == "when_required"
    # Two processes (a deploy overlaps them) and the migration fit the session pooler's 15.
    pool = int(ENV_VARS["VIBA_DB_POOL_SIZE"]["value"])
    assert 2 * (pool + int(ENV_VARS["VIBA_DB_MAX_OVERFLOW"]["value"])) + 1 <= 15


def test_render_blueprint_sets_every_setting_production_needs_and_no_secret():
    assert ENV_VARS["VIBA_ENV"]["value"] == "production"
    assert ENV_VARS["DATABASE_URL"] == {"key": "DATABASE_URL", "sync": False}
    assert ENV_VARS["VIBA_COOKIE_KEY"] == {"key": "VIBA_COOKIE_KEY", "generateValue": True}
    assert ENV_VARS["GEMINI_API_KEY"]["sync"] is False
    for name in (
        "SMTP_HOST",
        "SMTP_PASSWORD",
        "VIBA_STORAGE",
        "VIBA_PUBLIC_URL",
        "AWS_SECRET_ACCESS_KEY",
    ):
        assert name in ENV_VARS, name
    for name in SECRET_NAMES:  # asked for on Render, or made there; never in the file
        assert "value" not in ENV_VARS[name], name
    # Every variable means something to the app (a typo would be silently ignored).
    others = {
        "PYTHON_VERSION",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_REQUEST_CHECKSUM_CALCULATION",
        "AWS_RESPONSE_CHECKSUM_VALIDATION",
        "STREAMLIT_SERVER_FILE_WATCHER_TYPE",
        "MALLOC_ARENA_MAX",
        "MALLOC_MMAP_THRESHOLD_",
    }
    assert set(ENV_VARS) - SETTINGS_NAMES <= others
    # The settings production refuses to start without are all provided.
    assert {"DATABASE_URL", "VIBA_COOKIE_KEY", "VIBA_ENV"} <= set(ENV_VARS)


def test_streamlit_config_is_fit_for_production():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["headless"] is True
    assert config["server"]["enableXsrfProtection"] is True
    assert 1 <= config["server"]["maxUploadSize"] <= 50
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["toolbarMode"] == "viewer"
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["showSidebarNavigation"] is False
    assert config["runner"]["fastReruns"] is False
    assert config["runner"]["postScriptGC"] is False  # see the comment there (bench/load.py)
    assert config["server"]["enableStaticServing"] is False  # images: the media route (app.py)


def _env(**extra: str) -> dict[str, str]:
    """A clean environment: render.yaml's fixed values, nothing from the test session."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIBA_", "GEMINI_", "SMTP_", "DATABASE_URL", "STREAMLIT_"))
    }
    fixed = {k: str(v["value"]) for k, v in ENV_VARS.items() if "value" in v}
    return {**base, **fixed, **extra}


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            {"VIBA_COOKIE_KEY": "k" * 48, "DATABASE_URL": "postgresql://u@127.0.0.1:1/x"},
            "VIBA_COOKIE_KEY",
        ),
        ({"VIBA_COOKIE_KEY": secrets.token_urlsafe(48)}, "DATABASE_URL set to a PostgreSQL URL"),
    ],
)
def test_pre_deploy_step_refuses_what_production_refuses(tmp_path, extra, message):
    result = subprocess.run(
        ["bash", "-c", SERVICE["preDeployCommand"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(VIBA_DATA_DIR=str(tmp_path), VIBA_SECRETS_FILE=str(tmp_path / "x.toml"), **extra),
        timeout=120,
    )
    assert result.returncode != 0
    assert message in result.stderr


@pytest.fixture()
def production_db():
    """A fresh PostgreSQL database on this machine's server, reached without TLS."""
    admin_url = os.environ.get("TEST_DATABASE_URL") or PG_ADMIN_URL_DEFAULT
    try:
        url = create_pg_database(admin_url)
    except Exception as exc:  # noqa: BLE001 - any connection failure
        if os.environ.get("CI"):
            raise
        pytest.skip(f"needs the PostgreSQL server at {admin_url}: {exc}")
    yield url + "?sslmode=disable"
    drop_pg_database(url)


@pytest.mark.browser
def test_production_smoke_started_like_render(
    page: Page, production_db, fake_gemini_server, s3_env, tmp_path
):
    """Migrated by the pre-deploy step, started by the start command, images in (moto's)
    S3 as on Supabase Storage."""
    env = _env(
        **s3_settings(s3_env),
        VIBA_STORAGE=f"s3://viba-test/smoke-{tmp_path.name}",
        DATABASE_URL=production_db,
        VIBA_COOKIE_KEY=secrets.token_urlsafe(48),
        GEMINI_API_KEY="smoke-key-1234567890",
        GEMINI_BASE_URL=fake_gemini_server.base_url,
        GEMINI_API_VERSION="v1beta",
        VIBA_DATA_DIR=str(tmp_path),
        VIBA_SECRETS_FILE=str(tmp_path / "none.toml"),
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    migrated = subprocess.run(
        ["bash", "-c", SERVICE["preDeployCommand"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    server = StreamlitServer(env, tmp_path / "server.log", shell_command=SERVICE["startCommand"])
    try:
        server.wait_healthy()
        url = server.url
        page.goto(url)
        page.get_by_role("tab", name="Register").click()
        form = page.locator('[data-testid="stForm"]').filter(
            has=page.get_by_role("heading", name="Create an account")
        )
        form.get_by_label("Email").fill("first@example.com")
        form.get_by_label("Full name").fill("First Admin")
        form.get_by_label("Password", exact=True).fill("smoke-pass-42")
        form.get_by_label("Repeat password").fill("smoke-pass-42")
        form.get_by_role("button", name="Register").click()
        main = page.get_by_test_id("stMainBlockContainer")
        expect(main.get_by_role("heading", name="Welcome, First Admin")).to_be_visible()
        expect(page.get_by_test_id("stSidebar").get_by_role("link", name="Admin")).to_be_visible()
        # A new page load logs in from the cookie, which the browser stores a moment after
        # the login run (as in tests/test_browser.py).
        wait_until(lambda: any(c["name"] == "viba_session" for c in page.context.cookies()))
        page.goto(f"{url}/Avatar")
        expect(main.get_by_role("heading", name="Avatar", level=1)).to_be_visible()
        for _ in range(3):  # re-add if a rerun right after load dropped the pending file
            main.locator('input[type="file"]').first.set_input_files(
                [{"name": "me.png", "mimeType": "image/png", "buffer": png_bytes("smoke")}]
            )
            try:
                expect(main.get_by_text("me.png")).to_be_visible(timeout=5000)
                break
            except AssertionError:
                continue
        main.get_by_role("button", name="Generate").click()
        expect(main.get_by_role("button", name="Download", exact=True)).to_have_count(
            1, timeout=30_000
        )
        # Production hides error details and the developer toolbar.
        expect(page.get_by_test_id("stToolbar").get_by_role("button", name="Deploy")).to_have_count(
            0
        )
    finally:
        server.stop()
    text = server.log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    # The output went to the bucket, not the database; the log lines are JSON.
    import json

    import boto3

    listed = boto3.client("s3").list_objects_v2(
        Bucket="viba-test", Prefix=f"smoke-{tmp_path.name}/"
    )
    names = [o["Key"] for o in listed.get("Contents", [])]
    assert sum("/img/" in n for n in names) == 2 and sum("/thumb/" in n for n in names) == 2
    app_lines = [line for line in text.splitlines() if line.startswith('{"ts"')]
    started = [json.loads(line) for line in app_lines if "job runner started" in line]
    assert len(started) == 1 and started[0]["logger"] == "viba.jobs.runner"
