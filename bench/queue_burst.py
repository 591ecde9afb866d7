"""Benchmark: the queue and its workers alone, without browsers or Streamlit.

    python bench/queue_burst.py --database-url postgresql://... [--users 1,10,20,40]
        [--workers 1,2,4] [--runs 3]

bench/shapes.py measures the whole app, but there every user is a Chromium on the same 2 cores
as the web and the workers, so its seconds are mostly the browsers'. Here N threads each submit
one Derivation of its own 12 MP photo at once through JobRunner.submit (what a page's Generate
does after its form: header check, the upload stored, the row and its queue job in one
transaction), with the web's VIBA_WORKER=off, and `python -m viba.worker` processes run them;
the fake Gemini answers text in 1 s and images in 2 s (Files API on): ideal 3.0 s; its images
are flat JPEGs of a few KB, or with --photo-outputs photo-like ones as heavy as Gemini's (the
worker decodes each for its thumbnail). Per burst:
first job created -> last done (from the rows), its ratio to one user, jobs not completed,
the submitting process's CPU seconds per Derivation, each worker's peak RSS and CPU seconds.
Prints min / median / max over the runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from common import Sampler, app_env, cpu_s, photo_jpeg, wait_for  # noqa: E402
from sqlalchemy import select  # noqa: E402

from viba.accounts import auth  # noqa: E402
from viba.engine.gemini import GeminiConfig  # noqa: E402
from viba.engine.images import probe_image  # noqa: E402
from viba.jobs.runner import JobRunner  # noqa: E402
from viba.store.db import Database  # noqa: E402
from viba.store.image_store import ImageStore, make_backend  # noqa: E402
from viba.store.models import GenerationHistory  # noqa: E402
from viba.studio import features, generations, prompt_store  # noqa: E402

from fake_gemini import FakeGemini  # noqa: E402
from helpers import PASSWORD, create_pg_database, drop_pg_database  # noqa: E402


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


def burst(runner, db, people, photos, config, in_use) -> tuple[float, int, float, float]:
    """N submits at once; (first created -> last done, not completed, submit CPU seconds,
    first created -> last created)."""
    models = dict(features.catalog().defaults)
    gate = threading.Barrier(len(people))
    ids: list[uuid.UUID] = []
    lock = threading.Lock()

    def one(person, photo: bytes, n: int) -> None:
        image = probe_image(photo, f"photo{n}.jpg")
        gate.wait()
        job = runner.submit(person.id, "derivation", [image], {}, models, in_use, config)
        with lock:
            ids.append(job)

    cpu0 = time.process_time()
    threads = [threading.Thread(target=one, args=(p, photos[i], i)) for i, p in enumerate(people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submit_cpu = time.process_time() - cpu0

    def done() -> bool:
        with db.session() as s:
            statuses = s.scalars(
                select(GenerationHistory.status).where(GenerationHistory.id.in_(ids))
            ).all()
        return all(st not in generations.UNFINISHED for st in statuses)

    wait_for(done, timeout=900, step=0.05)
    with db.session() as s:
        rows = s.execute(
            select(
                GenerationHistory.created_at, GenerationHistory.updated_at, GenerationHistory.status
            ).where(GenerationHistory.id.in_(ids))
        ).all()
    seconds = (max(r.updated_at for r in rows) - min(r.created_at for r in rows)).total_seconds()
    spread = (max(r.created_at for r in rows) - min(r.created_at for r in rows)).total_seconds()
    return seconds, sum(r.status != "completed" for r in rows), submit_cpu, spread


def run_shape(admin_url: str, fake: FakeGemini, workers: int, users, photos) -> list[dict]:
    scratch = Path(tempfile.mkdtemp())
    url = create_pg_database(admin_url)
    db = Database(url)
    db.migrate()
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = app_env(
        url,
        scratch,
        fake.base_url,
        VIBA_STORAGE="db",
        MALLOC_ARENA_MAX="2",
        MALLOC_MMAP_THRESHOLD_="1048576",
        VIBA_LOG_FORMAT="json",
        VIBA_QUEUE=queue,
    )
    people = [
        auth.register(db, f"queue{i}@example.com", f"Queue {i}", PASSWORD)
        for i in range(max(users))
    ]
    store = ImageStore(make_backend("db", db, scratch))
    runner = JobRunner(db, store, work=False, queue=queue, per_user=6)
    config = GeminiConfig(
        api_key="bench-key-0123456789", base_url=fake.base_url, api_version="v1beta"
    )
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
    procs = []
    results = []
    try:
        procs = [_worker(env, scratch / f"worker{i}.log") for i in range(workers)]
        # One job first, not measured: each worker's first job imports the SDK and opens its
        # connections (the web's runner warms up the same way a moment after it starts).
        burst(runner, db, people[:workers], photos, config, in_use)
        one = None
        for n in users:
            samplers = [Sampler(p.pid) for p in procs]
            for s in samplers:
                s.reset()
            cpu0 = [cpu_s(p.pid) for p in procs]
            seconds, lost, submit_cpu, spread = burst(
                runner, db, people[:n], photos, config, in_use
            )
            one = one if one is not None else seconds
            results.append(
                {
                    "workers": workers,
                    "users": n,
                    "seconds": seconds,
                    "ratio": seconds / one,
                    "lost": lost,
                    "submit_cpu": submit_cpu / n,
                    "spread": spread,
                    "worker_mb": max(s.peak() for s in samplers),
                    "worker_cpu": sum(cpu_s(p.pid) - c for p, c in zip(procs, cpu0)) / n,
                }
            )
            for s in samplers:
                s.stop()
            print(_line([results[-1]]), flush=True)
    finally:
        runner.shutdown()
        for proc in procs:
            proc.terminate()
            proc.wait(60)
        db.dispose()
        drop_pg_database(url)
    return results


def _spread(values) -> str:
    values = sorted(values)
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{values[0]:.2f} / {statistics.median(values):.2f} / {values[-1]:.2f}"


HEADER = (
    "| workers | users | first job created -> last done (s) | x one user | not completed "
    "| first -> last created (s) | submit CPU-s per Derivation "
    "| workers' peak RSS (MB, the largest) | workers' CPU-s per Derivation |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def _line(runs: list[dict]) -> str:
    r = runs[0]
    return (
        f"| {r['workers']} | {r['users']} | {_spread(x['seconds'] for x in runs)} | "
        f"{_spread(x['ratio'] for x in runs)} | {sum(x['lost'] for x in runs)} | "
        f"{_spread(x['spread'] for x in runs)} | {_spread(x['submit_cpu'] for x in runs)} | "
        f"{_spread(x['worker_mb'] for x in runs)} | "
        f"{_spread(x['worker_cpu'] for x in runs)} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="PostgreSQL: a fresh database")
    parser.add_argument("--users", default="1,10,20,40")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--photo-outputs",
        action="store_true",
        help="the fake answers photo-like JPEGs (~0.5 MB at 1K), not flat ones of a few KB",
    )
    args = parser.parse_args()
    users = tuple(int(n) for n in args.users.split(","))
    fake = FakeGemini().start()
    fake.latency, fake.image_latency = 1.0, 2.0
    fake.photo_outputs = args.photo_outputs
    base = [photo_jpeg(i) for i in range(4)]
    # Each user's own bytes (a few after the end marker: still a whole JPEG).
    photos = [base[i % 4] + uuid.uuid4().bytes for i in range(max(users))]
    results: list[dict] = []
    print(HEADER, flush=True)
    for _ in range(args.runs):
        for workers in (int(n) for n in args.workers.split(",")):
            results += run_shape(args.database_url, fake, workers, users, photos)
    fake.stop()
    print(f"\n{args.runs} runs; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(HEADER)
    for key in sorted({(r["workers"], r["users"]) for r in results}):
        print(_line([r for r in results if (r["workers"], r["users"]) == key]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
