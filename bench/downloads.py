"""Benchmark: the web's peak memory (RSS) while N people download a generation's zip at once.

Each run starts `streamlit run app.py` (SQLite, images as files in a scratch folder) with N
users, each with one finished Derivation whose set is heavy: a 12 MP input photo and four
4K outputs, photo-like JPEGs (about 4.5 + 4 x 7 MB). Each user opens it in History
(headless Chromium), and every page presses "Download set (zip)" at the same moment, by a
timer set in it before. The run waits until every browser holds its whole zip, sampling the
server's RSS every 50 ms. Render starter has 512 MB; issue 25 gives the web 300 MB.

    python bench/downloads.py [--users 10] [--runs 3]

Prints each figure's min / median / max over the runs. Run it on two checkouts to compare
(the figures are the same names).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from common import Sampler, app_env, click_together, photo_jpeg, print_spread, rss_mb, wait_for
from playwright.sync_api import expect, sync_playwright

from viba.accounts import auth
from viba.store.db import Database
from viba.store.image_store import ImageStore, make_backend

from helpers import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, add, log_in, main

PASSWORD = "bench-password-1"
LABEL = "Download set (zip)"


def one_run(args: argparse.Namespace, photo: bytes, outputs: list[bytes]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        url = f"sqlite:///{data / 'bench.db'}"
        env = app_env(url, data, "http://127.0.0.1:9", MALLOC_ARENA_MAX="2")
        db = Database(url)
        db.migrate()
        store = ImageStore(make_backend(env["VIBA_STORAGE"], db, data))
        source = store.save(photo, "image/jpeg").key
        made = [store.save(o, "image/jpeg").key for o in outputs]
        people = []
        for i in range(args.users):
            user = auth.register(db, f"bench{i}@example.com", f"Bench {i}", PASSWORD)
            gid = add(db, user, type="derivation", inputs=[source], outputs=made)
            people.append((user, gid))
        server = StreamlitServer(env, data / "server.log")
        server.wait_healthy()
        sampler = Sampler(server.proc.pid)
        figures: dict[str, float] = {}
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                pages = []
                for user, gid in people:
                    context = browser.new_context(accept_downloads=True)
                    page = context.new_page()
                    page.set_default_timeout(120_000)
                    page.goto(f"{server.url}/History?id={gid}")
                    log_in(page, user.email, PASSWORD)
                    expect(main(page).get_by_text(LABEL)).to_be_visible(timeout=120_000)
                    pages.append(page)
                figures["before the downloads (MB)"] = rss_mb(server.proc.pid)
                zips: list[Path] = []
                lock = threading.Lock()

                def saved(download) -> None:
                    target = data / f"got-{len(zips)}-{time.monotonic_ns()}.zip"
                    download.save_as(target)  # waits until the browser has it all
                    with lock:
                        zips.append(target)

                for page in pages:
                    page.on("download", saved)  # Streamlit's button: this page downloads
                    page.context.on("page", lambda p: p.on("download", saved))  # a link's tab
                # The button or the link, whichever this checkout draws: the same words.
                labels = [main(page).get_by_text(LABEL) for page in pages]
                click_together(labels, lead=2 + 0.2 * len(pages))
                sampler.reset()
                started = time.perf_counter()

                def all_saved() -> bool:
                    for page in pages:  # lets Playwright's events run
                        page.wait_for_timeout(20)
                    return len(zips) == len(pages)

                wait_for(all_saved, timeout=600, step=0)
                figures["click to the last zip saved (s)"] = time.perf_counter() - started - 0.1
                figures[f"peak, {len(pages)} zips at once (MB)"] = sampler.peak()
                for path in zips:
                    with zipfile.ZipFile(path) as zf:
                        assert zf.testzip() is None and len(zf.namelist()) == 1 + 4 + 1
                figures["zip size (MB)"] = os.path.getsize(zips[0]) / 1e6
                time.sleep(1)  # what is still held a moment later
                figures["a second after (MB)"] = rss_mb(server.proc.pid)
                browser.close()
        finally:
            sampler.stop()
            server.stop()
            db.dispose()
        return figures


def main_() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    photo = photo_jpeg(1)
    outputs = [photo_jpeg(10 + i, (4096, 4096)) for i in range(4)]
    print(
        f"# {args.users} users, input {len(photo) / 1e6:.1f} MB, outputs "
        f"{', '.join(f'{len(o) / 1e6:.1f}' for o in outputs)} MB; load {os.getloadavg()[0]:.1f}"
    )
    runs = [one_run(args, photo, outputs) for _ in range(args.runs)]
    print_spread(runs, width=36, decimals=1)
    return 0


if __name__ == "__main__":
    sys.exit(main_())
