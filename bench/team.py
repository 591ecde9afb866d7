"""Benchmark: a team at once through the job runner (database, image store, scheduler, real SDK
against the fake Gemini with a fixed latency per call).

For each run: 1 user's Derivation alone, N users' Derivations started together, and one user's
batch of B images; prints each figure's min / median / max and the ratios to one Derivation.
Targets (issue 13): N=10 at once <= 1.2x one, 20 at once <= 1.5x, a batch of 5 <= 1.3x, and no
failed submit or job.

    python bench/team.py [--users 10] [--batch 5] [--runs 3] [--latency 1.0]
        [--workers 32 --per-user 6] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from PIL import Image

from viba.accounts import auth

# noqa: E402
from viba.engine.gemini import GeminiConfig
from viba.engine.images import prepare_image
from viba.jobs.runner import JobRunner
from viba.store.db import Database
from viba.store.image_store import ImageStore, make_backend
from viba.studio import (
    features,
    prompt_store,
)

from fake_gemini import FakeGemini


def photo(seed: int):
    """A 2 MP photo-like upload (a tinted gradient with grain), prepared as the studio does."""
    size = (1200, 1600)
    base = Image.linear_gradient("L").resize(size).convert("RGB")
    tint = Image.new("RGB", size, (40 + seed % 200, 120, 90))
    grain = Image.effect_noise(size, 30).convert("RGB")
    out = io.BytesIO()
    Image.blend(Image.blend(base, tint, 0.4), grain, 0.3).save(out, format="JPEG", quality=92)
    return prepare_image(out.getvalue(), f"p{seed}.jpg")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per Gemini call")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--per-user", type=int, default=6)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp()
    db = Database(args.database_url or f"sqlite:///{scratch}/team.db")
    db.migrate()
    store = ImageStore(make_backend("db", db, Path(scratch)))
    fake = FakeGemini().start()
    config = GeminiConfig(
        api_key="bench-key-0123456789", base_url=fake.base_url, timeout_s=60, deadline_s=120
    )
    runner = JobRunner(db, store, workers=args.workers, per_user=args.per_user, heartbeat_s=30)
    people = [
        auth.register(db, f"team-{uuid.uuid4().hex[:8]}@example.com", "T", "team-pass-1")
        for _ in range(args.users)
    ]
    models = features.catalog().defaults
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
    failures = [0]

    def derive_together(submits: list[tuple[object, object]]) -> float:
        """Submit them all at once (a thread each), then wait for every job; seconds."""
        ids: list = []
        barrier = threading.Barrier(len(submits))

        def submit(user, image) -> None:
            barrier.wait()
            try:
                job_id = runner.submit(user.id, "derivation", [image], {}, models, in_use, config)
                ids.append((job_id, user.id))
            except Exception:  # noqa: BLE001 - counted and reported
                failures[0] += 1

        started = time.perf_counter()
        threads = [threading.Thread(target=submit, args=s) for s in submits]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for job_id, user_id in ids:
            runner.wait(job_id, timeout=300)
            if runner.get(job_id, user_id).status != "completed":
                failures[0] += 1
        return time.perf_counter() - started

    derive_together([(people[0], photo(0))])  # warm the connections
    fake.latency = args.latency
    figures: dict[str, list[float]] = {}
    for run in range(args.runs):
        one = derive_together([(people[0], photo(run))])
        team = derive_together([(u, photo(i + 100 * run)) for i, u in enumerate(people)])
        batch = derive_together([(people[1], photo(i + 1000 * run)) for i in range(args.batch)])
        for name, value in (
            ("1 derivation (s)", one),
            (f"{args.users} users at once (s)", team),
            (f"1 user, batch of {args.batch} (s)", batch),
            (f"{args.users} users / 1 (ratio)", team / one),
            (f"batch of {args.batch} / 1 (ratio)", batch / one),
        ):
            figures.setdefault(name, []).append(value)
    runner.shutdown()
    fake.stop()
    db.dispose()
    print(
        f"{args.runs} runs, latency {args.latency} s per call, workers {args.workers}, "
        f"per user {args.per_user}, load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    for name, values in figures.items():
        print(
            f"{name:<34} min {min(values):7.2f}  median {statistics.median(values):7.2f}  "
            f"max {max(values):7.2f}"
        )
    print(f"failed submits or jobs: {failures[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
