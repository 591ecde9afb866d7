"""Benchmark: the deploy shapes under a team at once (issue 25's table), run by
`python bench/load.py --shapes --database-url postgresql://...`.

For each shape, a real `streamlit run app.py` on a fresh PostgreSQL database (images in it,
render.yaml's MALLOC_ARENA_MAX=2 and MALLOC_MMAP_THRESHOLD_=1 MB, production log settings), and
for shape (b) `python -m viba.worker` processes beside it (the web with VIBA_WORKER=off). Then
1, 10, 20 and 40 Chromium users, each logged in on Derivation with a 12 MP phone photo picked,
press Generate at once (a timer armed in each page clicks it at the same moment); the fake
Gemini answers text in 1 s and images in 2 s (Files API on): ideal 3.0 s. Per burst: first job
created -> last done (from the rows), its ratio to one user, failed or unfinished jobs, and
each process's peak RSS and CPU seconds during the burst (CPU per Derivation for the web).

Each burst is pressed twice by the same browsers: "first", where most of them make their first
Derivation since they opened the app, and "again". A browser fetches the scripts of the
elements a job card shows (progress bar, toast, image list, download button: 15 files) the first
time it shows them, then keeps them (Streamlit serves them as immutable); at 20 users those
fetches were a quarter of the web's CPU in the first burst (py-spy), a cost a team's browsers
pay once, not per Derivation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    Sampler,
    app_env,
    browser_cpu,
    click_together,
    cpu_s,
    finished_derivations,
    healthy,
    rss_mb,
    wait_for,
)
from playwright.sync_api import Page, expect

from viba.accounts import auth

from helpers import (
    PASSWORD,
    ROOT,
    StreamlitServer,
    create_pg_database,
    drop_pg_database,
    log_in,
    main,
)

USERS = (1, 10, 20, 40)
# (label, worker processes; 0: the web runs its own worker)
SHAPES = (("(a) web + in-process worker", 0), ("(b) web + 1 worker", 1), ("(b) web + 2 workers", 2))
WIDE = ("(b) web + 4 workers", 4)  # 40 users only
ROUNDS = ("first", "again")  # each burst twice, by the same browsers (the module says why)


@dataclass
class Burst:
    shape: str
    users: int
    seconds: float
    ratio: float
    lost: int
    web_mb: float
    web_cpu: float
    workers_mb: list[float] = field(default_factory=list)
    workers_cpu: list[float] = field(default_factory=list)
    submits: float = 0.0  # first job created -> last job created (the clicks and submits)
    job: float = 0.0  # median of each job's created -> done
    clicks: float = 0.0  # the moment every page clicks -> the last click (the browsers, starved)
    driver_cpu: float = 0.0  # this process's CPU seconds: Playwright and the fake Gemini
    browsers_cpu: float = 0.0  # the Chromium and Playwright driver processes' CPU seconds
    web_picked_mb: float = 0.0  # the web's RSS before the clicks, each user's photo picked
    round: str = "first"  # "first": the browsers as they came; "again": the same once more


def _shows(page: Page, keys: list[str]) -> bool:
    """The page shows each of these images, loaded (by their content hash in the address: a
    card's place in the list, and how many cards the page keeps, do not matter)."""
    digests = [key.rsplit("/", 1)[-1].split(".")[0] for key in keys]
    return bool(
        page.evaluate(
            "(hashes) => hashes.every((h) => Array.from(document.images)"
            ".some((i) => i.src.includes(h) && i.complete && i.naturalWidth > 0))",
            digests,
        )
    )


def _made(db, since: float) -> dict:
    """user id -> the output keys of the job each made since `since`, once every such job
    has ended (else {})."""
    from sqlalchemy import select

    from viba.store.models import GenerationHistory as G
    from viba.studio import generations

    with db.session() as s:
        rows = s.execute(
            select(G.user_id, G.status, G.output_keys).where(G.created_at >= _utc(since - 1))
        ).all()
    if any(r.status in generations.UNFINISHED for r in rows):
        return {}
    return {r.user_id: list(r.output_keys) for r in rows}


def _log_in(page: Page, email: str) -> None:
    """Log in on the page it shows; a click that lands while the page reruns (its cookie
    component arriving) can be dropped: then again."""
    heading = main(page).get_by_role("heading", name="Derivation")
    for _ in range(5):
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)
        log_in(page, email, PASSWORD)
        try:
            expect(heading).to_be_visible(timeout=20_000)
            break
        except AssertionError:
            continue
    expect(heading).to_be_visible()
    # The browser stores the login cookie a moment after the login run: the next page load
    # logs in from it.
    wait_for(lambda: any(c["name"] == "viba_session" for c in page.context.cookies()), 60)


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "viba.worker"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for(lambda: b"worker ready" in log.read_bytes() or proc.poll() is not None, 60)
    if proc.poll() is not None:
        raise RuntimeError(log.read_text(errors="replace")[-2000:])
    return proc


