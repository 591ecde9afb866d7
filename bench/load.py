"""Benchmark: a whole team at once on a real `streamlit run`, as issue 13's table measures it.

Each run starts the app (and, for the baselines, an empty Streamlit page) on a fresh database,
with the fake Gemini answering text in --text-latency and images in --image-latency seconds
(ideal Derivation: text + image), and drives browser users (Playwright, Debian's chromium)
through login and Derivations of 12 MP phone photos. Prints each figure's min / median / max over
the runs, with the machine's load average.

    python bench/load.py [--users 10] [--runs 3] [--database-url postgresql://...]
    python bench/load.py --shapes --database-url postgresql://...   (bench/shapes.py)

Figures:
- one user: click Generate -> the 4 variants visible in the browser (s), and that minus the
  last Gemini answer (s);
- N users click Generate at once: all variants visible on every page, as a ratio of one user;
  failed jobs;
- the same burst: the server's peak RSS (MB), first job created -> last done (s), server CPU (s);
- a Derivation page load with 20 outputs in "Your latest": bytes to the browser (MB) and the
  time until it is visible with its images, as a ratio of an empty Streamlit page (both in a
  new browser profile, so both fetch Streamlit's own scripts);
- History of a user with 10,000 generations: visible with its thumbnails, ratio of the empty page;
- script runs per page load and per sidebar switch;
- cold start to the first login page, ratio of an empty app's start to its page;
- History open while a job finishes: the row done -> the card says so (s);
- bytes sent to Gemini for one Derivation of a 3 MP photo (MB).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from common import Sampler, app_env, cpu_s, healthy, photo_jpeg, print_spread, wait_for
from playwright.sync_api import Page, expect, sync_playwright

from viba.accounts import auth

from fake_gemini import FakeGemini
from helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    StreamlitServer,
    create_pg_database,
    drop_pg_database,
    free_port,
    log_in,
    main,
)

# Images the app drew, loaded (not the browser-drawn thumbnails of picked uploads).
LOADED = (
    "Array.from(document.images)"
    ".filter(i => !i.dataset.vibaThumb && i.complete && i.naturalWidth > 0).length"
)


def images_loaded(page: Page) -> int:
    return int(page.evaluate(LOADED))


def upload(page: Page, name: str, data: bytes) -> None:
    main(page).locator('input[type="file"]').first.set_input_files(
        [{"name": name, "mimeType": "image/jpeg", "buffer": data}]
    )
    expect(main(page).get_by_text(name)).to_be_visible(timeout=60_000)


def settled(page: Page) -> None:
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)


def bytes_meter(page: Page) -> dict[str, float]:
    """Bytes the browser receives (HTTP bodies and websocket frames), via CDP."""
    seen = {"bytes": 0.0}
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.on(
        "Network.loadingFinished",
        lambda e: seen.update(bytes=seen["bytes"] + e["encodedDataLength"]),
    )

    def frame(e: dict) -> None:
        response = e["response"]
        size = len(response["payloadData"])
        seen["bytes"] += size * 3 / 4 if response.get("opcode") == 2 else size

    cdp.on("Network.webSocketFrameReceived", frame)
    return seen


def page_runs(log: Path, user_id: uuid.UUID) -> int:
    text = log.read_text(errors="replace")
    return sum(
        1 for line in text.splitlines() if f"user_id={user_id}" in line and "page run:" in line
    )


def empty_app(browser, folder: Path) -> dict[str, float]:
    """An empty Streamlit page: its cold start and its page load, the baselines."""
    script = folder / "empty_app.py"
    script.write_text('import streamlit as st\n\nst.title("Empty")\nst.write("Nothing here.")\n')
    import subprocess

    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    page = browser.new_context().new_page()
    try:
        wait_for(lambda: healthy(f"http://127.0.0.1:{port}"), timeout=60, step=0.02)
        page.goto(f"http://127.0.0.1:{port}")
        expect(page.get_by_role("heading", name="Empty")).to_be_visible(timeout=60_000)
        cold = time.perf_counter() - started
        loads, sizes = [], []
        for _ in range(3):  # each in a new browser profile, as the app's page loads below
            fresh = browser.new_context()
            empty = fresh.new_page()
            meter = bytes_meter(empty)
            t = time.perf_counter()
            empty.goto(f"http://127.0.0.1:{port}")
            expect(empty.get_by_role("heading", name="Empty")).to_be_visible(timeout=60_000)
            loads.append(time.perf_counter() - t)
            expect(empty.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)
            sizes.append(meter["bytes"] / 1e6)
            fresh.close()
        return {"cold": cold, "load": statistics.median(loads), "mb": statistics.median(sizes)}
    finally:
        page.context.close()
        proc.terminate()
        proc.wait(timeout=30)


def seed_outputs(db, store, user, derivations: int, history_rows: int) -> None:
    """For the page-load figures: `derivations` finished Derivations with four ~2 MB outputs,
    and `history_rows` more generations for History (their thumbnails real)."""
    from sqlalchemy import insert

    from viba.store.models import GenerationHistory, utcnow

    outputs = [store.save(photo_jpeg(i, (1536, 2048), 97), "image/jpeg").key for i in range(20)]
    now = utcnow()
    rows = []
    for i in range(derivations):
        rows.append(
            {
                "id": uuid.uuid4(),
                "user_id": user.id,
                "type": "derivation",
                "status": "completed",
                "input_params": {"input_names": [f"photo{i}.jpg"], "options": {}, "models": {}},
                "input_keys": [],
                "output_keys": outputs[4 * i : 4 * i + 4],
                "details": {
                    "outputs": {
                        k: {"variant": n + 1} for n, k in enumerate(outputs[4 * i : 4 * i + 4])
                    }
                },
                "created_at": now - timedelta(minutes=i),
                "updated_at": now - timedelta(minutes=i),
            }
        )
    rng = random.Random(13)
    for i in range(history_rows):
        when = now - timedelta(hours=1 + i)
        rows.append(
            {
                "id": uuid.uuid4(),
                "user_id": user.id,
                "type": rng.choice(["avatar", "swap", "try_on"]),
                "status": "completed",
                "input_params": {"input_names": ["me.jpg"], "options": {}, "models": {}},
                "input_keys": [],
                "output_keys": [outputs[i % 20]],
                "details": {},
                "created_at": when,
                "updated_at": when,
            }
        )
    with db.session() as s:
        for start in range(0, len(rows), 2000):
            s.execute(insert(GenerationHistory), rows[start : start + 2000])


def one_run(args, fake: FakeGemini, browser, photo12: bytes, photo3: bytes) -> dict[str, float]:
    from sqlalchemy import func, select

    from viba.store.db import Database
    from viba.store.image_store import ImageStore, make_backend
    from viba.store.models import GenerationHistory

    figures: dict[str, float] = {}
    scratch = Path(tempfile.mkdtemp())
    url = (
        create_pg_database(args.database_url)
        if args.database_url
        else f"sqlite:///{scratch / 'load.db'}"
    )
    db = Database(url)
    db.migrate()
    people = [
        auth.register(db, f"load{i}@example.com", f"Load {i}", PASSWORD)
        for i in range(args.users + 3)
    ]
    gallery, reader, watcher = people[-3:]
    seed_outputs(db, ImageStore(make_backend("db", db, scratch)), gallery, 5, 0)
    seed_outputs(db, ImageStore(make_backend("db", db, scratch)), reader, 0, 10_000)
    env = app_env(
        url, scratch, fake.base_url, VIBA_STORAGE="db", VIBA_LOG_LEVEL="debug", MALLOC_ARENA_MAX="2"
    )
    baseline = empty_app(browser, scratch)
    started = time.perf_counter()
    server = StreamlitServer(env, scratch / "server.log")
    log = scratch / "server.log"
    first = browser.new_context().new_page()
    try:
        wait_for(lambda: healthy(server.url), timeout=60, step=0.02)
        first.goto(server.url)
        expect(first.get_by_role("heading", name="Log in")).to_be_visible(timeout=60_000)
        figures["cold start, ratio of an empty app"] = (time.perf_counter() - started) / baseline[
            "cold"
        ]
        first.context.close()

        def logged_in(user, path: str) -> Page:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{server.url}/{path}")
            log_in(page, user.email, PASSWORD)
            expect(main(page).get_by_role("heading", level=1)).to_be_visible()
            wait_for(lambda: any(c["name"] == "viba_session" for c in page.context.cookies()))
            settled(page)
            return page

        # --- page loads: Derivation with 20 outputs, History with 10,000 rows -------------------
        page = logged_in(gallery, "Derivation")
        cookies = page.context.cookies()
        loads, sizes = [], []
        for _ in range(3):  # each in a new browser profile: nothing cached
            fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
            fresh.add_cookies(cookies)
            cold_page = fresh.new_page()
            meter = bytes_meter(cold_page)
            t = time.perf_counter()
            cold_page.goto(f"{server.url}/Derivation")
            wait_for(lambda p=cold_page: images_loaded(p) >= 20, timeout=120)
            loads.append(time.perf_counter() - t)
            settled(cold_page)
            sizes.append(meter["bytes"] / 1e6)
            fresh.close()
        figures["Derivation load, 20 outputs: MB to the browser"] = statistics.median(sizes)
        figures["empty Streamlit page: MB to the browser"] = baseline["mb"]
        figures["Derivation load, 20 outputs: visible (s)"] = statistics.median(loads)
        figures["Derivation load, 20 outputs: ratio of an empty page"] = (
            statistics.median(loads) / baseline["load"]
        )
        # script runs: a load and a sidebar switch
        before = page_runs(log, gallery.id)
        page.goto(f"{server.url}/Profile")
        expect(main(page).get_by_role("heading", name="Profile")).to_be_visible()
        settled(page)
        page.get_by_test_id("stSidebar").get_by_role("link", name="History").click()
        expect(main(page).get_by_role("heading", name="History")).to_be_visible()
        settled(page)
        page.get_by_test_id("stSidebar").get_by_role("link", name="Profile").click()  # a fence
        expect(main(page).get_by_role("heading", name="Profile")).to_be_visible()
        settled(page)
        figures["script runs per page load or sidebar switch"] = (
            page_runs(log, gallery.id) - before - 1
        ) / 2
        page.context.close()

        page = logged_in(reader, "History")
        cookies = page.context.cookies()
        page.context.close()
        loads = []
        for _ in range(3):  # each in a new browser profile: nothing cached
            fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
            fresh.add_cookies(cookies)
            cold_page = fresh.new_page()
            t = time.perf_counter()
            cold_page.goto(f"{server.url}/History")
            wait_for(lambda p=cold_page: images_loaded(p) >= 24, timeout=120)
            loads.append(time.perf_counter() - t)
            fresh.close()
        figures["History (10,000 rows) visible (s)"] = statistics.median(loads)
        figures["empty Streamlit page visible (s)"] = baseline["load"]
        figures["History (10,000 rows) visible: ratio of an empty page"] = (
            statistics.median(loads) / baseline["load"]
        )

        # --- one user, then N at once ----------------------------------------------------------
        fake.latency, fake.image_latency = args.text_latency, args.image_latency
        pages = [logged_in(user, "Derivation") for user in people[: args.users]]
        upload(pages[0], "solo.jpg", photo12)
        fake.requests.clear()
        t = time.perf_counter()
        clicked = time.monotonic()
        main(pages[0]).get_by_role("button", name="Generate").click()
        wait_for(lambda: images_loaded(pages[0]) >= 4)
        one = time.perf_counter() - t
        seen = time.monotonic()
        calls = fake.generate_calls()
        last_answer = max(r.at for r in calls) + args.image_latency
        figures["one user: Generate -> 4 variants visible (s)"] = one
        figures["one user: Generate -> first Gemini request (s)"] = (
            min(r.at for r in fake.requests) - clicked
        )
        figures["one user: text answer -> image requests (s)"] = min(
            r.at for r in calls if r.modalities == ["IMAGE"]
        ) - (min(r.at for r in calls) + args.text_latency)
        figures["one user: visible after Gemini's last answer (s)"] = seen - last_answer
        for n, p in enumerate(pages):
            p.goto(f"{server.url}/Derivation")
            expect(main(p).get_by_role("heading", name="Derivation")).to_be_visible()
            settled(p)
            upload(p, f"burst{n}.jpg", photo12)
        counts = [images_loaded(p) for p in pages]
        sampler = Sampler(server.proc.pid)
        sampler.reset()
        cpu0 = cpu_s(server.proc.pid)
        t = time.perf_counter()
        for p in pages:
            main(p).get_by_role("button", name="Generate").click()
        wait_for(lambda: all(images_loaded(p) >= c + 4 for p, c in zip(pages, counts)), timeout=600)
        burst = time.perf_counter() - t
        figures[f"{args.users} users at once: ratio of one user"] = burst / one
        figures[f"{args.users} users at once: peak RSS (MB)"] = sampler.peak()
        sampler.stop()
        figures[f"{args.users} users at once: server CPU (s)"] = cpu_s(server.proc.pid) - cpu0
        with db.session() as s:
            jobs = s.execute(
                select(
                    GenerationHistory.created_at,
                    GenerationHistory.updated_at,
                    GenerationHistory.status,
                )
                .where(GenerationHistory.user_id.in_([u.id for u in people[: args.users]]))
                .order_by(GenerationHistory.created_at)
            ).all()[-args.users :]  # the burst: each user's newest
        figures[f"{args.users} users at once: first job created -> last done (s)"] = (
            max(j.updated_at for j in jobs) - min(j.created_at for j in jobs)
        ).total_seconds()
        figures[f"{args.users} users at once: failed jobs"] = float(
            sum(j.status != "completed" for j in jobs)
        )
        for p in pages:
            p.context.close()

        # --- History while a job finishes ----------------------------------------------------
        page = logged_in(watcher, "Derivation")
        upload(page, "watched.jpg", photo3)
        fake.requests.clear()
        main(page).get_by_role("button", name="Generate").click()
        wait_for(lambda: fake.generate_calls())
        page.get_by_test_id("stSidebar").get_by_role("link", name="History").click()
        unfinished = main(page).get_by_text("Derivation · running")
        expect(unfinished.or_(main(page).get_by_text("Derivation · queued"))).to_be_visible()

        def row_done() -> bool:
            with db.session() as s:
                return (
                    s.scalar(
                        select(func.count()).where(
                            GenerationHistory.user_id == watcher.id,
                            GenerationHistory.status == "completed",
                        )
                    )
                    == 1
                )

        wait_for(row_done, step=0.01)
        t = time.perf_counter()
        expect(main(page).get_by_text("Derivation · done")).to_be_visible(timeout=30_000)
        figures["History open: row done -> card done (s)"] = time.perf_counter() - t
        sent = fake.bytes_sent()
        figures["bytes to Gemini, one Derivation of a 3 MP photo (MB)"] = sent / 1e6
        page.context.close()
    finally:
        fake.latency, fake.image_latency = 0.0, None
        server.stop()
        db.dispose()
        if args.database_url:
            drop_pg_database(url)
    return figures


def main_() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--text-latency", type=float, default=1.0)
    parser.add_argument("--image-latency", type=float, default=2.0)
    parser.add_argument("--database-url", help="a PostgreSQL URL: a fresh database beside it")
    parser.add_argument(
        "--shapes",
        action="store_true",
        help="the deploy shapes' table instead (bench/shapes.py; needs --database-url)",
    )
    parser.add_argument("--shape-users", default="1,10,20,40", help="with --shapes")
    parser.add_argument(
        "--shape-workers", default="0,1,2,4", help="with --shapes: worker processes (0: shape a)"
    )
    parser.add_argument(
        "--shape-history",
        type=int,
        default=0,
        help="with --shapes: finished Derivations each user has before the bursts",
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"needs Debian's chromium at {CHROMIUM}")
        return 2
    fake = FakeGemini().start()
    photo12 = photo_jpeg(1)
    if args.shapes:
        if not args.database_url:
            print("--shapes needs --database-url (the workers share PostgreSQL's queue)")
            return 2
        import shapes

        users = tuple(int(n) for n in args.shape_users.split(","))
        workers = tuple(int(n) for n in args.shape_workers.split(","))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            shapes.table(
                browser,
                fake,
                photo12,
                args.database_url,
                users,
                workers,
                max(1, args.runs),
                (args.text_latency, args.image_latency),
                args.shape_history,
            )
            browser.close()
        fake.stop()
        return 0
    photo3 = photo_jpeg(2, (2048, 1536))
    print(f"photos: 12 MP {len(photo12) / 1e6:.1f} MB, 3 MP {len(photo3) / 1e6:.1f} MB")
    runs = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for n in range(args.runs):
            runs.append(one_run(args, fake, browser, photo12, photo3))
            print(f"run {n + 1} done (load average {os.getloadavg()[0]:.2f})", flush=True)
        browser.close()
    fake.stop()
    print(
        f"\n{args.runs} runs, {args.users} users, text {args.text_latency} s + image "
        f"{args.image_latency} s per Derivation, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print_spread(runs, 58, 2)
    return 0


if __name__ == "__main__":
    sys.exit(main_())
