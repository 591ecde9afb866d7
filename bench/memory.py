"""Benchmark: peak memory (RSS) of a real `streamlit run` server under hostile and heavy uploads.

Each run starts the app against the fake Gemini (SQLite and image files in a scratch folder),
logs N browser users in (headless Chromium), then
  1. three users upload a 10 KB PNG of 9400 x 9400 pixels (a decompression bomb) at once, and
  2. N users each start a Derivation of a 12 MP photo at once, until every job is done,
  3. one user queues a Derivation batch of --batch 12 MP photos, until every job is queued,
sampling the server's RSS every 50 ms. Goal (issue 14): peak <= 400 MB (Render starter: 512 MB).

    python bench/memory.py [--users 10] [--runs 3] [--latency 1.0] [--batch 20]

Prints each figure's min / median / max over the runs, with the machine's load average.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from common import Sampler, app_env, photo_jpeg, print_spread, rss_mb
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from viba.accounts import auth

from fake_gemini import FakeGemini
from helpers import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, log_in, main

PASSWORD = "bench-password-1"


def bomb_png() -> bytes:
    out = io.BytesIO()
    Image.new("1", (9400, 9400)).save(out, format="PNG")
    return out.getvalue()


def one_run(args: argparse.Namespace, fake: FakeGemini, photos: list[bytes], bomb: bytes) -> dict:
    from viba.store.db import Database

    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        url = f"sqlite:///{data / 'bench.db'}"
        arenas = {"MALLOC_ARENA_MAX": str(args.arenas)} if args.arenas else {}
        env = app_env(url, data, fake.base_url, **arenas)
        db = Database(url)
        db.migrate()
        users = [
            auth.register(db, f"bench{i}@example.com", f"Bench {i}", PASSWORD)
            for i in range(args.users)
        ]
        server = StreamlitServer(env, data / "server.log")
        server.wait_healthy()
        sampler = Sampler(server.proc.pid)
        figures: dict[str, float] = {}
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                pages = []
                for user in users:
                    page = browser.new_context().new_page()
                    page.set_default_timeout(60_000)
                    page.goto(f"{server.url}/Derivation")
                    log_in(page, user.email, PASSWORD)
                    expect(main(page).get_by_role("heading", name="Derivation")).to_be_visible()
                    pages.append(page)
                figures["after logins (MB)"] = rss_mb(server.proc.pid)

                def upload_then_generate(chosen, files) -> None:
                    """Files into every chosen page's uploader, then Generate on each in quick
                    succession (Playwright's sync API drives one page at a time)."""
                    for page, (name, payload, mime) in zip(chosen, files, strict=True):
                        main(page).locator('input[type="file"]').first.set_input_files(
                            [{"name": name, "mimeType": mime, "buffer": payload}]
                        )
                    for page, (name, _, _) in zip(chosen, files, strict=True):
                        expect(main(page).get_by_text(name)).to_be_visible()
                    for page in chosen:
                        main(page).get_by_role("button", name="Generate").click()

                sampler.reset()
                upload_then_generate(pages[:3], [("bomb.png", bomb, "image/png")] * 3)
                for page in pages[:3]:
                    expect(main(page).get_by_text("megapixels")).to_be_visible()
                figures["peak, 3 bombs at once (MB)"] = sampler.peak()

                fake.latency = args.latency
                sampler.reset()
                started = time.perf_counter()
                files = [
                    (f"photo{i}.jpg", photos[i % len(photos)], "image/jpeg")
                    for i in range(len(pages))
                ]
                upload_then_generate(pages, files)
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and done_jobs(db) < args.users:
                    time.sleep(0.2)
                assert done_jobs(db) == args.users, "not every derivation finished"
                figures[f"peak, {args.users} derivations of 12 MP (MB)"] = sampler.peak()
                figures[f"{args.users} derivations, upload to done (s)"] = (
                    time.perf_counter() - started
                )
                fake.latency = 0.0
                figures["after the burst (MB)"] = rss_mb(server.proc.pid)

                fake.latency = args.latency
                page, before = pages[0], all_jobs(db)
                names = [f"batch{i}.jpg" for i in range(args.batch)]
                for i, name in enumerate(names):  # from files: Playwright takes 50 MB of buffers
                    (data / name).write_bytes(photos[i % len(photos)])
                main(page).locator('input[type="file"]').first.set_input_files(
                    [data / name for name in names]
                )
                expect(main(page).get_by_text(names[0])).to_be_visible()
                sampler.reset()
                main(page).get_by_role("button", name="Generate").click()
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and all_jobs(db) < before + args.batch:
                    time.sleep(0.05)
                assert all_jobs(db) == before + args.batch, "not every photo of the batch queued"
                figures[f"peak, a batch of {args.batch} photos queued (MB)"] = sampler.peak()
                fake.latency = 0.0
                browser.close()
        finally:
            sampler.stop()
            server.stop()
            db.dispose()
        return figures


def done_jobs(db) -> int:
    from sqlalchemy import func, select

    from viba.store.models import GenerationHistory

    with db.session() as s:
        return int(
            s.scalar(
                select(func.count()).where(GenerationHistory.status.in_(("completed", "failed")))
            )
            or 0
        )


def all_jobs(db) -> int:
    from sqlalchemy import func, select

    from viba.store.models import GenerationHistory

    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(GenerationHistory)) or 0)


def main_() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per Gemini call")
    parser.add_argument("--batch", type=int, default=20, help="photos in step 3's batch")
    parser.add_argument(
        "--arenas",
        type=int,
        default=0,
        help="MALLOC_ARENA_MAX for the server (0: the start command's own)",
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"needs Debian's chromium at {CHROMIUM}")
        return 2
    fake = FakeGemini().start()
    photos = [photo_jpeg(i) for i in range(3)]
    bomb = bomb_png()
    print(
        f"bomb: {len(bomb)} bytes; photos: " + ", ".join(f"{len(p) / 1e6:.1f} MB" for p in photos)
    )
    runs = []
    for n in range(args.runs):
        runs.append(one_run(args, fake, photos, bomb))
        print(
            f"run {n + 1}: " + "; ".join(f"{k} {v:.0f}" for k, v in runs[-1].items()),
            f"(load average {os.getloadavg()[0]:.2f})",
        )
    fake.stop()
    print(
        f"\n{args.runs} runs, {args.users} users, load average now "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print_spread(runs, 44, 1)
    peak = max(max(r[k] for k in r if k.startswith("peak")) for r in runs)
    print(f"goal: peak <= 400 MB -> {'OK' if peak <= 400 else 'MISSED'} (worst {peak:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main_())
