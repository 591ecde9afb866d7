"""The app's log lines: JSON in production with the job and user they concern, never a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest

from viba.core import logs


@pytest.fixture()
def captured():
    out = io.StringIO()
    logger = logging.getLogger("viba")
    saved = list(logger.handlers), logger.propagate, logger.level

    def lines() -> list[str]:
        return out.getvalue().splitlines()

    def use(fmt: str):
        logs.setup(fmt)
        logger.handlers[-1].setStream(out)
        return lines

    yield use
    logger.handlers[:], logger.propagate = saved[0], saved[1]
    logger.setLevel(saved[2])


def test_json_lines_carry_the_job_and_user_they_concern(captured):
    lines = captured("json")
    log = logging.getLogger("viba.jobs.runner")
    with logs.context(job_id="job-1", user_id="user-7"):
        log.warning("job %s: %s", "job-1", "the variant failed")
    log.info("outside any job")
    first, second = (json.loads(line) for line in lines())
    assert first["job_id"] == "job-1" and first["user_id"] == "user-7"
    assert first["level"] == "warning" and first["logger"] == "viba.jobs.runner"
    assert first["message"] == "job job-1: the variant failed"
    assert "job_id" not in second and second["message"] == "outside any job"


def test_a_page_run_names_its_user_until_the_next_run_names_another(captured):
    lines = captured("json")
    logs.set_user("u-1")
    logging.getLogger("viba.web.guard").warning("first")
    logs.set_user(None)
    logging.getLogger("viba.web.guard").warning("second")
    assert [json.loads(line).get("user_id") for line in lines()] == ["u-1", None]


SECRETS = [
    ("AIzaSyD-abcdefghijklmnopqrstuvwxyz0123456", "AIzaSyD"),
    ("postgresql://postgres.ref:s3cret-pass@aws-1-eu.pooler.supabase.com:5432/x", "s3cret"),
    ("x-goog-api-key: AQ.Ab8RN6Lsomething", "AQ.Ab8RN6L"),
    ("password=hunter2&user=a", "hunter2"),
    ("cookie eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ", "eyJzaWQi"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "wJalrXUt"),
]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_no_key_password_or_token_reaches_a_line(captured, fmt):
    lines = captured(fmt)
    log = logging.getLogger("viba.db")
    for text, _ in SECRETS:
        log.warning("failed: %s", text)
    try:
        raise RuntimeError(f"connect to {SECRETS[1][0]} with {SECRETS[0][0]}")
    except RuntimeError:
        log.exception("a page failed")
    out = "\n".join(lines())
    for _, secret in SECRETS:
        assert secret not in out, secret
    assert "aws-1-eu.pooler.supabase.com" in out  # the rest of the line is kept
    if fmt == "json":
        assert all(json.loads(line) for line in lines())
        assert "RuntimeError" in json.loads(lines()[-1])["error"]