def run_shape(
    browser, fake, photo12: bytes, admin_url: str, label: str, workers: int, users, history=0
):
    from sqlalchemy import select

    from viba.store.db import Database
    from viba.store.image_store import ImageStore, make_backend
    from viba.store.models import GenerationHistory

    scratch = Path(tempfile.mkdtemp())
    url = create_pg_database(admin_url)
    db = Database(url)
    db.migrate()
    people = [
        auth.register(db, f"shape{i}@example.com", f"Shape {i}", PASSWORD)
        for i in range(max(users))
    ]
    if history:
        store = ImageStore(make_backend("db", db, scratch))
        for person in people:
            finished_derivations(db, store, person, history)
    env = app_env(
        url,
        scratch,
        fake.base_url,
        VIBA_STORAGE="db",
        MALLOC_ARENA_MAX="2",
        MALLOC_MMAP_THRESHOLD_="1048576",
        VIBA_LOG_FORMAT="json",
        VIBA_QUEUE=f"bench-{uuid.uuid4().hex[:8]}",
        VIBA_WORKER="off" if workers else "in-process",
    )
    server = StreamlitServer(env, scratch / "server.log")
    procs: list[subprocess.Popen] = []
    pages: list[Page] = []
    results: list[Burst] = []
    try:
        wait_for(lambda: healthy(server.url), timeout=60, step=0.05)
        procs = [_worker(env, scratch / f"worker{i}.log") for i in range(workers)]
        one: dict[str, float] = {}
        for n, round_ in ((n, r) for n in users for r in ROUNDS):
            while len(pages) < n:
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.set_default_timeout(180_000)
                page.goto(f"{server.url}/Derivation")
                _log_in(page, people[len(pages)].email)
                pages.append(page)
            for i, page in enumerate(pages[:n]):
                page.goto(f"{server.url}/Derivation")
                expect(main(page).get_by_role("heading", name="Derivation")).to_be_visible()
                expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)
                name = f"p{n}{round_[0]}-{i}.jpg"  # not a name a card already shows
                main(page).locator('input[type="file"]').first.set_input_files(
                    [{"name": name, "mimeType": "image/jpeg", "buffer": photo12}]
                )
                expect(main(page).get_by_text(name)).to_be_visible(timeout=60_000)
            picked = rss_mb(server.proc.pid)
            pids = [server.proc.pid, *(p.pid for p in procs)]
            samplers = [Sampler(pid) for pid in pids]
            # Every page clicks its Generate at the same moment (else the web's CPU over a long
            # burst of one click after another is not what a Derivation costs it).
            at = click_together(
                [main(page).get_by_role("button", name="Generate") for page in pages[:n]],
                lead=2 + 0.5 * n,
            )
            for s in samplers:
                s.reset()
            cpu0 = [cpu_s(pid) for pid in pids]
            driver0, browsers0 = time.process_time(), browser_cpu()
            since = time.time()
            print(f"# {label}: {n} users press Generate ({round_})", flush=True)
            # Done: each user's job has ended and their page shows its outputs.
            burst = list(zip(pages[:n], people[:n]))

            def shown(b=burst, t0=since) -> bool:
                made = _made(db, t0)
                return len(made) == len(b) and all(_shows(p, made[u.id]) for p, u in b)

            wait_for(shown, timeout=900, step=0.1)
            # the browser side of "submits over": the moment -> the last page's click
            clicks = max(0.0, max(p.evaluate("window.vibaClicked") for p in pages[:n]) / 1000 - at)
            driver = time.process_time() - driver0
            browsers = sum(c - browsers0[p] for p, c in browser_cpu().items() if p in browsers0)
            peaks = [s.peak() for s in samplers]
            cpus = [cpu_s(pid) - c for pid, c in zip(pids, cpu0)]
            for s in samplers:
                s.stop()
            with db.session() as s:
                rows = s.execute(
                    select(
                        GenerationHistory.created_at,
                        GenerationHistory.updated_at,
                        GenerationHistory.status,
                    ).where(GenerationHistory.created_at >= _utc(since - 1))
                ).all()
            seconds = (
                max(r.updated_at for r in rows) - min(r.created_at for r in rows)
            ).total_seconds()
            one.setdefault(round_, seconds)
            created = [r.created_at for r in rows]
            each = sorted((r.updated_at - r.created_at).total_seconds() for r in rows)
            results.append(
                Burst(
                    label,
                    n,
                    seconds,
                    seconds / one[round_],
                    n - sum(r.status == "completed" for r in rows),
                    peaks[0],
                    cpus[0],
                    peaks[1:],
                    cpus[1:],
                    (max(created) - min(created)).total_seconds(),
                    each[len(each) // 2],
                    clicks,
                    driver,
                    browsers,
                    picked,
                    round_,
                )
            )
            print(_line(results[-1]), flush=True)
    finally:
        for page in pages:
            page.context.close()
        server.stop()
        for proc in procs:
            proc.terminate()
            proc.wait(60)
        db.dispose()
        drop_pg_database(url)
    return results


def _utc(ts: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)


HEADER = (
    "| shape | users | burst | first job created -> last done | x one user | lost "
    "| web RSS, photos picked | web peak RSS "
    "| web CPU (per Derivation) | workers' peak RSS | workers' CPU | submits over (clicks) "
    "| one job (median) | bench's own CPU | browsers' CPU |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _line(b: Burst) -> str:
    workers_mb = ", ".join(f"{m:.0f}" for m in b.workers_mb) or "-"
    workers_cpu = ", ".join(f"{c:.1f}" for c in b.workers_cpu) or "-"
    return (
        f"| {b.shape} | {b.users} | {b.round} | {b.seconds:.2f} s | {b.ratio:.2f}x | {b.lost} | "
        f"{b.web_picked_mb:.0f} MB | {b.web_mb:.0f} MB | "
        f"{b.web_cpu:.1f} s ({b.web_cpu / b.users:.3f}) | "
        f"{workers_mb} MB | {workers_cpu} s | {b.submits:.2f} s ({b.clicks:.2f} s) | "
        f"{b.job:.2f} s | {b.driver_cpu:.1f} s | {b.browsers_cpu:.1f} s |"
    )


def table(
    browser,
    fake,
    photo12: bytes,
    admin_url: str,
    users=USERS,
    workers=(0, 1, 2, 4),
    runs=1,
    latency: tuple[float, float] = (1.0, 2.0),
    history: int = 0,
) -> list[Burst]:
    """The table for the shapes with these worker counts (0: shape (a); 4: 40 users only),
    each run `runs` times on a fresh server and database; the fake Gemini answers text and
    images after `latency` seconds (issue 25's 1 and 2; real ones take longer, and waiting
    costs the web too); each user starts with `history` finished Derivations."""
    fake.latency, fake.image_latency = latency
    print(HEADER, flush=True)
    bursts: list[Burst] = []
    for _ in range(runs):
        for label, count in SHAPES:
            if count in workers:
                bursts += run_shape(browser, fake, photo12, admin_url, label, count, users, history)
        if max(users) >= 40 and WIDE[1] in workers:
            bursts += run_shape(
                browser, fake, photo12, admin_url, WIDE[0], WIDE[1], (1, 40), history
            )
    fake.latency, fake.image_latency = 0.0, None
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(HEADER)
    for b in sorted(bursts, key=lambda b: (b.shape, b.users, ROUNDS.index(b.round))):
        print(_line(b))
    return bursts
