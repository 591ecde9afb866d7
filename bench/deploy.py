"""Benchmark: what a deploy costs a running job, on a real `streamlit run` with the fake Gemini
(image answers take --latency seconds) and a browser user who started an Avatar job.

Per run:
- SIGTERM (Render's first step of a deploy) 1 s after the job's Gemini call started: how long
  until the server stops serving, how long until the process exits, and whether the job
  completed (it should: the process waits for it);
- kill -9 1 s into the job, then a new server: from the new server's first page view to the
  job completed (its worker missed 3 heartbeats: the new one retries it, keeping what it had).

    python bench/deploy.py [--runs 3] [--latency 3.0] [--heartbeat 2.0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from common import app_env, healthy, wait_for
from playwright.sync_api import expect, sync_playwright

from viba.accounts import auth

from fake_gemini import FakeGemini, png_bytes
from helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    StreamlitServer,
    log_in,
    main,
)


def status(db) -> str:
    from sqlalchemy import select

    from viba.store.models import GenerationHistory

    with db.session() as s:
        rows = s.scalars(select(GenerationHistory.status)).all()
    return rows[-1] if rows else "none"


def start_job(browser, server, user_email: str, fake: FakeGemini) -> None:
    page = browser.new_context().new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server.url}/Avatar")
    log_in(page, user_email, PASSWORD)
    expect(main(page).get_by_role("heading", name="Avatar", level=1)).to_be_visible()
    main(page).locator('input[type="file"]').first.set_input_files(
        [{"name": "me.png", "mimeType": "image/png", "buffer": png_bytes("deploy")}]
    )
    expect(main(page).get_by_text("me.png")).to_be_visible()
    calls = len(fake.generate_calls())
    main(page).get_by_role("button", name="Generate").click()
    wait_for(lambda: len(fake.generate_calls()) > calls)
    page.context.close()


def one_run(args, fake: FakeGemini, browser, kill: bool) -> dict[str, float]:
    from viba.store.db import Database

    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        url = f"sqlite:///{data / 'bench.db'}"
        env = app_env(url, data, fake.base_url, VIBA_JOB_HEARTBEAT_SECONDS=str(args.heartbeat))
        db = Database(url)
        db.migrate()
        auth.register(db, "deploy@example.com", "De Ploy", PASSWORD)
        server = StreamlitServer(env, data / "first.log")
        server.wait_healthy()
        figures: dict[str, float] = {}
        try:
            fake.latency = args.latency
            start_job(browser, server, "deploy@example.com", fake)
            time.sleep(1.0)  # the job is 1 s into its Gemini call
            if not kill:
                server.proc.terminate()
                figures["SIGTERM → stops serving (s)"] = wait_for(lambda: not healthy(server.url))
                started = time.monotonic()
                server.proc.wait(timeout=300)
                figures["SIGTERM → process exits (s)"] = 1.0 + (time.monotonic() - started)
                figures["job completed (1 = yes)"] = float(status(db) == "completed")
            else:
                server.proc.kill()
                server.stop()
                again = StreamlitServer(env, data / "second.log")
                again.wait_healthy()
                try:
                    page = browser.new_context().new_page()
                    started = time.monotonic()
                    page.goto(f"{again.url}/")  # the first page view starts the runner
                    wait_for(lambda: status(db) == "completed", timeout=300)
                    figures["restart: first view → job completed (s)"] = time.monotonic() - started
                    page.context.close()
                finally:
                    again.stop()
        finally:
            fake.latency = 0.0
            server.stop()
            db.dispose()
        return figures


def main_() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--heartbeat", type=float, default=2.0)
    args = parser.parse_args()
    fake = FakeGemini().start()
    results: dict[str, list[float]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(args.runs):
                for kill in (False, True):
                    for name, value in one_run(args, fake, browser, kill).items():
                        results.setdefault(name, []).append(value)
            browser.close()
    finally:
        fake.stop()
    print(
        f"Gemini image latency {args.latency} s, heartbeat {args.heartbeat} s "
        f"(stale after {3 * args.heartbeat} s), {args.runs} runs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    for name, values in results.items():
        print(
            f"{name:>42}: min {min(values):.2f}  median {statistics.median(values):.2f}  "
            f"max {max(values):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main_())
